"""`campaign render`: write one BPS submit YAML per run (attempt 1) into a directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...planning.render import render_plan
from ...workspace import read_plan
from ..common import root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaign", help="campaign name, its folder, or its campaign.yaml")
    parser.add_argument("-o", "--output-dir", required=True, type=Path,
                        help="directory for the <step>__<group>.yaml files (created if missing)")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    plan = read_plan(root, args.campaign)
    written = render_plan(plan, args.output_dir, root=root)
    for p in written:
        print(p)
    pending = sorted({r.step for r in plan.runs if r.pending})
    print(f"{len(written)} submit config(s) written to {args.output_dir}")
    if pending:
        print(f"not rendered: step(s) {', '.join(pending)} get their groups from a Butler query "
              "at the first `campaign apply`")
    return 0
