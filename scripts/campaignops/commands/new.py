"""`campaign new`: make campaigns/<name>/campaign.yaml from a template (e.g. this week's ci_hsc)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from ..spec import CAMPAIGN_FILE, find_root, schema

NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,79}$")


class TemplateError(Exception):
    """The template cannot make a campaign; the message says why."""


def weekly_tag(day: dt.date) -> str:
    """The weekly stack tag of the ISO week holding `day`: w_YYYY_WW."""
    year, week, _ = day.isocalendar()
    return f"w_{year}_{week:02d}"


def instance_name(pattern: str, stack: str, day: dt.date) -> str:
    """The instance name from the template's schedule.name_pattern ({stack}, {date} = YYYYMMDD)."""
    try:
        name = pattern.format_map({"stack": stack, "date": day.strftime("%Y%m%d")})
    except (KeyError, IndexError, ValueError) as exc:
        raise TemplateError(f"schedule.name_pattern {pattern!r}: only {{stack}} and {{date}} may be used "
                            f"({exc})") from exc
    if not NAME_RE.match(name):
        raise TemplateError(f"schedule.name_pattern {pattern!r} gives {name!r}, not a valid campaign name "
                            "(lower-case letters, digits, '.', '_', '-'; 3-80 characters)")
    return name


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def instantiate(template_text: str, template_name: str, stack: str, day: dt.date) -> tuple[str, str]:
    """(name, campaign.yaml text) of the template's instance for `stack`: name from the pattern,
    stack.tag replaced, schedule removed (an instance does not recur); comments and layout kept."""
    y = _yaml()
    data: Any = y.load(template_text)
    if not isinstance(data, CommentedMap):  # what the round-trip loader makes of any top-level mapping
        raise TemplateError("the template is not a YAML mapping")
    pattern = (data.get("schedule") or {}).get("name_pattern")
    if not pattern:
        raise TemplateError("the template has no schedule.name_pattern to name its instances")
    name = instance_name(str(pattern), stack, day)
    data["name"] = name
    if not isinstance(data.get("stack"), dict):
        raise TemplateError("the template has no stack: mapping")
    data["stack"]["tag"] = stack
    del data["schedule"]
    data.ca.comment = None  # the template's header describes the template, not this instance
    buf = io.StringIO()
    buf.write(f"# Made by `campaign new --from {template_name} --stack {stack}` on {day.isoformat()};\n"
              f"# edit the template campaigns/templates/{template_name}.yaml for future weeks.\n")
    y.dump(data, buf)
    text = buf.getvalue().rstrip("\n") + "\n"  # removing the last key can take the newline with it
    errors = sorted(jsonschema.Draft202012Validator(schema("campaign")).iter_errors(
        YAML(typ="safe").load(text)), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
        raise TemplateError(f"the instance would not be a valid campaign: {where}: {errors[0].message}")
    return name, text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="template", required=True, metavar="TEMPLATE",
                        help="template name: campaigns/templates/TEMPLATE.yaml")
    parser.add_argument("--stack", default="", metavar="TAG",
                        help="stack tag (default or empty: the weekly of --date's ISO week, w_YYYY_WW)")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="the instance's date, for {date} and the default tag (default: today, UTC)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else find_root()
    day = args.date or dt.datetime.now(dt.UTC).date()
    stack = args.stack or weekly_tag(day)
    template = root / "campaigns" / "templates" / f"{args.template}.yaml"
    if not template.is_file():
        known = sorted(p.stem for p in template.parent.glob("*.yaml"))
        print(f"error: no template {template.relative_to(root)}; known: {', '.join(known) or 'none'}",
              file=sys.stderr)
        return 1
    try:
        name, text = instantiate(template.read_text(encoding="utf-8"), args.template, stack, day)
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
