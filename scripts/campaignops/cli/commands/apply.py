"""`campaign apply`: submit every ready run the ledger does not hold yet."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...engine import controls, setup_stage, submit, transfers
from ...planning.advance import Verdict
from ...views import summary
from ...workspace import open_campaign
from ..common import root_of, spec_author


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name (campaigns/<name>/campaign.yaml) or path")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be submitted; write nothing, start nothing")
    parser.add_argument("--workdir", default=None,
                        help="where launch directories live (default $CAMPAIGNOPS_WORKDIR or <root>/.work); "
                        "must persist between jobs on a runner")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    ws = open_campaign(root, args.campaign, dry_run=args.dry_run,
                       workdir=Path(args.workdir) if args.workdir else None)
    ctx = ws.ctx
    ctx.say(f"campaign {ws.campaign.name}: {len(ws.plan.runs)} runs planned"
            + (" (dry run: nothing is submitted)" if args.dry_run else ""))
    if not args.dry_run:
        ctx.save(ws.ledger)  # frozen query groups, before anything is submitted
    ledger = controls.from_spec(ctx, ws.plan, ws.ledger, by=spec_author(ws.campaign, root))
    if not ledger.hold:
        ledger = setup_stage.ensure(ctx, ledger)
        ledger, moved = transfers.advance(ctx, ws.plan, ledger, start=not args.dry_run)
        for line in moved:
            ctx.say(f"  {line}")
    _, decisions = submit.apply(ctx, ws.plan, ledger)
    submitted = sum(d.verdict == Verdict.SUBMIT for d in decisions)
    recorded = sum(d.verdict == Verdict.RECORDED for d in decisions)
    if ledger.hold is not None:
        ctx.say(f"  on hold: {ledger.hold.describe()} (`campaign resume {ws.campaign.name}`)")
    for note in summary.waiting_notes(decisions):
        ctx.say(f"  {note}")
    ctx.say(f"{'would submit' if args.dry_run else 'submitted'} {submitted} run(s); "
            f"{recorded} already in the ledger; ledger: {ctx.campaign_dir / 'ledger'}/")
    return 0
