"""Pictures for the status pages: a Mermaid flowchart of steps coloured by state, progress bars, and the
series of quanta done against time that `views/chart.py` draws (all pure: same ledger, same text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..domain.clock import parse_utc
from ..domain.states import RunState
from ..ledger.records import Attempt, Ledger, RunRecord

# Task labels that are bookkeeping jobs of bps, not quanta of the pipeline.
NOT_QUANTA = frozenset({"pipetaskInit", "finalJob"})

# Step state -> (legend text, Mermaid style). GitHub renders the fill; the text colour keeps contrast.
STEP_STYLES: dict[str, tuple[str, str]] = {
    "done": ("green: done", "fill:#2da44e,stroke:#1a7f37,color:#ffffff"),
    "running": ("blue: running", "fill:#0969da,stroke:#0550ae,color:#ffffff"),
    "failed": ("red: a run failed", "fill:#cf222e,stroke:#a40e26,color:#ffffff"),
    "held": ("amber: a run is held", "fill:#bf8700,stroke:#9a6700,color:#ffffff"),
    "cancelled": ("dark grey: a run was cancelled (resubmit or skip it)", "fill:#57606a,stroke:#424a53,color:#ffffff"),
    "gate": ("purple: waits at a manual gate", "fill:#8250df,stroke:#6639ba,color:#ffffff"),
    "waiting": ("grey: not started", "fill:#f6f8fa,stroke:#8c959f,color:#24292f"),
}
BAR_WIDTH = 10


class StepLike(Protocol):
    """What the flowchart needs of a step's progress (status_page.StepView has it)."""

    @property
    def name(self) -> str: ...
    @property
    def total(self) -> int | None: ...
    @property
    def succeeded(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def running(self) -> int: ...
    @property
    def held(self) -> int: ...
    @property
    def cancelled(self) -> int: ...
    @property
    def done(self) -> int: ...  # succeeded, accepted or skipped
    @property
    def waiting_at_gate(self) -> bool: ...


def step_state(step: StepLike) -> str:
    """One word for a step's colour: failed and held win over running, running over done."""
    if step.failed:
        return "failed"
    if step.held:
        return "held"
    if step.cancelled:
        return "cancelled"
    if step.running:
        return "running"
    if step.total and step.done >= step.total:
        return "done"
    if step.waiting_at_gate:
        return "gate"
    return "running" if step.succeeded else "waiting"


def bar(done: int, total: int | None, width: int = BAR_WIDTH) -> str:
    """A text progress bar GitHub shows in a table cell: `███████░░░ 7/10`; `?` when the total is unknown."""
    if not total:
        return f"{'░' * width} {done}/?"
    filled = min(width, done * width // total)
    return f"{'█' * filled}{'░' * (width - filled)} {done}/{total}"


def _label(text: str) -> str:
    """Text inside a quoted Mermaid label: quotes and angle brackets as entity codes, never raw."""
    return (text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("\n", " "))


def flowchart(steps: Sequence[StepLike], requires: dict[str, tuple[str, ...]], *,
              sites: dict[str, str] | None = None, moves: dict[tuple[str, str], str] | None = None) -> str:
    """Mermaid flowchart text (without the fence): one node per step, an edge per prerequisite,
    each node in the class of its state. `requires` maps a step to the steps it waits for; for a
    multi-site campaign `sites` says where each step runs and `moves` labels an edge (before, step)
    with its transfers between sites."""
    ids = {s.name: f"s{i}" for i, s in enumerate(steps)}
    out = ["flowchart LR"]
    for s in steps:
        groups = f"{s.done}/{s.total if s.total is not None else '?'} groups"
        extra = [f"{n} {word}" for n, word in ((s.done - s.succeeded, "accepted or skipped"), (s.failed, "failed"),
                                               (s.held, "held"), (s.cancelled, "cancelled"), (s.running, "running"))
                 if n]
        if s.waiting_at_gate:
            extra.append("waits for approval")
        text = " · ".join([groups, *extra])
        where = f"<br/>{_label((sites or {})[s.name])}" if s.name in (sites or {}) else ""
        out.append(f'    {ids[s.name]}["{_label(s.name)}<br/>{_label(text)}{where}"]')
    for s in steps:
        for before in requires.get(s.name, ()):
            if before in ids:
                label = (moves or {}).get((before, s.name))
                arrow = f'-->|"{_label(label)}"|' if label else "-->"
                out.append(f"    {ids[before]} {arrow} {ids[s.name]}")
    used: dict[str, list[str]] = {}
    for s in steps:
        used.setdefault(step_state(s), []).append(ids[s.name])
    for state, (_, style) in STEP_STYLES.items():
        if state in used:
            out.append(f"    classDef {state} {style}")
    for state in STEP_STYLES:
        if state in used:
            out.append(f"    class {','.join(used[state])} {state}")
    return "\n".join(out)


def legend(steps: Sequence[StepLike]) -> str:
    states = {step_state(s) for s in steps}
    return "Steps by colour: " + "; ".join(STEP_STYLES[k][0] for k in STEP_STYLES if k in states) + "."


# ---- quanta done against time ---------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """Quanta done (cumulated over the campaign) at each time the ledger records a change of it."""

    times: tuple[datetime, ...]
    done: tuple[int, ...]
    total: int  # quanta known so far (of the attempts reported), the chart's ceiling

    def __bool__(self) -> bool:
        return bool(self.times)


def _quanta(a: Attempt, state: str | None = None) -> int:
    return sum((t.get(state) if state else t.total) for t in a.tasks if t.label not in NOT_QUANTA)


def _event_time(a: Attempt) -> datetime | None:
    """When the attempt's task counts were true: its end, or the last check of one still running."""
    last = a.transitions[-1] if a.transitions else None
    if a.state.finished and last is not None:
        return parse_utc(last.at)
    return parse_utc(a.last_checked) if a.last_checked else (parse_utc(last.at) if last else None)


def _run_events(record: RunRecord) -> tuple[list[tuple[datetime, int]], int]:
    """(time, quanta done of this run) at each attempt that reported counts, and the run's quanta.

    A restart or a retry with more memory reports the whole workflow again (done is the larger of
    before and now); a rescue runs only what earlier attempts left, so its quanta add to theirs."""
    events: list[tuple[datetime, int]] = []
    done = total = 0
    for a in record.attempts:
        when = _event_time(a)
        if when is None or not a.tasks:
            continue
        ok = _quanta(a, RunState.SUCCEEDED.value)
        if a.kind == "rescue":
            done, total = done + ok, max(total, done + _quanta(a))
        else:
            done, total = max(done, ok), max(total, _quanta(a))
        events.append((when, done))
    return events, total


def progress_series(ledger: Ledger) -> Series:
    """The campaign's quanta done against time, from each attempt's transitions and task counts."""
    changes: list[tuple[datetime, str, int]] = []
    total = 0
    for record in ledger.runs:
        events, run_total = _run_events(record)
        total += run_total
        changes += [(when, record.key, done) for when, done in events]
    changes.sort()
    per_run: dict[str, int] = {}
    times: list[datetime] = []
    done: list[int] = []
    starts = [w for r in ledger.runs for a in r.attempts[:1] for t in a.transitions[:1] if (w := parse_utc(t.at))]
    if changes and starts and min(starts) < changes[0][0]:  # the chart starts at the first submission, at 0
        times.append(min(starts))
        done.append(0)
    for when, key, value in changes:
        per_run[key] = value
        if times and times[-1] == when:
            done[-1] = sum(per_run.values())
        else:
            times.append(when)
            done.append(sum(per_run.values()))
    return Series(tuple(times), tuple(done), total)


__all__ = ["BAR_WIDTH", "NOT_QUANTA", "STEP_STYLES", "Series", "bar", "flowchart", "legend",
           "progress_series", "step_state"]
