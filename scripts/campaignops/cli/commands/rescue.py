"""`campaign rescue`: re-run only what failed of a run, into a new output run."""

from __future__ import annotations

import argparse

from ...engine import submit
from ...workspace import open_campaign
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("run", help="the run, STEP/GROUP")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done")


def run(args: argparse.Namespace) -> int:
    ws = open_campaign(root_of(args), args.campaign, dry_run=args.dry_run)
    submit.rescue(ws.ctx, ws.plan, ws.ledger, args.run)
    ws.ctx.say(f"the new attempt skips quanta whose outputs exist in earlier attempts; "
               f"follow it with: campaign status {ws.campaign.name}")
    return 0
