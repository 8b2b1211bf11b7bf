"""`campaign setup CAMPAIGN [--again]`: run the set-up stage that builds the campaign's fresh Butler
repository (butler.setup in the spec). `apply` and `reconcile` run it by themselves before step 1;
this command starts it again after a failure (`--again`), once the cause is fixed and a half-built
repository removed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...domain.errors import SubmitError
from ...engine import setup_stage
from ...workspace import open_campaign
from ..common import root_of, scope


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("--again", action="store_true",
                        help="start a FAILED or interrupted stage again (remove its half-built repository first)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands; run nothing")
    parser.add_argument("--workdir", default=None,
                        help="where the stage's log lives (default $CAMPAIGNOPS_WORKDIR or <root>/.work)")


def run(args: argparse.Namespace) -> int:
    ws = open_campaign(root_of(args), args.campaign, dry_run=args.dry_run,
                       workdir=Path(args.workdir) if args.workdir else None, query_groups=False, scope=scope(args))
    if not ws.campaign.butler_setup:
        raise SubmitError(f"campaign {ws.campaign.name} has no set-up stage (butler.setup in its spec): its "
                          f"repository {ws.campaign.butler_repo} is used as it is")
    if args.dry_run:
        for i, command in enumerate(setup_stage.commands(ws.ctx), 1):
            print(f"{i}. {command}")
        return 0
    if ws.ledger.hold is not None:
        raise SubmitError(f"campaign {ws.campaign.name} is on hold ({ws.ledger.hold.describe()}); "
                          f"`campaign resume {ws.campaign.name}` first")
    ledger = setup_stage.ensure(ws.ctx, ws.ledger, again=args.again)
    if ledger.setup is None or ledger.setup.state != "SUCCEEDED":
        return 1
    return 0
