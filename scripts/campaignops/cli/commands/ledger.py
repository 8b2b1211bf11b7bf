"""`campaign ledger repair|migrate|takeover CAMPAIGN`: the explicit commands for what looks never do to the record.

    campaign ledger repair   CAMPAIGN [--accept-edits] [--apply]   complete a save cut short; accept a hand edit
    campaign ledger migrate  CAMPAIGN [--apply]                    move a single-file ledger.yaml into ledger/
    campaign ledger takeover CAMPAIGN --reason R                   launch the campaign's runs from here from now on

repair and migrate show the change as a diff and write nothing unless `--apply`; every change is recorded
in the campaign's controls log with who (--by) and why (--reason). What cannot be repaired is refused,
naming the file and how to restore it from git.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from ...adapters.lock import lock_campaign, this_runner
from ...campaign_spec.load import campaign_path, load_campaign
from ...domain.clock import utcnow
from ...domain.errors import LedgerError
from ...domain.scope import scope_of
from ...engine.context import workdir_for
from ...engine.ownership import take_over
from ...ledger import store
from ...ledger.records import Control
from ...ledger.repair import Repair, plan_migrate, plan_repair
from ...workspace import open_campaign, sites_of
from ..common import add_site_argument, operator, root_of

ACTIONS = ("repair", "migrate", "takeover")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.epilog = ("repair and migrate print the diff of every file they would write and write nothing without "
                     "--apply. takeover is for a runner that is gone for good (its launch directories with it): "
                     "runs it launched are still followed through the paths the ledger records.")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("action", choices=ACTIONS,
                        help="repair: complete a save cut short (files it never wrote dropped, files it no longer "
                             "needed removed), remove a ledger.yaml the folder already records, accept hand edits "
                             "with --accept-edits; migrate: move a single-file ledger.yaml into ledger/; "
                             "takeover: record this runner and work directory as the one launching the runs")
    parser.add_argument("campaign", help="campaign name")
    parser.add_argument("--apply", action="store_true", help="write the change (repair, migrate); default: show it")
    parser.add_argument("--accept-edits", action="store_true",
                        help="repair: accept ledger files edited by hand (seal removed or not matching) once they "
                             "pass the ledger schema, and seal them")
    parser.add_argument("--reason", default="", help="why (recorded; required by takeover)")
    add_site_argument(parser)
    parser.add_argument("--by", default=None, help="who asked (default: $GITHUB_ACTOR, else git's user.name)")
    parser.add_argument("--workdir", default=None,
                        help="launch directories of this job (default $CAMPAIGNOPS_WORKDIR or <root>/.work)")


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    workdir = Path(args.workdir) if args.workdir else None
    if args.action == "takeover":
        return _takeover(root, args, workdir)
    campaign = load_campaign(campaign_path(args.campaign, root), root)
    assert campaign.path is not None
    campaign_dir = campaign.path.parent
    if args.apply:
        lock_campaign(workdir_for(root, workdir), campaign.name, root=root)
    if args.action == "repair":
        change = plan_repair(campaign_dir, campaign.name, accept_edits=args.accept_edits)
        if change.unwritten:  # a file of the save cut short whose runs were launched: lost, not unwritten
            open_campaign(root, campaign.name, dry_run=True, workdir=workdir, say=lambda _: None,
                          query_groups=False)
    else:
        change = plan_migrate(campaign_dir, campaign.name)
    by = operator(args, root)
    what = "; ".join(change.notes)
    recorded = change.ledger.with_control(Control(utcnow(), by, args.action, "campaign",
                                                  args.reason or f"`campaign ledger {args.action}`: {what}"))
    target = store.files(recorded)
    diff = _diff(campaign_dir, root, target, change)
    if not diff.strip() or (args.action == "repair" and not change.notes):
        print(f"{args.campaign}: nothing to {args.action}: the ledger is whole")
        return 0
    for note in change.notes:
        print(f"  {note}")
    sys.stdout.write(diff)
    if not args.apply:
        print(f"dry run: nothing written; `campaign ledger {args.action} {args.campaign} --apply"
              f"{' --accept-edits' if args.accept_edits else ''} --reason '…'` writes it (then commit it: "
              "`campaign publish`)")
        return 0
    store.save(campaign_dir, recorded, rewrite=True)
    for name in change.removed:
        (campaign_dir / name).unlink(missing_ok=True)
    print(f"{args.campaign}: {args.action} written and recorded in the controls log ({by}); commit it with "
          "`campaign publish`")
    return 0


def _diff(campaign_dir: Path, root: Path, target: dict[str, str], change: Repair) -> str:
    folder = store.ledger_dir(campaign_dir)

    def shown(path: Path) -> str:
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)

    out: list[str] = []
    for name, text in target.items():
        path = folder / name
        try:
            old = store.read_file(path) if path.exists() else ""
        except LedgerError:
            old = path.read_bytes().decode("utf-8", "replace")
        if old != text:
            out += difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                        f"a/{shown(path)}" if old else "/dev/null", f"b/{shown(path)}", n=1)
    for name in change.removed:
        out.append(f"removed: {shown(campaign_dir / name)}\n")
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def _takeover(root: Path, args: argparse.Namespace, workdir: Path | None) -> int:
    if not args.reason.strip():
        print("error: takeover needs --reason (recorded in the controls log: why this runner launches from now on)",
              file=sys.stderr)
        return 2
    scope = scope_of(args.site, os.environ)
    ws = open_campaign(root, args.campaign, workdir=workdir, query_groups=False, launches=False, scope=scope)
    runner = this_runner(ws.ctx.workdir)
    sites = () if scope.everywhere else sites_of(ws.campaign, scope)
    if not scope.everywhere and not sites:
        print(f"error: campaign {args.campaign} has no site {scope.site} (its sites: {', '.join(ws.campaign.sites)})",
              file=sys.stderr)
        return 1
    before = ws.ledger.owner_of(f"site:{sites[0]}") if sites else ws.ledger.owner
    ledger = take_over(ws.ledger, runner, by=operator(args, root), reason=args.reason, now=utcnow(), sites=sites)
    if ledger is ws.ledger:
        print(f"{args.campaign}: its runs are already launched from {runner}")
        return 0
    ws.ctx.save(ledger)
    print(f"{args.campaign}: its runs are launched from {runner} from now on"
          f"{f' (was {before.runner})' if before is not None else ''}; recorded in the controls log. Runs launched "
          "from the other work directory are followed through the launch directories the ledger records; commit "
          "it with `campaign publish`")
    return 0
