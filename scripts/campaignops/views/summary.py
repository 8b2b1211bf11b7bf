"""Plain-text views of a campaign's progress for the terminal: steps, runs, per-task counts (pure)."""

from __future__ import annotations

from ..domain.model import Campaign, Plan
from ..ledger.records import Attempt, Ledger
from ..planning.advance import Decision, Verdict
from .issue import decision_note, reported_attempt
from .reading import RunReading, Standing, read_run

TASK_COLUMNS = ("SUCCEEDED", "FAILED", "RUNNING", "PENDING")


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(s.rstrip() for s in out)


def _step_state(readings: list[RunReading], waiting: Decision | None) -> str:
    """One word (and what comes next) for a step, from how its runs read."""
    count = {s: sum(r.standing == s for r in readings) for s in Standing}
    settled, succeeded = count[Standing.SETTLED], count[Standing.SUCCEEDED]
    if readings and settled + succeeded == len(readings):
        return "SUCCEEDED" if not settled else f"DONE ({settled} accepted or skipped)"
    if count[Standing.HELD]:
        return "HELD"
    if count[Standing.ACTIVE] or count[Standing.RETRYING]:
        return "RUNNING" if count[Standing.ACTIVE] else "RETRYING (failure rules)"
    if count[Standing.FAILED] and not count[Standing.UNSUBMITTED]:
        return "FAILED"
    if count[Standing.CANCELLED]:
        return "CANCELLED: resubmit or skip"
    if waiting is not None:
        return waiting.verdict.value.upper()
    return "NOT SUBMITTED"


def step_table(plan: Plan, ledger: Ledger, decisions: list[Decision] | None = None) -> str:
    waiting = {d.run.step: d for d in decisions or [] if d.verdict not in (Verdict.SUBMIT, Verdict.RECORDED)}
    rows = []
    for step in plan.campaign.steps:
        runs = plan.runs_of(step.name)
        readings = [read_run(plan.campaign, r.key, ledger.run(r.key), ledger) for r in runs]
        count = {s: sum(r.standing == s for r in readings) for s in Standing}
        rows.append([step.name, ",".join(step.subsets), _step_state(readings, waiting.get(step.name)),
                     f"{count[Standing.SUCCEEDED] + count[Standing.SETTLED]}/{len(runs)}", str(count[Standing.FAILED]),
                     str(count[Standing.ACTIVE] + count[Standing.RETRYING] + count[Standing.HELD]),
                     str(count[Standing.CANCELLED]), step.gate + ("" if step.gate_open else " (closed)")])
    return _table(["step", "subsets", "state", "groups done", "failed", "active", "cancelled", "gate"], rows)


def task_rows(attempt: Attempt) -> list[list[str]]:
    rows = []
    for t in attempt.tasks:
        other = t.total - sum(t.get(c) for c in TASK_COLUMNS)
        rows.append([t.label, *(str(t.get(c)) for c in TASK_COLUMNS), str(other)])
    return rows


def run_table(campaign: Campaign, ledger: Ledger) -> str:
    rows = []
    for r in ledger.runs:
        a = r.current
        if a is None:
            continue
        failed = a.failed_quanta()
        reading = read_run(campaign, r.key, r, ledger)
        rows.append([r.key, f"a{a.number:02d}", a.kind, reading.label, f"{a.total_quanta() - failed}/{a.total_quanta()}",
                     str(failed), a.output_run])
    return _table(["run", "attempt", "kind", "state", "quanta ok", "failed", "output run"], rows)


def task_table(ledger: Ledger) -> str:
    blocks = []
    for r in ledger.runs:
        a = r.current
        if a is None or not a.tasks:
            continue
        blocks.append(f"{r.key} (attempt {a.number}, {a.state})\n"
                      + _table(["task", *(c.lower() for c in TASK_COLUMNS), "other"], task_rows(a)))
    return "\n\n".join(blocks)


def failures(campaign: Campaign, ledger: Ledger, max_lines: int = 6) -> str:
    """The runs that need a person (or that the failure rules retry), each with what to type next; accepted
    and skipped runs are listed as settled, with who and why, and no command."""
    out = []
    for r in ledger.runs:
        a = r.current
        if a is None:
            continue
        reading = read_run(campaign, r.key, r, ledger)
        if reading.settled and reading.control is not None:
            out.append(f"{r.key} attempt {a.number} {reading.text}")
            continue
        if reported_attempt(r) not in (None, a):
            out.append(f"{r.key} attempt {a.number} {a.state}: {decision_note(r)}")  # a failure the rules retried
            continue
        if not (reading.needs_a_person or reading.standing == Standing.RETRYING or a.hanging):
            continue
        out.append(f"{r.key} attempt {a.number} {reading.label}: "
                   f"{a.message.splitlines()[0] if a.message else ''}".rstrip())
        for line in a.errors[:max_lines]:
            out.append(f"    | {line}")
        if reading.note:
            out.append(f"    {'failure rules' if a.decision is not None else 'why'}: {reading.note}")
        if reading.hint:
            out.append(f"    next:  {reading.hint}")
    return "\n".join(out)


def waiting_notes(decisions: list[Decision], *, acting: bool = True) -> list[str]:
    """One line per step that waits, and why; when only looking, also the steps ready to be submitted."""
    seen: dict[str, str] = {}
    for d in decisions:
        if d.verdict in (Verdict.GATED, Verdict.BLOCKED, Verdict.WAITING, Verdict.PENDING_GROUPS):
            seen.setdefault(d.run.step, f"{d.run.step}: {d.verdict.value} - {d.reason}")
        elif d.verdict == Verdict.SUBMIT and not acting:
            seen.setdefault(d.run.step, f"{d.run.step}: ready - the runner's `campaign reconcile` submits it "
                                        "(this look starts nothing)")
    return list(seen.values())
