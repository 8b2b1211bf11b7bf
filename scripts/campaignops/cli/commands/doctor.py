"""`campaign doctor`: check where campaign runs (today: can a fork pull request reach this self-hosted runner)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from ...adapters.github.client import GitHubClient, GitHubError, token_from_env
from ...engine.doctor import Facts, Level, RunnerGroup, run_checks, worst

ADMIN_TOKEN = "CAMPAIGNOPS_DOCTOR_TOKEN"  # optional: a token that may read the organisation's runner groups


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check the runner and the repository campaign runs from, and say what to fix. Today: when the "
        "repository is public, is this self-hosted runner's group restricted to this repository's workflows "
        "(else any fork pull request can add a workflow that runs on it). Reads GITHUB_REPOSITORY, RUNNER_NAME "
        f"and RUNNER_ENVIRONMENT (set by Actions) and the GitHub API with GITHUB_TOKEN; ${ADMIN_TOKEN}, when "
        "set, is used to read the organisation's runner groups (a token with the organisation's self-hosted "
        "runners read permission). Exit 1 only on an error; warnings and checks that could not run exit 0.")
    parser.add_argument("--repo", default=None, metavar="OWNER/NAME",
                        help="the repository (default $GITHUB_REPOSITORY)")
    parser.add_argument("--format", choices=("text", "github"), default="text",
                        help="github: warnings as workflow annotations")


def _runner_group(client: GitHubClient, repo: str, runner: str) -> tuple[RunnerGroup | None, str]:
    org = repo.partition("/")[0]
    try:
        groups: dict[str, Any] = client.get(f"/orgs/{org}/actions/runner-groups",
                                            {"per_page": 100, "visible_to_repository": repo.partition("/")[2]})
        for group in groups.get("runner_groups", []):
            runners = client.get(f"/orgs/{org}/actions/runner-groups/{group['id']}/runners", {"per_page": 100})
            if any(r.get("name") == runner for r in runners.get("runners", [])):
                return RunnerGroup(str(group.get("name")), str(group.get("visibility")),
                                   bool(group.get("restricted_to_workflows")),
                                   tuple(group.get("selected_workflows") or ()),
                                   bool(group.get("allows_public_repositories"))), ""
    except GitHubError as exc:
        if exc.status in (401, 403, 404):
            return None, (f"the token cannot read {org}'s runner groups ({exc.status}); set {ADMIN_TOKEN} to a "
                          "token with the organisation's self-hosted runners read permission, or check by hand")
        return None, str(exc)
    return None, f"runner {runner!r} is in none of {org}'s runner groups visible to {repo} (a repository runner?)"


def gather(env: Mapping[str, str], repo: str | None) -> Facts:
    """What the checks need, from the environment and the GitHub API; what cannot be read is a note."""
    repo = repo or env.get("GITHUB_REPOSITORY")
    on_actions = env.get("GITHUB_ACTIONS") == "true"
    self_hosted = (env.get("RUNNER_ENVIRONMENT") == "self-hosted") if on_actions else None
    runner = env.get("RUNNER_NAME")
    if not repo:
        return Facts(None, None, "no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY", self_hosted, runner)
    token = token_from_env(dict(env))
    if not token:
        return Facts(repo, None, "no GITHUB_TOKEN / GH_TOKEN to ask GitHub", self_hosted, runner)
    client = GitHubClient(token=token, max_tries=2)
    try:
        visibility = str(client.get(f"/repos/{repo}").get("visibility") or "")
    except GitHubError as exc:
        return Facts(repo, None, str(exc), self_hosted, runner)
    if visibility != "public" or self_hosted is False:
        return Facts(repo, visibility, "", self_hosted, runner)
    admin = env.get(ADMIN_TOKEN)
    group_client = GitHubClient(token=admin, max_tries=2) if admin else client
    group, note = _runner_group(group_client, repo, runner) if runner else (None, "RUNNER_NAME is not set")
    return Facts(repo, visibility, "", self_hosted, runner, group, note)


def run(args: argparse.Namespace) -> int:
    findings = run_checks(gather(os.environ, args.repo))
    for f in findings:
        if args.format == "github" and f.level in (Level.WARNING, Level.ERROR, Level.UNKNOWN):
            kind = "error" if f.level == Level.ERROR else "warning"
            text = f"{f.message}. {f.fix}".replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            print(f"::{kind} title=campaign doctor: {f.check}::{text}")
        else:
            print(f"{f.level.value}: {f.check}: {f.message}")
            if f.fix and f.level != Level.OK:
                print(f"  fix: {f.fix}")
    return 1 if worst(findings) == Level.ERROR else 0
