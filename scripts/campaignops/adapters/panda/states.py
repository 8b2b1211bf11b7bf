"""What the BigPanDA monitor's words mean for a run (pure): iDDS request and JEDI task states, task names.

iDDS request states (`r_status` of /idds/wfprogress/) decide the run's state. SubFinished means the
workflow ended with some tasks failed: ctrl_bps_panda's `report` calls it SUCCEEDED while its
`get_status` calls it FAILED. Here it is FAILED, with the per-task counts of failed quanta, so the
step's acceptance rule (`acceptance.max_failed_fraction`) decides whether the step may go on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ...domain.states import RunState, TaskCounts

# iDDS RequestStatus names -> RunState, with a note for the states that need one.
REQUEST_STATES: dict[str, tuple[RunState, str]] = {
    "New": (RunState.PENDING, ""),
    "Ready": (RunState.PENDING, ""),
    "Building": (RunState.PENDING, ""),
    "Built": (RunState.PENDING, ""),
    "Transforming": (RunState.RUNNING, ""),
    "Extend": (RunState.RUNNING, ""),
    "ToResume": (RunState.RUNNING, "being resumed"),
    "Resuming": (RunState.RUNNING, "being resumed"),
    "ToFinish": (RunState.RUNNING, "finishing"),
    "ToForceFinish": (RunState.RUNNING, "being force-finished"),
    "Terminating": (RunState.RUNNING, "terminating"),
    "ToExpire": (RunState.RUNNING, "expiring"),
    "Expiring": (RunState.RUNNING, "expiring"),
    "ToCancel": (RunState.RUNNING, "being cancelled"),
    "Cancelling": (RunState.RUNNING, "being cancelled"),
    "Finished": (RunState.SUCCEEDED, ""),
    "SubFinished": (RunState.FAILED, "iDDS SubFinished: the workflow ended with failed jobs (the step's "
                                     "acceptance rule decides whether that is enough)"),
    "Failed": (RunState.FAILED, ""),
    "Expired": (RunState.FAILED, "iDDS Expired: the workflow ran out of time"),
    "Cancelled": (RunState.CANCELLED, ""),
    "ToSuspend": (RunState.HELD, "being suspended: an operator must resume it"),
    "Suspending": (RunState.HELD, "being suspended: an operator must resume it"),
    "Suspended": (RunState.HELD, "suspended: an operator must resume it"),
}

# JEDI task states that end a task: quanta neither finished nor failed by then were never run (PRUNED).
ENDED_TASK_STATES = frozenset({"done", "finished", "failed", "broken", "exhausted", "aborted", "tobroken"})
FAILED_TASK_STATES = frozenset({"failed", "broken", "exhausted", "aborted", "tobroken"})

_TASK_NAME = re.compile(r"^(?P<workflow>.+)_(?P<number>\d+)_(?P<label>.+)_(?P<chunk>\d+)$")


def run_state(request_status: str) -> tuple[RunState, str]:
    """The run's state for an iDDS request status, and a note; an unknown word is UNKNOWN, never FAILED."""
    found = REQUEST_STATES.get(request_status)
    if found is None:
        return RunState.UNKNOWN, (f"the monitor reports iDDS status {request_status!r}, which campaignops does not "
                                  "know (a newer iDDS?): the run is left UNKNOWN; look at its workflow page")
    return found


def split_task_name(task_name: str, workflow: str = "") -> tuple[str, str]:
    """(workflow, label) of a PanDA task named `{workflow}_{NN}_{label}_{chunk}` (ctrl_bps_panda's pattern).

    With the workflow's name known, its prefix is cut first, so labels with underscores survive.
    A name that fits no pattern is its own label (workflow "").
    """
    if workflow and task_name.startswith(workflow + "_"):
        rest = re.match(r"^(\d+)_(.+)_(\d+)$", task_name[len(workflow) + 1:])
        if rest:
            return workflow, rest.group(2)
    match = _TASK_NAME.match(task_name)
    return (match["workflow"], match["label"]) if match else ("", task_name)


@dataclass(frozen=True)
class TaskRow:
    """One JEDI task of a workflow as /tasks/ lists it (files are quanta for bps jobs)."""

    task_id: str
    name: str
    label: str
    status: str
    files: int = 0
    finished: int = 0
    failed: int = 0
    error: str = ""  # errordialog

    @property
    def failing(self) -> bool:
        return self.failed > 0 or self.status in FAILED_TASK_STATES


def task_counts(rows: Iterable[TaskRow]) -> tuple[TaskCounts, ...]:
    """Quanta per label (chunks of a label summed): SUCCEEDED, FAILED, and the rest RUNNING, PENDING, or
    PRUNED once the task has ended (never run: its inputs failed or are missing)."""
    by_label: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = by_label.setdefault(row.label, {})
        rest = max(row.files - row.finished - row.failed, 0)
        for state, n in (("SUCCEEDED", row.finished), ("FAILED", row.failed),
                         (_rest_state(row.status), rest)):
            if n:
                counts[state] = counts.get(state, 0) + n
    return tuple(TaskCounts(label, tuple(sorted(c.items()))) for label, c in sorted(by_label.items()))


def _rest_state(status: str) -> str:
    if status in ENDED_TASK_STATES:
        return "PRUNED"
    return "RUNNING" if status in ("running", "scouting") else "PENDING"
