"""The ledger's records: each run (step x group) and its attempts, immutable, newest attempt last."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..domain.states import HANGING, RunState, TaskCounts, Transition


@dataclass(frozen=True)
class Attempt:
    """One submission of a run: its own output RUN collection and submit directory."""

    number: int
    kind: str  # submit | restart | retry-memory | rescue
    output_run: str
    config_hash: str
    config_path: str
    launch_dir: str
    submit_dir: str = ""
    wms_id: str = ""
    submitted_at: str = ""
    state: RunState = RunState.SUBMITTING
    last_checked: str = ""
    tasks: tuple[TaskCounts, ...] = ()
    exit_codes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    errors: tuple[str, ...] = ()
    message: str = ""
    memory_multiplier: float = 1.0
    transitions: tuple[Transition, ...] = ()
    spec_hash: str = ""  # fingerprint of what the spec said of the run when this attempt was made

    def failed_tasks(self) -> tuple[tuple[str, int], ...]:
        """(label, failed quanta) of every task with failures, in label order."""
        return tuple((t.label, t.get("FAILED")) for t in self.tasks if t.get("FAILED"))

    @property
    def hanging(self) -> bool:
        """`bps submit` has run past its limit without a run id: someone should look (it stays PENDING)."""
        return self.state == RunState.PENDING and self.message.startswith(HANGING)

    @property
    def reached_wms(self) -> bool:
        """bps created the run (a submit directory): `bps restart` can work on it."""
        return bool(self.submit_dir)

    @property
    def wrote_outputs(self) -> bool:
        """Some quantum succeeded, so the attempt's output run exists and holds outputs to skip."""
        return any(t.label != "pipetaskInit" and t.get("SUCCEEDED") > 0 for t in self.tasks)

    def failed_quanta(self) -> int:
        return sum(t.get("FAILED") for t in self.tasks)

    def total_quanta(self) -> int:
        return sum(t.total for t in self.tasks)


@dataclass(frozen=True)
class RunRecord:
    """One run (step x group) and all its attempts, newest last."""

    step: str
    group: str
    data_query: str
    attempts: tuple[Attempt, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.step}/{self.group}"

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def state(self) -> RunState | None:
        return self.current.state if self.current else None

    def with_attempt(self, attempt: Attempt) -> RunRecord:
        """This record with `attempt` replacing the one of the same number, or appended."""
        kept = [a for a in self.attempts if a.number != attempt.number]
        return replace(self, attempts=tuple(sorted([*kept, attempt], key=lambda a: a.number)))


@dataclass(frozen=True)
class Removal:
    """A RUN collection `campaign retention apply` removed from the Butler: when, why, how many datasets."""

    run: str
    at: str
    reason: str
    datasets: int = 0


@dataclass(frozen=True)
class Ledger:
    campaign: str
    runs: tuple[RunRecord, ...] = ()
    frozen_groups: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...] = ()  # step -> (name, query, size)
    removed: tuple[Removal, ...] = ()  # RUN collections removed by retention, oldest first

    def with_removals(self, removals: tuple[Removal, ...]) -> Ledger:
        """This ledger with `removals` recorded (a run removed twice keeps its first record)."""
        kept = {r.run: r for r in self.removed}
        for r in removals:
            kept.setdefault(r.run, r)
        return replace(self, removed=tuple(kept.values()))

    def run(self, key: str) -> RunRecord | None:
        for r in self.runs:
            if r.key == key:
                return r
        return None

    def with_run(self, record: RunRecord) -> Ledger:
        """This ledger with `record` in place of the run of the same key (kept where it stands, so
        ledger diffs stay small), or appended."""
        runs = list(self.runs)
        for i, r in enumerate(runs):
            if r.key == record.key:
                runs[i] = record
                break
        else:
            runs.append(record)
        return replace(self, runs=tuple(runs))

    def groups_of(self, step: str) -> tuple[tuple[str, str, int], ...] | None:
        for name, groups in self.frozen_groups:
            if name == step:
                return groups
        return None

    def with_frozen_groups(self, step: str, groups: tuple[tuple[str, str, int], ...]) -> Ledger:
        kept = [(n, g) for n, g in self.frozen_groups if n != step]
        return replace(self, frozen_groups=tuple(sorted([*kept, (step, groups)])))


def with_state(attempt: Attempt, state: RunState, at: str, note: str = "", **changes: Any) -> Attempt:
    """The attempt moved to `state`, with a transition recorded only when the state changes."""
    transitions = attempt.transitions
    if state != attempt.state or not transitions:
        transitions = (*transitions, Transition(at, state, note))
    return replace(attempt, state=state, transitions=transitions, **changes)


__all__ = ["Attempt", "Ledger", "Removal", "RunRecord", "with_state"]
