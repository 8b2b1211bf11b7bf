"""`campaign render`: write one BPS submit YAML per run (attempt 1) into a directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import ledger as ledger_mod
from ..grouping import PENDING_QUERY
from ..plan import make_plan
from ..render import render_plan
from ..spec import SpecError, campaign_path, find_root, load_campaign


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("-o", "--output-dir", required=True, type=Path,
                        help="directory for the <step>__<group>.yaml files (created if missing)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else find_root()
    path = campaign_path(args.campaign, root)
    campaign = load_campaign(path, root)
    try:
        ledger = ledger_mod.load(path.parent, campaign.name)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    plan = make_plan(campaign, frozen=dict(ledger.frozen_groups))
    written = render_plan(plan, args.output_dir, root=root)
    for p in written:
        print(p)
    pending = sorted({r.step for r in plan.runs if r.group == PENDING_QUERY})
    print(f"{len(written)} submit config(s) written to {args.output_dir}")
    if pending:
        print(f"not rendered: step(s) {', '.join(pending)} get their groups from a Butler query "
              "at the first `campaign apply`")
    return 0
