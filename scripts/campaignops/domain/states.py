"""Run states and what a WMS report says of a run: the words every layer uses for progress."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

# The message of a submission that has run too long without a run id (the state stays PENDING).
HANGING = "bps submit has run for more than"


class RunState(StrEnum):
    """State of one attempt of a run, as the campaign sees it."""

    SUBMITTING = "SUBMITTING"  # intent recorded, bps launched or about to be: reconcile before resubmitting
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    HELD = "HELD"  # blocked: needs an operator
    UNKNOWN = "UNKNOWN"  # the WMS could not be asked: never treated as failed
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


class TransferState(StrEnum):
    """State of one transfer stage: datasets moved from one site's Butler to another's."""

    PLANNED = "PLANNED"  # waits for the runs it moves
    RUNNING = "RUNNING"  # started: copying, a Rucio rule REPLICATING, or waiting for the destination's ingest
    UNKNOWN = "UNKNOWN"  # the transfer service could not be asked: never treated as failed
    DONE = "DONE"  # verified: the destination Butler holds every dataset sent
    FAILED = "FAILED"  # refused, or verification found datasets missing at the destination
    STUCK = "STUCK"  # a Rucio rule that cannot complete (needs the rule repaired, or a retry)

    @property
    def finished(self) -> bool:
        return self in (TransferState.DONE, TransferState.FAILED, TransferState.STUCK)


@dataclass(frozen=True)
class Transition:
    at: str
    state: RunState
    note: str = ""


@dataclass(frozen=True)
class TaskCounts:
    """Quanta of one pipeline task label by state, the way `bps report` shows them."""

    label: str
    counts: tuple[tuple[str, int], ...]  # state name -> count, sorted

    def get(self, state: str) -> int:
        return dict(self.counts).get(state, 0)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


@dataclass(frozen=True)
class StateCounts:
    """How many runs are in which state: the one tally behind every progress table and page."""

    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    held: int = 0
    in_progress: int = 0  # SUBMITTING, PENDING, RUNNING or UNKNOWN
    unsubmitted: int = 0

    @classmethod
    def of(cls, states: Iterable[RunState | None]) -> StateCounts:
        """The tally of current states; None is a planned run not submitted yet."""
        n = dict.fromkeys(("succeeded", "failed", "cancelled", "held", "in_progress", "unsubmitted"), 0)
        for state in states:
            key = ("unsubmitted" if state is None else "succeeded" if state == RunState.SUCCEEDED
                   else "failed" if state == RunState.FAILED else "cancelled" if state == RunState.CANCELLED
                   else "held" if state == RunState.HELD else "in_progress")
            n[key] += 1
        return cls(**n)

    @property
    def active(self) -> int:
        """Runs not finished (held ones included: they wait for an operator, not for the WMS)."""
        return self.held + self.in_progress


@dataclass(frozen=True)
class FailedJob:
    """One failed WMS job of a run, as a monitor (BigPanDA) describes it: enough to act without the WMS's UI.

    `errors` are "<kind> <code>: <diagnostic>" lines (pilot, exe, ddm, sup, ...); memory in MB (0: not known).
    """

    task: str  # the pipeline task label
    job_id: str  # PanDA id
    attempt: int = 0
    max_attempts: int = 0
    site: str = ""
    exit_code: int = 0  # the payload's (trans) exit code
    errors: tuple[str, ...] = ()
    maxpss_mb: int = 0
    request_mb: int = 0  # what the job asked for (minramcount)
    log_url: str = ""

    @property
    def summary(self) -> str:
        """One line: task, job, attempt, exit code, memory, then every error."""
        parts = [f"{self.task} job {self.job_id}"]
        if self.attempt:
            parts.append(f"attempt {self.attempt}" + (f"/{self.max_attempts}" if self.max_attempts else ""))
        if self.exit_code:
            parts.append(f"exit {self.exit_code}")
        if self.maxpss_mb:
            parts.append(f"maxpss {self.maxpss_mb} MB" + (f" of {self.request_mb} MB" if self.request_mb else ""))
        head = ", ".join(parts)
        return f"{head}: {'; '.join(self.errors)}" if self.errors else head
