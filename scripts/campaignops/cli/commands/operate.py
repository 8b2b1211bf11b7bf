"""Operator controls from the command line, recorded in the ledger with who (--by) and why (--reason).

    campaign cancel   CAMPAIGN TARGET --reason ...   stop runs through their WMS (TARGET: STEP/GROUP, STEP or campaign)
    campaign hold     CAMPAIGN --reason ...          submit nothing new (runs are still followed)
    campaign resume   CAMPAIGN                       end a hold made by `campaign hold`
    campaign skip     CAMPAIGN STEP/GROUP --reason   never run it (or not again); it no longer blocks its step
    campaign accept   CAMPAIGN STEP/GROUP --reason   take an ended run as it is; later steps may proceed
    campaign reopen   CAMPAIGN STEP/GROUP            undo a skip or accept
    campaign resubmit CAMPAIGN STEP/GROUP --reason   a fresh attempt: new output run, config from today's spec
    campaign control confirm CAMPAIGN STEP/GROUP --reason   let a rule's first decision act (confirm-new-rules)
    campaign accept-check CAMPAIGN SCOPE/NAME --reason  take a failed check of the output as it is (e.g. a known
                                                     change of the stack); the steps waiting for it may start

The same controls can be written in the spec and merged by pull request (`hold:` on the campaign,
`skip:` / `accept:` / `supersede:` on a step); then the commit's author is recorded as who.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...engine import controls
from ...workspace import open_campaign
from ..common import operator, root_of, scope

RUN_HELP = "the run, STEP/GROUP (as `campaign status`, STATUS.md and its issue name it)"
NEEDS_RUN = ("skip", "accept", "reopen", "resubmit")


def _command(parser: argparse.ArgumentParser) -> str:
    return parser.prog.split()[-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    command = _command(parser)
    parser.add_argument("campaign", help="campaign name")
    if command == "cancel":
        parser.add_argument("target", help="what to stop: a run STEP/GROUP, a step name, or `campaign` (every run)")
    elif command in NEEDS_RUN:
        parser.add_argument("run", help=RUN_HELP)
    elif command == "accept-check":
        parser.add_argument("check", help="the check, SCOPE/NAME: a step and the check's name (step4/tract-flux), "
                            "or campaign/NAME (as `campaign status`, the campaign page and its issue name it)")
    optional = command in ("resume", "reopen")
    parser.add_argument("--reason", default="", required=not optional,
                        help="why (recorded in the ledger; shown in STATUS.md and issues)"
                        + (" - optional" if optional else ""))
    parser.add_argument("--by", default=None,
                        help="who (default: $GITHUB_ACTOR on a runner, else git's user.name)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")
    parser.add_argument("--workdir", default=None,
                        help="launch directories (default $CAMPAIGNOPS_WORKDIR or <root>/.work)")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    command = args.command
    ws = open_campaign(root, args.campaign, dry_run=args.dry_run,
                       workdir=Path(args.workdir) if args.workdir else None, query_groups=False,
                       launches=command in ("cancel", "resubmit"), scope=scope(args))
    by = operator(args, root)
    ctx, plan, ledger = ws.ctx, ws.plan, ws.ledger
    if command == "cancel":
        controls.cancel(ctx, plan, ledger, args.target, by=by, reason=args.reason)
    elif command == "hold":
        controls.hold(ctx, ledger, by=by, reason=args.reason)
    elif command == "resume":
        controls.resume(ctx, ledger, by=by, reason=args.reason)
    elif command == "accept-check":
        controls.accept_check(ctx, ledger, args.check, by=by, reason=args.reason)
    elif command == "resubmit":
        controls.resubmit(ctx, plan, ledger, args.run, by=by, reason=args.reason)
        ctx.say(f"follow it with: campaign status {ws.campaign.name}")
    elif command == "confirm":
        controls.confirm(ctx, plan, ledger, args.run, by=by, reason=args.reason)
    else:
        controls.settle(ctx, plan, ledger, args.run, command, by=by, reason=args.reason)
    return 0
