"""What is known about the runner and repository `campaign` runs from (values only; gathered by
adapters/github/runner_facts.py, judged by engine/doctor.py)."""

from __future__ import annotations

from dataclasses import dataclass


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


__all__ = ["Facts", "RunnerGroup"]
