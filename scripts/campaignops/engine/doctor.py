"""`campaign doctor`'s checks: pure functions from the facts gathered about the runner and repository.

Each check takes the `Facts` and returns its findings; `CHECKS` lists them. To add a check (PanDA token,
stack, venv, work directory, …): add the facts it needs to `Facts` (default None: not gathered), gather
them in `adapters/github/runner_facts.py`, write `check_x(facts) -> list[Finding]` here and append it to `CHECKS`.
A check never asks the world itself, so it is tested with plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from ..domain.runner import Facts


class Level(Enum):
    OK = "ok"
    UNKNOWN = "could not check"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One result of one check: what it found and, unless all is well, what to do."""

    check: str
    level: Level
    message: str
    fix: str = ""


Check = Callable[[Facts], list[Finding]]

RUNNER_FIX = (
    "On a public repository any fork pull request can add a workflow that runs on `[self-hosted, <the runner's "
    "label>]`. "
    "Make the repository private, or restrict the runner group: Organization settings → Actions → Runner "
    "groups → (the runner's group) → Repository access: Selected repositories (only {repo}) and "
    "Workflow access: Selected workflows ({workflows}); and in the repository Settings → Actions → General → "
    "Fork pull request workflows: Require approval for all external contributors.")
# Every workflow with a self-hosted job: a runner group restricted to fewer blocks the others (retention, say).
WORKFLOWS = ("submit.yml", "status.yml", "retry.yml", "weekly-ci-hsc.yml", "housekeeping.yml")


def _runner_fix(repo: str) -> str:
    workflows = ", ".join(f"{repo}/.github/workflows/{w}@refs/heads/main" for w in WORKFLOWS)
    return RUNNER_FIX.format(repo=repo, workflows=workflows)


def check_public_runner(facts: Facts) -> list[Finding]:
    """A self-hosted runner serving a public repository must be limited to this repository's workflows."""
    name = "runner reachable from forks"
    repo = facts.repository or "OWNER/NAME"
    if facts.visibility is None:
        return [Finding(name, Level.UNKNOWN, f"could not check whether {repo} is public"
                        f"{f' ({facts.visibility_note})' if facts.visibility_note else ''}", _runner_fix(repo))]
    if facts.visibility != "public":
        return [Finding(name, Level.OK, f"{repo} is {facts.visibility}: fork pull requests cannot reach the runner")]
    if facts.self_hosted is False:
        return [Finding(name, Level.OK, f"{repo} is public; this is not a self-hosted runner")]
    group = facts.runner_group
    if group is None:
        return [Finding(name, Level.WARNING,
                        f"{repo} is public and the runner group of {facts.runner_name or 'this runner'} could not be "
                        f"checked ({facts.runner_group_note or 'not read'})", _runner_fix(repo))]
    prefix = f"{repo}/.github/workflows/"
    ours = bool(group.selected_workflows) and all(w.startswith(prefix) for w in group.selected_workflows)
    if group.restricted_to_workflows and ours:
        return [Finding(name, Level.OK, f"{repo} is public; runner group {group.name!r} runs only its selected "
                                        f"workflows ({', '.join(group.selected_workflows)})")]
    why = ("is not restricted to selected workflows" if not group.restricted_to_workflows
           else "also runs workflows of other repositories")
    return [Finding(name, Level.WARNING, f"{repo} is public and runner group {group.name!r} {why}: a fork pull "
                                         "request can run its own workflow on this runner", _runner_fix(repo))]


CHECKS: tuple[Check, ...] = (check_public_runner,)


def run_checks(facts: Facts, checks: Sequence[Check] = CHECKS) -> list[Finding]:
    return [finding for check in checks for finding in check(facts)]


def worst(findings: Sequence[Finding]) -> Level:
    order = [Level.OK, Level.UNKNOWN, Level.WARNING, Level.ERROR]
    return max((f.level for f in findings), key=order.index, default=Level.OK)
