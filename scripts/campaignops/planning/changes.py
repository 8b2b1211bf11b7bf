"""Desired against recorded: what each run of the plan is to the ledger (new, unchanged, changed, orphaned).

A run the ledger already holds is never submitted again, so a change to it in the spec would have no
effect; saying so in the plan (and the pull request's plan comment) is what keeps it from being silent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from ..domain.model import Plan, PlannedRun
from ..domain.states import RunState
from ..ledger.records import Ledger


class Change(StrEnum):
    NEW = "new"  # not in the ledger: apply submits it when it is ready
    UNCHANGED = "unchanged"  # in the ledger, and the spec still says what was submitted
    CHANGED = "changed"  # in the ledger, but the spec now says something else: it has no effect
    ORPHANED = "orphaned"  # in the ledger, no longer in the spec


@dataclass(frozen=True)
class RunChange:
    key: str
    change: Change
    what: tuple[str, ...] = ()  # for CHANGED: what differs
    state: RunState | None = None  # the recorded state of the current attempt

    def describe(self) -> str:
        what = f" ({', '.join(self.what)})" if self.what else ""
        state = f", recorded {self.state.value}" if self.state else ""
        return f"{self.key}: {self.change.value}{what}{state}"


def compare(plan: Plan, ledger: Ledger, fingerprint: Callable[[PlannedRun], str]) -> tuple[RunChange, ...]:
    """Every run of the plan (in plan order), then every recorded run the plan no longer has.

    `fingerprint(run)` is the spec's fingerprint of a run (planning/render.spec_fingerprint); attempts
    recorded before fingerprints existed are compared on their data query alone.
    """
    out: list[RunChange] = []
    planned = set()
    for run in plan.runs:
        planned.add(run.key)
        record = ledger.run(run.key)
        current = record.current if record else None
        if record is None or current is None:
            out.append(RunChange(run.key, Change.NEW))
            continue
        what = []
        if not run.pending and record.data_query != run.data_query:
            what.append("data query")
        # The query is part of the config: compare the rest with the recorded query put back.
        if not run.pending and current.spec_hash and \
                current.spec_hash != fingerprint(replace(run, data_query=record.data_query)):
            what.append("submit config: resources, pipeline, stack, collections or bps keys")
        out.append(RunChange(run.key, Change.CHANGED if what else Change.UNCHANGED, tuple(what), current.state))
    for record in ledger.runs:
        if record.key not in planned and not any(r.pending and r.step == record.step for r in plan.runs):
            out.append(RunChange(record.key, Change.ORPHANED, (), record.state))
    return tuple(out)


def counts(changes: tuple[RunChange, ...]) -> dict[Change, int]:
    return {c: sum(1 for rc in changes if rc.change == c) for c in Change}
