"""`campaign new`: make campaigns/<name>/campaign.yaml from a template (e.g. this week's ci_hsc)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ...adapters.stacks import published
from ...campaign_spec.load import load_profile
from ...campaign_spec.template import TemplateError, instantiate, profile_of
from ...campaign_spec.validate import CAMPAIGN_FILE
from ...domain.errors import SpecError
from ...domain.stacks import Published, weekly_for
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="template", required=True, metavar="TEMPLATE",
                        help="template name: campaigns/templates/TEMPLATE.yaml")
    parser.add_argument("--stack", default="", metavar="TAG",
                        help="stack tag (default or empty: the newest weekly the template's profile lists in its "
                             "`stacks:`, up to --date's ISO week; without `stacks:`, the weekly of --date's ISO "
                             "week, w_YYYY_WW)")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="the instance's date, for {date} and the default tag (default: today, UTC)")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    day = args.date or dt.datetime.now(dt.UTC).date()
    template = root / "campaigns" / "templates" / f"{args.template}.yaml"
    if not template.is_file():
        known = sorted(p.stem for p in template.parent.glob("*.yaml"))
        print(f"error: no template {template.relative_to(root)}; known: {', '.join(known) or 'none'}",
              file=sys.stderr)
        return 1
    template_text = template.read_text(encoding="utf-8")
    stack = args.stack or _newest_weekly(root, template_text, day)
    try:
        name, text = instantiate(template_text, args.template, stack, day)
    except TemplateError as exc:
        print(f"error: {template.relative_to(root)}: {exc}", file=sys.stderr)
        return 1
    target = root / "campaigns" / name / CAMPAIGN_FILE
    if target.exists():
        # A re-run of the weekly job must not fail nor clobber a campaign already made.
        print(f"campaign {name} already exists ({target.relative_to(root)}): left as it is", file=sys.stderr)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"created {target.relative_to(root)}", file=sys.stderr)
    print(name)
    return 0


def _newest_weekly(root: Path, template_text: str, day: dt.date) -> str:
    """The newest weekly the template's profile lists (said on stderr, with where it came from)."""
    name = profile_of(template_text) or "(none)"
    try:
        stacks = load_profile(name, root).stacks
        found = published(stacks) if stacks is not None else None
    except SpecError as exc:  # the instance's validation names what is wrong with it
        found = Published(f"campaigns/profiles/{name}.yaml", unreadable=str(exc))
    tag, said = weekly_for(day, name, found)
    print(said, file=sys.stderr)
    return tag
