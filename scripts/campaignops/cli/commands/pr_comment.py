"""`campaign pr-comment`: post or update the sticky plan comment of a pull request."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ...adapters.github.client import GitHubClient, GitHubError, token_from_env
from ...adapters.github.pr_comment import EMPTY_PLAN, post_plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pr", type=int, default=None, metavar="N", help="pull request number")
    parser.add_argument("--repo", default=None, metavar="OWNER/NAME",
                        help="repository of the pull request (default $GITHUB_REPOSITORY)")
    parser.add_argument("--plan-file", required=True, metavar="FILE",
                        help="the markdown written by `campaign plan --format markdown` (all changed campaigns)")
    parser.add_argument("--summary", action="store_true",
                        help="also append the plan to $GITHUB_STEP_SUMMARY (the workflow run's summary page)")


def run(args: argparse.Namespace) -> int:
    plan_file = Path(args.plan_file)
    if not plan_file.is_file():
        print(f"error: no plan file {plan_file}: write it first with `campaign plan CAMPAIGN --format markdown "
              f"> {plan_file}`", file=sys.stderr)
        return 2
    markdown = plan_file.read_text(encoding="utf-8")
    if args.pr is None and not args.summary:
        print("error: pass --pr N to comment on a pull request, and/or --summary", file=sys.stderr)
        return 2
    status = 0
    if args.summary:
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write((markdown.strip("\n") or EMPTY_PLAN) + "\n\n")
            print(f"appended the plan to the step summary ({target})")
        else:
            print("warning: --summary given but GITHUB_STEP_SUMMARY is not set (not in GitHub Actions?)",
                  file=sys.stderr)
    if args.pr is not None:
        repo = args.repo or os.environ.get("GITHUB_REPOSITORY")
        if not repo:
            print("error: pass --repo OWNER/NAME or set GITHUB_REPOSITORY", file=sys.stderr)
            return 2
        if not token_from_env():
            print("error: no GITHUB_TOKEN / GH_TOKEN: the workflow must pass "
                  "`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` with `pull-requests: write`", file=sys.stderr)
            return 2
        try:
            for action in post_plan(GitHubClient(), repo, args.pr, markdown):
                print(action)
        except GitHubError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    return status
