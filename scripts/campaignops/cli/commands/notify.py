"""`campaign notify`: open, update and close one failure issue per failing run (GitHub or a folder)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ...adapters.folder_tracker import FolderTracker
from ...adapters.github.client import GitHubClient, token_from_env
from ...adapters.github.tracker import GitHubTracker, state_path_for
from ...domain.errors import CampaignError, ServiceError
from ...engine.notify import open_issue_urls, sync
from ...ledger import store
from ...ports import Tracker
from ...spec import load as spec
from ...views import pages
from ..common import root_of, write_pages


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


def tracker_for(root: Path, repo: str | None, folder: str | None) -> tuple[Tracker, str]:
    """GitHub when a token is set (and no --folder), else a folder; with a sentence saying which."""
    if folder is None and token_from_env():
        repo = repo or os.environ.get("GITHUB_REPOSITORY")
        if not repo:
            raise ServiceError("GITHUB_TOKEN is set but no repository is known: pass --repo OWNER/NAME "
                                 "or set GITHUB_REPOSITORY (Actions sets it)")
        client = GitHubClient()
        workdir = Path(os.environ.get("CAMPAIGNOPS_WORKDIR") or root / ".work")
        trusted = [t.strip() for t in os.environ.get("CAMPAIGNOPS_TRUSTED_LOGINS", "").split(",") if t.strip()]
        tracker = GitHubTracker(client, repo, state_path=state_path_for(workdir, repo), trusted=trusted)
        return tracker, f"issues in {repo} ({client.base_url})"
    directory = Path(folder) if folder else root / ".demo" / "issues"
    why = "" if folder else " (no GITHUB_TOKEN / GH_TOKEN set)"
    return FolderTracker(directory), f"issues as files in {directory}{why}"


def run(args: argparse.Namespace) -> int:
    root = root_of(args)
    if not args.campaigns and not args.all:
        print("error: name the campaigns to notify about, or pass --all", file=sys.stderr)
        return 2
    paths = (spec.all_campaign_paths(root) if args.all
             else [spec.campaign_path(name, root) for name in args.campaigns])
    tracker, where = tracker_for(root, args.repo, args.folder)
    print(f"notify: {where}")
    status = 0
    synced: list[str] = []
    held: list[pages.Held] = []
    for path in paths:
        try:
            campaign = spec.load_campaign(path, root)
            ledger = store.load(path.parent, campaign.name)
        except CampaignError as exc:
            print(f"  skipped {path.parent.name}: {exc}", file=sys.stderr)
            status = 1
            continue
        try:
            actions = sync(campaign, ledger, tracker)
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
    if isinstance(tracker, GitHubTracker):
        try:
            tracker.finish()  # list once more after writing: the next quiet sync costs only 304s
        except ServiceError as exc:
            print(f"  warning: {exc}", file=sys.stderr)
        counts = tracker.client.counts
        print(f"notify: {sum(v for k, v in counts.items() if k != '304')} requests "
              f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
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
