"""`campaign retry`: bps restart of a failed run, or a resubmission with more memory."""

from __future__ import annotations

import argparse

from .. import submit
from ..workspace import open_campaign, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("run", help="the run, STEP/GROUP (as `campaign status` lists it)")
    parser.add_argument("--memory-multiplier", type=float, default=None, metavar="F",
                        help="resubmit as a new attempt (new output run) with every memory request times F; "
                        "without it, `bps restart` re-runs only the failed jobs in place")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done")


def run(args: argparse.Namespace) -> int:
    ws = open_campaign(root_of(args), args.campaign, dry_run=args.dry_run)
    ledger = submit.retry(ws.ctx, ws.plan, ws.ledger, args.run, args.memory_multiplier)
    ws.ctx.say(f"follow it with: campaign status {ws.campaign.name}")
    del ledger
    return 0
