"""`campaign doctor`: is this runner fit to submit and follow PanDA runs? (run by the status job)

Checks the PanDA token (`$PANDA_AUTH_ID_TOKEN`, else `id_token` of `$PANDA_CONFIG_ROOT/.token`) and the
PanDA environment of the profiles the campaigns use; with `--issues`, keeps one issue open while the
token is about to expire (or has), and closes it once the token was refreshed.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from ...adapters.panda.token import read_token
from ...domain.errors import CampaignError
from ...domain.model import Profile
from ...engine.doctor_panda import (
    ISSUE_BEFORE,
    WARN_BEFORE,
    check_token,
    panda_setup_problems,
    sync_token_issue,
)
from ...spec import load as spec
from ..common import root_of
from .notify import tracker_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", default=None,
                        help="the runner's data facility, for messages and the token issue (default "
                             "$CAMPAIGNOPS_SITE, else the site of the PanDA profiles in use)")
    parser.add_argument("--issues", action="store_true",
                        help=f"open one issue when the PanDA token has less than {ISSUE_BEFORE.total_seconds() / 3600:g} h "
                             "left (CAMPAIGNOPS_TOKEN_ISSUE_HOURS), close it once refreshed")
    parser.add_argument("--repo", default=None, metavar="OWNER/NAME",
                        help="GitHub repository for the issue (default $GITHUB_REPOSITORY)")
    parser.add_argument("--folder", default=None, metavar="DIR",
                        help="write the issue as a file here instead of GitHub (default without a GitHub token: "
                             "<root>/.demo/issues)")


def _profiles_in_use(args: argparse.Namespace) -> list[Profile]:
    root = root_of(args)
    found: dict[str, Profile] = {}
    for path in spec.all_campaign_paths(root):
        try:
            campaign = spec.load_campaign(path, root)
        except CampaignError:
            continue  # `campaign validate` reports it; the doctor checks the runner
        found[campaign.profile.name] = campaign.profile
    return list(found.values())


def run(args: argparse.Namespace) -> int:
    profiles = _profiles_in_use(args)
    panda = [p for p in profiles if p.wms == "panda"]
    sites = sorted({p.site for p in panda})
    site = args.site or os.environ.get("CAMPAIGNOPS_SITE") or (sites[0] if len(sites) == 1 else "this")
    status = 0
    for problem in panda_setup_problems(profiles, os.environ):
        print(f"problem: {problem}")
        status = 1
    if not panda:
        print("PanDA: no campaign uses a PanDA profile; nothing to check")
        return status
    now = datetime.now(UTC)
    token = read_token()  # TokenError (a damaged token) is a CampaignError: reported by main, exit 1
    check = check_token(token.expires_at if token else None, now, site=site,
                        source=token.source if token else "")
    print(f"{'problem' if check.level in ('missing', 'issue') else check.level}: {check.message}")
    if check.level in ("missing", "issue"):
        status = 1
    if args.issues:
        tracker, where = tracker_for(root_of(args), args.repo, args.folder)
        for action in sync_token_issue(tracker, check, site, now):
            print(f"  {action} ({where})")
    if check.level == "warn":
        print(f"  (an issue is opened below {ISSUE_BEFORE.total_seconds() / 3600:g} h; warnings start at "
              f"{WARN_BEFORE.total_seconds() / 3600:g} h)", file=sys.stderr)
    return status
