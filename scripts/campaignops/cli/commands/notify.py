"""`campaign notify`: open, update and close one failure issue per failing run (GitHub or a folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...adapters.lock import lock_campaigns
from ...campaign_spec import load as spec
from ...domain.errors import CampaignError, ServiceError
from ...engine.notify import open_issue_urls, sync
from ...ledger import store
from ...planning.plan import make_plan
from ...ports import Tracker
from ...registry import tracker_for
from ...views import pages
from ..common import add_site_argument, root_of, scope, write_pages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign names (or pass --all)")
    parser.add_argument("--all", action="store_true", help="every campaign under campaigns/")
    parser.add_argument("--repo", default=None, metavar="OWNER/NAME",
                        help="GitHub repository for the issues (default $GITHUB_REPOSITORY)")
    parser.add_argument("--folder", default=None, metavar="DIR",
                        help="write issues as markdown files here instead of GitHub "
                             "(the default when no GITHUB_TOKEN / GH_TOKEN is set: <root>/.demo/issues)")
    parser.add_argument("--pages", action="store_true",
                        help="then rewrite the STATUS.md pages with links to the open failure issues "
                             "(use with `campaign reconcile --no-pages` so the pages are written once)")
    add_site_argument(parser)  # a runner per facility: the issues of what is placed at its site only


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    if not args.campaigns and not args.all:
        print("error: name the campaigns to notify about, or pass --all", file=sys.stderr)
        return 2
    paths = (spec.all_campaign_paths(root) if args.all
             else [spec.campaign_path(name, root) for name in args.campaigns])
    tracker, where = tracker_for(root, args.repo, args.folder)
    job = scope(args)
    # Under the campaigns' locks (as reconcile and publish): two notify jobs never both open a run's issue.
    lock_campaigns(root, [p.parent.name for p in paths])
    print(f"notify: {where}" + ("" if job.everywhere else f" ({job.describe()})"))
    status = 0
    synced: list[str] = []
    held: list[pages.Held] = []
    for path in paths:
        try:
            campaign = spec.load_campaign(path, root)
            ledger = store.load(path.parent, campaign.name)
            plan = (make_plan(campaign, frozen=dict(ledger.frozen_groups), excluded=ledger.excluded_inputs)
                    if campaign.all_checks() else None)
        except CampaignError as exc:
            print(f"  skipped {path.parent.name}: {exc}", file=sys.stderr)
            status = 1
            continue
        try:
            actions = sync(campaign, ledger, tracker, plan=plan, scope=job)
        except ServiceError as exc:  # GitHub or the folder: this campaign fails, the others go on
            print(f"  {campaign.name}: error: {exc}", file=sys.stderr)
            status = 1
            continue
        synced.append(campaign.name)
        held.append(pages.Held(campaign, ledger))
        for action in actions:
            print(f"  {action}")
        if not actions:
            print(f"  {campaign.name}: issues up to date")
    try:
        tracker.finish()  # GitHub lists once more after writing: the next quiet sync costs only 304s
    except ServiceError as exc:
        print(f"  warning: {exc}", file=sys.stderr)
    if tracker.describe():
        print(f"notify: {tracker.describe()}")
    if args.pages:
        _write_pages(root, tracker, held)
    return status


def _write_pages(root: Path, tracker: Tracker, held: list[pages.Held]) -> None:
    urls = {}
    for key, url in open_issue_urls(tracker, [h.campaign.name for h in held]).items():
        path = Path(url)
        # Folder issues: "/path" is relative to the repository root on GitHub, from any page's folder.
        inside = path.is_absolute() and path.is_relative_to(root)
        urls[key] = "/" + path.relative_to(root).as_posix() if inside else url
    write_pages(root, held, open_issues=urls)
