"""`campaign plan`: list every run (step x group) a campaign implies, as text, markdown or json, each
marked against the ledger: new, unchanged, changed (a change with no effect on a recorded run) or orphaned."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from ...adapters.pipeline_graph import write_graph
from ...campaign_spec.load import campaign_path, load_campaign
from ...campaign_spec.rules import is_relative
from ...planning.changes import compare
from ...planning.render import spec_fingerprint
from ...planning.retention import Policy, plan_retention
from ...views.plan_text import MARKDOWN_LIMIT, as_json, as_markdown, as_text
from ...views.retention import as_markdown as retention_markdown
from ...workspace import read_plan_and_ledger
from ..common import root_of
from .retention import read_instances


def retention_section(root: Path, name: str, room: int) -> str:
    """What the campaign's retention policy expires now, for the PR comment ('' without a policy)."""
    instances = read_instances(root)
    if not any(i.campaign.name == name and Policy.of(i.campaign).acts for i in instances):
        return ""
    section = "\n" + retention_markdown(plan_retention(instances, datetime.now(UTC)), [name])
    if len(section) < room:
        return section
    return "\n_Retention: see `campaign retention plan` (too long for this comment)._\n"[:max(0, room - 1)]

FORMATS = {"text": as_text, "json": as_json}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="text for a terminal, markdown for a PR comment, json for tools (default: text)")
    parser.add_argument("--limit", type=int, default=MARKDOWN_LIMIT,
                        help=f"markdown only: longest output in characters (default {MARKDOWN_LIMIT}); "
                        "longer plans are summarised per step")
    parser.add_argument("--write-graph", action="store_true",
                        help="multi-site: first write campaigns/<name>/pipeline-graph.yaml (what each pipeline subset "
                        "reads and writes) from lsst.pipe.base, so the plan and its transfers render where the "
                        "middleware is not installed (the pull-request check); commit the file")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    if args.write_graph:
        campaign = load_campaign(campaign_path(args.campaign, root), root)
        path, changed = write_graph(campaign, root)
        print(f"{'wrote' if changed else 'unchanged:'} {path.relative_to(root) if path.is_relative_to(root) else path}"
              f"{' (commit it)' if changed else ''}", file=sys.stderr)
    plan, ledger = read_plan_and_ledger(root, args.campaign)
    for site in plan.campaign.sites:  # a Butler kept beside the repository (relative path) must be here
        repo = plan.campaign.repo_at(site)
        if is_relative(repo) and not (root / repo).exists():
            print(f"warning: the Butler of site {site}, {repo} (relative to the repository), does not exist here: "
                  f"`campaign validate campaigns/profiles/{site}.yaml` says how to fix it", file=sys.stderr)
    changes = compare(plan, ledger, partial(spec_fingerprint, plan.campaign))
    if args.format == "markdown":
        text = as_markdown(plan, limit=args.limit, changes=changes)
        print(text + retention_section(root, plan.campaign.name, args.limit - len(text)), end="")
    else:
        print(FORMATS[args.format](plan, changes), end="")
    return 0
