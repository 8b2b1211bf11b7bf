"""The one small interface between the campaign core and a workload manager."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..ledger import RunState, TaskCounts


class WmsUnreachable(Exception):
    """The WMS (or its monitor) could not be asked: the run's state is UNKNOWN, never FAILED."""


@dataclass(frozen=True)
class Launch:
    """Where a detached `bps submit` was started."""

    launch_dir: Path
    pid: int


@dataclass(frozen=True)
class Submission:
    """What a launch left behind once bps has created the run: found again after a crash."""

    submit_dir: str
    wms_id: str


@dataclass(frozen=True)
class Observation:
    """One look at a run: its state and per-task quantum counts, as `bps report` shows them."""

    state: RunState
    tasks: tuple[TaskCounts, ...] = ()
    exit_codes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    errors: tuple[str, ...] = ()  # first error lines of failed quanta
    message: str = ""


class Wms(Protocol):
    """Launch, find, observe and restart BPS runs. One real implementation per backend."""

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        """Start `bps submit config` detached in `launch_dir` (its own cwd) and return at once."""
        ...

    def find_submission(self, launch_dir: Path) -> Submission | None:
        """The run a launch created, if bps got that far (used to reconcile after a crash)."""
        ...

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        """Current state of the run; raises WmsUnreachable when the WMS cannot be asked."""
        ...

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        """`bps restart` the run detached (re-runs only what failed)."""
        ...
