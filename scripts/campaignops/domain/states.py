"""Run states and what a WMS report says of a run: the words every layer uses for progress."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
