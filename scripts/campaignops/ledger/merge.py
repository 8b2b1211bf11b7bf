"""Two versions of a ledger: the transitions between them, and the merge of two jobs' updates (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..domain.errors import LedgerError
from ..domain.states import RunState
from .records import SEEN, Attempt, Ledger, RunRecord


@dataclass(frozen=True)
class Change:
    """One attempt of one run moving from one state to another between two ledger versions."""

    campaign: str
    step: str
    group: str
    attempt: int
    kind: str
    old: RunState | None  # None: the attempt is new
    new: RunState
    failed: int = 0
    failed_in: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.campaign}: {self.describe()}"

    def describe(self) -> str:
        """The change without the campaign name: `step1 g0003 RUNNING→FAILED (12 failed in calibrate)`."""
        number = f" #{self.attempt} ({self.kind})" if self.attempt > 1 else ""
        old = self.old.value if self.old else "NEW"
        detail = ""
        if self.failed:
            where = f" in {', '.join(self.failed_in)}" if self.failed_in else ""
            detail = f" ({self.failed} failed{where})"
        return f"{self.step} {self.group}{number} {old}→{self.new.value}{detail}"


def _failed_detail(attempt: Attempt) -> tuple[int, tuple[str, ...]]:
    return attempt.failed_quanta(), tuple(label for label, _ in attempt.failed_tasks())


def diff_ledgers(old: Ledger | None, new: Ledger) -> list[Change]:
    """State changes of every attempt from `old` (None: no ledger yet) to `new`, in ledger order."""
    changes: list[Change] = []
    for run in new.runs:
        before = old.run(run.key) if old else None
        if before is run:
            continue  # the same record object (read from a ledger file that did not change)
        old_attempts = {a.number: a for a in before.attempts} if before else {}
        for attempt in run.attempts:
            previous = old_attempts.get(attempt.number)
            if previous is not None and previous.state == attempt.state:
                continue
            failed, labels = _failed_detail(attempt) if attempt.state != RunState.SUCCEEDED else (0, ())
            changes.append(Change(new.campaign, run.step, run.group, attempt.number, attempt.kind,
                                  previous.state if previous else None, attempt.state, failed, labels))
    return changes


def summarize(changes: Sequence[Change]) -> str:
    """One line for a commit subject: how many transitions, into which states, in which campaigns."""
    if not changes:
        return "Update campaign records"
    campaigns = sorted({c.campaign for c in changes})
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.new.value] = counts.get(c.new.value, 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    where = campaigns[0] if len(campaigns) == 1 else f"{len(campaigns)} campaigns"
    plural = "s" if len(changes) != 1 else ""
    return f"{where}: {len(changes)} transition{plural} ({states})"


def commit_message(changes: Sequence[Change], message: str | None = None,
                   new_campaigns: Iterable[str] = ()) -> str:
    """Subject (the given message, else a summary), then one body line per transition."""
    added = sorted(new_campaigns)
    subject = message or (f"New campaign {', '.join(added)}" if added and not changes else summarize(changes))
    body = [f"New campaign: {name}" for name in added] + [str(c) for c in changes]
    return subject + ("\n\n" + "\n".join(body) if body else "") + "\n"


def _attempt_rank(a: Attempt) -> tuple[int, int, str]:
    # Transitions are only ever appended, and last_checked only moves forward: the attempt that
    # has seen more (then more recently) is the later record of the same submission. A failure rules'
    # decision is only ever added to a failed attempt, then marked acted: recorded, then acted, wins.
    decided = 0 if a.decision is None else 1 + a.decision.done
    return len(a.transitions), decided, a.last_checked


def _merge_runs(ours: RunRecord, theirs: RunRecord) -> RunRecord:
    attempts = {a.number: a for a in theirs.attempts}
    for a in ours.attempts:
        other = attempts.get(a.number)
        if other is None or _attempt_rank(a) >= _attempt_rank(other):
            attempts[a.number] = a
    return RunRecord(ours.step, ours.group, ours.data_query or theirs.data_query,
                     tuple(attempts[n] for n in sorted(attempts)))


def merge_ledgers(ours: Ledger, theirs: Ledger) -> Ledger:
    """Both jobs' updates of one ledger: the union of runs and attempts; for the same attempt the
    one with more transitions, then the later last_checked, then ours. Nothing either side
    recorded is dropped."""
    if ours.campaign != theirs.campaign:
        raise LedgerError(f"cannot merge ledgers of different campaigns: {ours.campaign} and {theirs.campaign}")
    theirs_by_key = {r.key: r for r in theirs.runs}
    ours_keys = {r.key for r in ours.runs}
    runs = [_merge_runs(r, theirs_by_key[r.key]) if r.key in theirs_by_key else r for r in ours.runs]
    runs += [r for r in theirs.runs if r.key not in ours_keys]
    frozen = dict(theirs.frozen_groups) | dict(ours.frozen_groups)
    # Operator controls: the union, in time order (each job only appends); the set-up stage: the side
    # that got further (an ended stage over a running one, then the later attempt).
    controls = tuple(sorted(dict.fromkeys((*theirs.controls, *ours.controls)), key=lambda c: c.at))
    # A heartbeat (`seen`) of each runner per facility: only its latest.
    latest = {c.target: c for c in controls if c.action == SEEN}
    controls = tuple(c for c in controls if c.action != SEEN or latest[c.target] is c)
    stages = [s for s in (ours.setup, theirs.setup) if s is not None]
    setup = max(stages, key=lambda s: (s.attempt, s.state.finished, s.ended_at)) if stages else None
    # A transfer two jobs both moved keeps the further one: a later attempt, then an ended one.
    transfers = {t.key: t for t in ours.transfers}
    for t in theirs.transfers:
        mine = transfers.get(t.key)
        if mine is None or (t.attempt, t.state.finished, t.ended_at) > (mine.attempt, mine.state.finished,
                                                                        mine.ended_at):
            transfers[t.key] = t
    # A check both jobs evaluated keeps the later evaluation.
    checks = {c.ref: c for c in ours.checks}
    for c in theirs.checks:
        if c.ref not in checks or c.at > checks[c.ref].at:
            checks[c.ref] = c
    return replace(Ledger(ours.campaign, tuple(runs), tuple(sorted(frozen.items())), controls, setup).with_removals(
        ours.removed + theirs.removed), transfers=tuple(transfers.values()), checks=tuple(checks.values()))
