"""`campaign retry`: bps restart of a failed run, a resubmission with more memory, or a rescue."""

from __future__ import annotations

import argparse

from ...domain.actions import LAUNCHING
from ...engine import submit
from ...workspace import open_campaign
from ..common import add_site_argument, operator, root_of, scope


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("run", help="the run, STEP/GROUP (as `campaign status`, STATUS.md and its issue name it)")
    parser.add_argument("--memory-multiplier", type=float, default=None, metavar="F",
                        help="resubmit as a new attempt (new output run) with every memory request times F; "
                        "without it, `bps restart` re-runs only the failed jobs in place")
    parser.add_argument("--action", choices=LAUNCHING, default=None,
                        help="say what to do explicitly (the retry workflow does): retry = bps restart, "
                        "more-memory = new attempt with --memory-multiplier (default 2), rescue = as "
                        "`campaign rescue`. Default: more-memory when --memory-multiplier is given, else retry")
    parser.add_argument("--reason", default="", help="why (recorded in the ledger's control log, as `campaign control` "
                        "records every operator action; shown in the run's history)")
    parser.add_argument("--by", default=None, help="who (default: $GITHUB_ACTOR on a runner, else git's user.name)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done")
    add_site_argument(parser)


def run(args: argparse.Namespace) -> int:
    action = args.action or ("more-memory" if args.memory_multiplier is not None else "retry")
    root = root_of(args)
    ws = open_campaign(root, args.campaign, dry_run=args.dry_run, scope=scope(args))
    asked = {"by": operator(args, root), "reason": getattr(args, "reason", "")}
    if action == "rescue":
        submit.rescue(ws.ctx, ws.plan, ws.ledger, args.run, **asked)
    elif action == "more-memory":
        submit.retry(ws.ctx, ws.plan, ws.ledger, args.run, args.memory_multiplier or 2.0, **asked)
    else:
        if args.memory_multiplier is not None and args.action == "retry":
            ws.ctx.say("note: --memory-multiplier only applies to --action more-memory; restarting as is")
        submit.retry(ws.ctx, ws.plan, ws.ledger, args.run, None, **asked)
    ws.ctx.say(f"follow it with: campaign status {ws.campaign.name}")
    return 0
