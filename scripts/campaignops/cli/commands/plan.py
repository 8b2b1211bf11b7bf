"""`campaign plan`: list every run (step x group) a campaign implies, as text, markdown or json, each
marked against the ledger: new, unchanged, changed (a change with no effect on a recorded run) or orphaned."""

from __future__ import annotations

import argparse
from functools import partial

from ...planning.changes import compare
from ...planning.render import spec_fingerprint
from ...views.plan_text import MARKDOWN_LIMIT, as_json, as_markdown, as_text
from ...workspace import read_plan_and_ledger
from ..common import root_of

FORMATS = {"text": as_text, "json": as_json}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="text for a terminal, markdown for a PR comment, json for tools (default: text)")
    parser.add_argument("--limit", type=int, default=MARKDOWN_LIMIT,
                        help=f"markdown only: longest output in characters (default {MARKDOWN_LIMIT}); "
                        "longer plans are summarised per step")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    plan, ledger = read_plan_and_ledger(root, args.campaign)
    changes = compare(plan, ledger, partial(spec_fingerprint, plan.campaign))
    if args.format == "markdown":
        print(as_markdown(plan, limit=args.limit, changes=changes), end="")
    else:
        print(FORMATS[args.format](plan, changes), end="")
    return 0
