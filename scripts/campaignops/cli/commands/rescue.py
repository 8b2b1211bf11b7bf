"""`campaign rescue`: re-run only what failed of a run, into a new output run."""

from __future__ import annotations

import argparse

from ...engine import submit
from ...workspace import open_campaign
from ..common import add_site_argument, operator, root_of, scope


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("run", help="the run, STEP/GROUP")
    parser.add_argument("--reason", default="", help="why (recorded in the ledger's control log)")
    parser.add_argument("--by", default=None, help="who (default: $GITHUB_ACTOR on a runner, else git's user.name)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done")
    add_site_argument(parser)


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    ws = open_campaign(root, args.campaign, dry_run=args.dry_run, scope=scope(args))
    submit.rescue(ws.ctx, ws.plan, ws.ledger, args.run, by=operator(args, root), reason=args.reason)
    ws.ctx.say(f"the new attempt skips quanta whose outputs exist in earlier attempts; "
               f"follow it with: campaign status {ws.campaign.name}")
    return 0
