"""`campaign status`: look at the runs (refresh them from the WMS and record them), start nothing.

Looking never launches: a person checking from a laptop clone starts no run. The runner's status job
runs `campaign reconcile` (or `campaign status --advance`), which also submits what became ready.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ...domain.errors import CampaignError
from ...domain.states import RunState
from ...engine import cycle
from ...views import checks as checks_view
from ...views import pages, status_page, summary
from ...workspace import Workspace, open_campaign
from ..common import add_site_argument, campaign_names, root_of, scope, write_pages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--advance", action="store_true",
                        help="also act, as `campaign reconcile` does: launch interrupted submissions and submit "
                        "the runs whose prerequisites are now met (the runner's status job)")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign names (default: all)")
    parser.add_argument("--all", action="store_true", help="every campaign under campaigns/")
    parser.add_argument("--tasks", action="store_true", help="also print the per-task table of every run")
    parser.add_argument("--watch", type=float, default=0, metavar="SECONDS",
                        help="repeat every SECONDS until no run is active (live progress: a campaign is printed "
                        "again only when what it says changed)")
    parser.add_argument("--no-pages", action="store_true", help="do not rewrite STATUS.md pages")
    parser.add_argument("--workdir", default=None,
                        help="launch directories (default $CAMPAIGNOPS_WORKDIR or <root>/.work)")
    add_site_argument(parser)


def status_once(ws: Workspace, advance: bool, say: Callable[[str], None] = print) -> cycle.Cycle:
    """One cycle (engine/cycle.py) — a look, or look + act with `advance` — and what it says of the campaign."""
    done = ws.cycle(act=advance, seen=lambda change: say(f"  {ws.campaign.name}: {change}"))
    for line in done.moved:
        say(f"  {ws.campaign.name}: {line}")
    if ws.campaign.butler_setup:
        say(f"  repository set-up: {status_page.setup_text(ws.ledger)}")
    if ws.ledger.hold is not None:
        say(f"  ON HOLD: {ws.ledger.hold.describe()} (`campaign resume {ws.campaign.name}`)")
    say(summary.step_table(ws.plan, ws.ledger, list(done.decisions)))
    if ws.campaign.all_checks():  # the checks of the output (engine/checks.py evaluates them)
        say(checks_view.campaign_checks(ws.plan, ws.ledger))
    for note in summary.waiting_notes(list(done.decisions), acting=done.acted):
        say(f"  {note}")
    if not done.acted:
        stuck = [r.key for r in ws.ledger.runs if r.state == RunState.SUBMITTING]
        if stuck:
            say(f"  {len(stuck)} run(s) recorded SUBMITTING ({', '.join(stuck[:5])}): the runner's "
                "`campaign reconcile` launches them if bps never started")
    return done


def follow(args: argparse.Namespace, advance: bool) -> int:
    """Open every campaign asked for, one bad campaign not stopping the others; look (or act) on each."""
    root = root_of(args)
    names = campaign_names(root, args.campaigns, args.all)
    workdir = Path(args.workdir) if args.workdir else None
    spaces: list[Workspace] = []
    broken: list[str] = []
    for name in names:
        try:
            ws = open_campaign(root, name, workdir=workdir, strict_groups=False, launches=advance,
                               scope=scope(args))
        except CampaignError as exc:
            broken.append(name)
            print(f"error: {name}: {exc}", file=sys.stderr)
            for problem in exc.problems[:5]:
                print(f"  {problem}", file=sys.stderr)
            continue
        ws.ctx.may_launch = advance
        spaces.append(ws)
    shown: dict[str, str] = {}  # --watch: what each campaign's block said when last printed
    rounds = 0
    while True:
        live = rounds == 0  # the first look prints as it goes; --watch's later ones only what changed
        for ws in spaces:
            where = "" if ws.ctx.scope.everywhere else f"; this job: {ws.ctx.scope.describe()}"
            lines = [f"== {ws.campaign.name} ({ws.campaign.profile.site}, {ws.campaign.profile.name}{where})"]

            def say(text: str, lines: list[str] = lines, live: bool = live) -> None:
                lines.append(text)
                if live:
                    print(text, flush=True)

            if live:
                print(lines[0], flush=True)
            try:
                status_once(ws, advance=advance, say=say)
            except CampaignError as exc:
                if not live:
                    print("\n".join(lines))
                broken.append(ws.campaign.name)
                print(f"error: {ws.campaign.name}: {exc}", file=sys.stderr)
                continue
            if args.tasks:
                say(summary.run_table(ws.campaign, ws.ledger))
                say(summary.task_table(ws.ledger))
            fails = summary.failures(ws.campaign, ws.ledger)
            if fails:
                say(fails)
            block = "\n".join(lines)
            if not live and shown.get(ws.campaign.name) != block:
                # --watch: a campaign is printed again only when what it says changed
                print("\n".join([f"{lines[0]} at {datetime.now(UTC):%H:%M:%S} UTC", *lines[1:]]), flush=True)
            shown[ws.campaign.name] = block
        rounds += 1
        if not args.no_pages:
            write_pages(root, [pages.Held(ws.campaign, ws.ledger, ws.plan) for ws in spaces])
        if not args.watch or not any(cycle.active(ws.ledger) for ws in spaces):
            break
        time.sleep(args.watch)
    seen = {id(w): w for ws in spaces for w in (ws.ctx.wms, *ws.ctx.site_wms.values())}
    for line in filter(None, (w.describe() for w in seen.values())):
        print(line)
    unknown = any(r.state == RunState.UNKNOWN for ws in spaces for r in ws.ledger.runs)
    if unknown:
        print("note: some runs are UNKNOWN (the WMS could not be asked); they are re-checked next time")
    if broken:
        print(f"error: {len(set(broken))} campaign(s) could not be followed: {', '.join(sorted(set(broken)))}; "
              "the others were followed", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    return follow(args, advance=args.advance)

