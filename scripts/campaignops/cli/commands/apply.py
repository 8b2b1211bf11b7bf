"""`campaign apply`: submit every ready run the ledger does not hold yet."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...planning.advance import Verdict
from ...views import summary
from ...workspace import open_campaign
from ..common import add_site_argument, root_of, scope


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name (campaigns/<name>/campaign.yaml) or path")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be submitted; write nothing, start nothing")
    parser.add_argument("--workdir", default=None,
                        help="where launch directories live (default $CAMPAIGNOPS_WORKDIR or <root>/.work); "
                        "must persist between jobs on a runner")
    add_site_argument(parser)


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    ws = open_campaign(root, args.campaign, dry_run=args.dry_run,
                       workdir=Path(args.workdir) if args.workdir else None, scope=scope(args))
    ctx = ws.ctx
    ctx.say(f"campaign {ws.campaign.name}: {len(ws.plan.runs)} runs planned"
            + (" (dry run: nothing is submitted)" if args.dry_run else ""))
    if not args.dry_run:
        ctx.save(ws.ledger)  # frozen query groups, before anything is submitted
    done = ws.cycle(act=True, seen=lambda change: ctx.say(f"  {change}"))  # the reconcile cycle: look, then act
    for line in done.moved:
        ctx.say(f"  {line}")
    recorded = sum(d.verdict == Verdict.RECORDED for d in done.decisions)
    if ws.ledger.hold is not None:
        ctx.say(f"  on hold: {ws.ledger.hold.describe()} (`campaign resume {ws.campaign.name}`)")
    for note in summary.waiting_notes(list(done.decisions)):
        ctx.say(f"  {note}")
    ctx.say(f"{'would submit' if args.dry_run else 'submitted'} {done.submitted} run(s); "
            f"{recorded} already in the ledger; ledger: {ctx.campaign_dir / 'ledger'}/")
    return 0
