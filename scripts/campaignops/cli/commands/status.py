"""`campaign status`: refresh active runs, record them, submit steps whose prerequisites are now met."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ...domain.states import RunState
from ...engine import observe, submit
from ...planning.advance import Decision, decide
from ...views import status_page, summary
from ...workspace import Workspace, open_campaign
from ..common import campaign_names, root_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign names (default: all)")
    parser.add_argument("--all", action="store_true", help="every campaign under campaigns/")
    parser.add_argument("--no-advance", action="store_true",
                        help="only observe: do not submit steps whose prerequisites are met")
    parser.add_argument("--tasks", action="store_true", help="also print the per-task table of every run")
    parser.add_argument("--watch", type=float, default=0, metavar="SECONDS",
                        help="repeat every SECONDS until no run is active (live progress)")
    parser.add_argument("--no-pages", action="store_true", help="do not rewrite STATUS.md pages")
    parser.add_argument("--workdir", default=None, help="launch directories (default $CAMPAIGNOPS_WORKDIR or <root>/.work)")


def _active(ws: Workspace) -> bool:
    return any(r.current is not None and not r.current.state.finished for r in ws.ledger.runs)


def status_once(ws: Workspace, advance: bool, say: Callable[[str], None] = print) -> list[observe.Change]:
    ws.ledger, changes = observe.refresh(ws.ctx, ws.ledger)
    for change in changes:
        say(f"  {ws.campaign.name}: {change}")
    decisions: list[Decision]
    if advance:
        ws.ledger, decisions = submit.apply(ws.ctx, ws.plan, ws.ledger)
    else:
        decisions = decide(ws.plan, ws.ledger)
    say(summary.step_table(ws.plan, ws.ledger, decisions))
    for note in summary.waiting_notes(decisions):
        say(f"  {note}")
    return changes


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    names = campaign_names(root, args.campaigns, args.all)
    workdir = Path(args.workdir) if args.workdir else None
    spaces = [open_campaign(root, n, workdir=workdir) for n in names]
    while True:
        for ws in spaces:
            print(f"== {ws.campaign.name} ({ws.campaign.profile.site}, {ws.campaign.profile.name})")
            status_once(ws, advance=not args.no_advance)
            if args.tasks:
                print(summary.run_table(ws.ledger))
                print(summary.task_table(ws.ledger))
            fails = summary.failures(ws.ledger, ws.campaign.name)
            if fails:
                print(fails)
        if not args.no_pages:
            _write_pages(root)
        if not args.watch or not any(_active(ws) for ws in spaces):
            break
        time.sleep(args.watch)
    unknown = any(r.state == RunState.UNKNOWN for ws in spaces for r in ws.ledger.runs)
    if unknown:
        print("note: some runs are UNKNOWN (the WMS could not be asked); they are re-checked next time")
    return 0


def _write_pages(root: Path) -> None:
    for path in status_page.write_pages(root, datetime.now(UTC)):
        print(f"  wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
