"""What `campaign doctor` learns about the runner and repository from the environment Actions sets and the
GitHub REST API: the repository's visibility (GET /repos/{repo}) and, on a public repository, the runner
group holding this runner (GET /orgs/{org}/actions/runner-groups, then each group's runners)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...domain.runner import Facts, RunnerGroup
from .client import GitHubClient, GitHubError, token_from_env


def _runner_group(client: GitHubClient, repo: str, runner: str, admin_token: str) -> tuple[RunnerGroup | None, str]:
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
            return None, (f"the token cannot read {org}'s runner groups ({exc.status}); set {admin_token} to a "
                          "token with the organisation's self-hosted runners read permission, or check by hand")
        return None, str(exc)
    return None, f"runner {runner!r} is in none of {org}'s runner groups visible to {repo} (a repository runner?)"


def gather(env: Mapping[str, str], repo: str | None, admin_token: str) -> Facts:
    """What the checks need, from the environment and the GitHub API; what cannot be read is a note.
    `admin_token` names the variable of an optional token that may read the organisation's runner groups."""
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
    admin = env.get(admin_token)
    group_client = GitHubClient(token=admin, max_tries=2) if admin else client
    group, note = _runner_group(group_client, repo, runner, admin_token) if runner else (None, "RUNNER_NAME is not set")
    return Facts(repo, visibility, "", self_hosted, runner, group, note)


__all__ = ["gather"]
