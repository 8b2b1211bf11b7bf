"""What is known about the runner and repository `campaign` runs from (values only; gathered by
adapters/github/runner_facts.py, judged by engine/doctor.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .model import Profile


@dataclass(frozen=True)
class RunnerGroup:
    """An organisation's runner group as GitHub describes it (GET /orgs/{org}/actions/runner-groups)."""

    name: str
    visibility: str  # all | selected | private: which repositories may use it
    restricted_to_workflows: bool
    selected_workflows: tuple[str, ...] = ()
    allows_public_repositories: bool = False


@dataclass(frozen=True)
class Facts:
    """What was learnt about where `campaign` runs. None: not gathered (the note says why)."""

    repository: str | None = None  # OWNER/NAME
    visibility: str | None = None  # public | private | internal
    visibility_note: str = ""
    self_hosted: bool | None = None  # running on a self-hosted Actions runner
    runner_name: str | None = None
    runner_group: RunnerGroup | None = None
    runner_group_note: str = ""


@dataclass(frozen=True)
class Runner:
    """A self-hosted runner registered with the repository (GET /repos/{repo}/actions/runners)."""

    name: str
    status: str  # online | offline
    labels: tuple[str, ...]


@dataclass(frozen=True)
class SetupFacts:
    """What `campaign doctor --setup` learnt about the runner, one group per checklist step (domain/checklist.py).
    None: not gathered; each `*_note` says why, or what the service answered."""

    # 1. the repository on GitHub
    repository: str | None = None
    repository_note: str = ""
    # 2. which actions may run: GET /repos/{repo}/actions/permissions (+ selected-actions)
    actions_enabled: bool | None = None
    allowed_actions: str | None = None  # all | local_only | selected
    github_owned_allowed: bool | None = None
    actions_note: str = ""
    # 3. the runner and its label
    runner_label: str = "usdf"
    label_source: str = "default"  # CAMPAIGNOPS_RUNNER_LABEL | repository variable | default
    in_job: bool = False  # running inside an Actions job on a self-hosted runner (it had the label)
    runner_name: str | None = None
    runners: tuple[Runner, ...] | None = None
    runners_note: str = ""
    # a runner per facility (the repository variable CAMPAIGNOPS_SITES): (facility, the label its jobs ask for)
    site_labels: tuple[tuple[str, str], ...] = ()
    # 4. CAMPAIGNOPS_VENV and the middleware it holds
    venv: str | None = None
    venv_python: bool = False
    prefix: str = ""  # sys.prefix of this `campaign`
    pinned: tuple[tuple[str, str], ...] = ()  # (distribution, version) the lsst extra pins
    installed: tuple[tuple[str, str | None], ...] = ()  # (distribution, version here or None)
    # 5. the work directory
    workdir: str | None = None
    workdir_exists: bool = False
    workdir_writable: bool = False
    checkout: str = ""
    temporary: tuple[str, ...] = ()  # folders that do not outlive a job or a reboot
    # 6. git identity
    git_name: str = ""
    git_email: str = ""
    # 7. record branch
    record_branch: str = ""
    record_branch_exists: bool | None = None
    record_note: str = ""
    # 8. the token
    can_push: bool | None = None
    can_read_issues: bool | None = None
    token_note: str = ""
    # 9. facility credentials
    profiles: tuple[Profile, ...] = ()  # the profiles the campaigns use
    panda_env: tuple[tuple[str, str], ...] = ()  # PANDA* variables of the runner's environment
    panda_in_use: bool = False
    panda_token_expires: datetime | None = None
    panda_token_source: str = ""
    site: str = "this"
    slurm_in_use: bool = False
    slurm_problem: str | None = None  # None: squeue answered (or Slurm not in use)
    # 10. forks
    forks: Facts = field(default_factory=Facts)
    # 11. the first campaign
    campaigns: int = 0
    submitted: int = 0  # campaigns with a ledger


__all__ = ["Facts", "Runner", "RunnerGroup", "SetupFacts"]
