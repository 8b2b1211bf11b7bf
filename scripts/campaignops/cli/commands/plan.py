"""`campaign plan`: list every run (step x group) a campaign implies, as text, markdown or json."""

from __future__ import annotations

import argparse

from ...views.plan_text import MARKDOWN_LIMIT, as_json, as_markdown, as_text
from ...workspace import read_plan
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
    plan = read_plan(root, args.campaign)
    if args.format == "markdown":
        print(as_markdown(plan, limit=args.limit), end="")
    else:
        print(FORMATS[args.format](plan), end="")
    return 0
