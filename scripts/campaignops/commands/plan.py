"""`campaign plan`: list every run (step x group) a campaign implies, as text, markdown or json."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import ledger as ledger_mod
from ..plan import MARKDOWN_LIMIT, as_json, as_markdown, as_text, make_plan
from ..spec import SpecError, campaign_path, find_root, load_campaign

FORMATS = {"text": as_text, "json": as_json}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="text for a terminal, markdown for a PR comment, json for tools (default: text)")
    parser.add_argument("--limit", type=int, default=MARKDOWN_LIMIT,
                        help=f"markdown only: longest output in characters (default {MARKDOWN_LIMIT}); "
                        "longer plans are summarised per step")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else find_root()
    path = campaign_path(args.campaign, root)
    campaign = load_campaign(path, root)
    try:
        # Query-split steps keep the groups their first apply recorded; the plan never asks the Butler.
        ledger = ledger_mod.load(path.parent, campaign.name)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    plan = make_plan(campaign, frozen=dict(ledger.frozen_groups))
    if args.format == "markdown":
        print(as_markdown(plan, limit=args.limit), end="")
    else:
        print(FORMATS[args.format](plan), end="")
    return 0
