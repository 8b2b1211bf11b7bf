"""`campaign doctor`: is this runner fit to work? (1) can a fork pull request reach this self-hosted runner;
(2) is the PanDA token about to expire, and is the PanDA environment of the profiles in use set.
Run by the status job; each check is a pure function of gathered facts (engine/doctor.py,
engine/doctor_panda.py), so more checks plug in there."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from ...adapters.github.runner_facts import gather
from ...adapters.panda.token import read_token
from ...adapters.setup_facts import gather_setup
from ...campaign_spec import load as spec
from ...domain.checklist import CHECKLIST
from ...domain.errors import CampaignError
from ...domain.model import Profile
from ...domain.wms import WmsKind
from ...engine.doctor import Finding, Level, run_checks, worst
from ...engine.doctor_panda import (
    ISSUE_BEFORE,
    WARN_BEFORE,
    check_token,
    panda_setup_problems,
    sync_token_issue,
)
from ...engine.doctor_setup import next_step, run_setup_checks
from ...ledger.store import ledger_dir, ledger_path
from ...registry import tracker_for
from ..common import root_of, scope

ADMIN_TOKEN = "CAMPAIGNOPS_DOCTOR_TOKEN"  # optional: a token that may read the organisation's runner groups


def _runner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check the runner and the repository campaign runs from, and say what to fix. (1) When the "
        "repository is public, is this self-hosted runner's group restricted to this repository's workflows "
        "(else any fork pull request can add a workflow that runs on it). Reads GITHUB_REPOSITORY, RUNNER_NAME "
        f"and RUNNER_ENVIRONMENT (set by Actions) and the GitHub API with GITHUB_TOKEN; ${ADMIN_TOKEN}, when "
        "set, is used to read the organisation's runner groups (a token with the organisation's self-hosted "
        "runners read permission). (2) The PanDA token ($PANDA_AUTH_ID_TOKEN, else id_token of "
        "$PANDA_CONFIG_ROOT/.token) and the PanDA environment of the profiles in use; with --issues one issue "
        "is kept open while the token is about to expire. Exit 1 on an error or a token problem.")
    parser.add_argument("--repo", default=None, metavar="OWNER/NAME",
                        help="the repository (default $GITHUB_REPOSITORY)")
    parser.add_argument("--format", choices=("text", "github"), default="text",
                        help="github: warnings as workflow annotations")


def _runner_checks(args: argparse.Namespace) -> int:
    findings = run_checks(gather(os.environ, args.repo, ADMIN_TOKEN))
    _print(findings, args.format)
    return 1 if worst(findings) == Level.ERROR else 0


def _print(findings: list[Finding], form: str) -> None:
    for f in findings:
        if form == "github" and f.level in (Level.WARNING, Level.ERROR, Level.UNKNOWN):
            kind = "error" if f.level == Level.ERROR else "warning"
            text = f"{f.message}. {f.fix}".replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            print(f"::{kind} title=campaign doctor: {f.check}::{text}")
        else:
            print(f"{f.level.value}: {f.check}: {f.message}")
            if f.fix and f.level != Level.OK:
                print(f"  fix: {f.fix}")


def _setup_checks(args: argparse.Namespace) -> int:
    """Each step of the set-up checklist on this runner, in order, and the next one to do."""
    root = root_of(args)
    profiles = _profiles_in_use(args)
    paths = spec.all_campaign_paths(root)
    submitted = sum(1 for p in paths if ledger_dir(p.parent).is_dir() or ledger_path(p.parent).exists())
    sites = sorted({p.site for p in profiles if p.wms is WmsKind.PANDA})
    site = args.site or os.environ.get("CAMPAIGNOPS_SITE") or (sites[0] if len(sites) == 1 else "this")
    facts = gather_setup(os.environ, root, args.repo, ADMIN_TOKEN, profiles=tuple(profiles), site=site,
                         campaigns=len(paths), submitted=submitted)
    findings = run_setup_checks(facts, datetime.now(UTC))
    _print(findings, args.format)
    following = next_step(findings)
    if following is None:
        print(f"all {len(CHECKLIST)} set-up steps are done")
    else:
        print(f"next: step {following.check} — {following.fix or following.message}")
    return 1 if worst(findings) == Level.ERROR else 0


def _profiles_in_use(args: argparse.Namespace) -> list[Profile]:
    """The profiles of the sites the campaigns run at; on a runner per facility (--site / CAMPAIGNOPS_SITE) only
    those of its own facility: the FrDF runner holds no USDF PanDA token."""
    root = root_of(args)
    job = scope(args)
    found: dict[str, Profile] = {}
    for path in spec.all_campaign_paths(root):
        try:
            campaign = spec.load_campaign(path, root)
        except CampaignError:
            continue  # `campaign validate` reports it; the doctor checks the runner
        for site in campaign.sites:
            profile = campaign.site_profile(site)
            if job.covers(profile.name, profile.site):
                found[profile.name] = profile
    return list(found.values())


def _panda_checks(args: argparse.Namespace) -> int:
    profiles = _profiles_in_use(args)
    panda = [p for p in profiles if p.wms is WmsKind.PANDA]
    sites = sorted({p.site for p in panda})
    site = args.site or os.environ.get("CAMPAIGNOPS_SITE") or (sites[0] if len(sites) == 1 else "this")
    status = 0
    for problem in panda_setup_problems(profiles, os.environ):
        print(f"problem: {problem}")
        status = 1
    if not panda:
        print("PanDA: no campaign uses a PanDA profile" + (f" at {args.site or os.environ.get('CAMPAIGNOPS_SITE')}"
                                                            if not scope(args).everywhere else "")
              + "; nothing to check")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _runner_arguments(parser)
    parser.add_argument("--setup", action="store_true",
                        help="check each step of the set-up checklist (the README `campaign init` writes, "
                             "docs/setup.md) on this runner, in order, and say which is next: repository, "
                             "actions allowed, runner label, CAMPAIGNOPS_VENV and the pinned middleware, work "
                             "directory, git identity, record branch, token permissions, PanDA token / Slurm, "
                             "fork pull requests, the first campaign. Exit 1 while a step is not done")
    parser.add_argument("--only", choices=("runner", "panda"), default=None,
                        help="run one group of checks: runner (repository and runner group) or panda (token, "
                             "PANDA_URL, monitor); default both")
    parser.add_argument("--site", default=None,
                        help="the runner's data facility, for messages and the token issue (default "
                             "$CAMPAIGNOPS_SITE, else the site of the PanDA profiles in use)")
    parser.add_argument("--issues", action="store_true",
                        help=f"open one issue when the PanDA token has less than {ISSUE_BEFORE.total_seconds() / 3600:g} h "
                             "left (CAMPAIGNOPS_TOKEN_ISSUE_HOURS), close it once refreshed")
    parser.add_argument("--folder", default=None, metavar="DIR",
                        help="write the issue as a file here instead of GitHub (default without a GitHub token: "
                             "<root>/.demo/issues)")


def run(args: argparse.Namespace) -> int:
    if args.setup:
        return _setup_checks(args)
    status = 0
    if args.only in (None, "runner"):
        if args.only is None:
            print("== runner and repository")
        status = max(status, _runner_checks(args))
    if args.only in (None, "panda"):
        if args.only is None:
            print("== PanDA")
        status = max(status, _panda_checks(args))
    return status
