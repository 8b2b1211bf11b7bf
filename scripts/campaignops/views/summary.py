"""Plain-text views of a campaign's progress for the terminal: steps, runs, per-task counts (pure)."""

from __future__ import annotations

from ..domain.model import Plan
from ..domain.states import RunState
from ..ledger.records import Attempt, Ledger
from ..planning.advance import Decision, Verdict, step_progress
from .issue import decision_note, decision_text, reported_attempt

TASK_COLUMNS = ("SUCCEEDED", "FAILED", "RUNNING", "PENDING")


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(s.rstrip() for s in out)


def step_table(plan: Plan, ledger: Ledger, decisions: list[Decision] | None = None) -> str:
    waiting = {d.run.step: d for d in decisions or [] if d.verdict not in (Verdict.SUBMIT, Verdict.RECORDED)}
    rows = []
    for step in plan.campaign.steps:
        p = step_progress(plan, ledger, step)
        if p.accepted:
            state = "SUCCEEDED" if p.succeeded == p.total else "ACCEPTED"
        elif p.failed and not p.active and not p.unsubmitted:
            state = "FAILED"
        elif p.active:
            state = "RUNNING"
        elif step.name in waiting:
            state = waiting[step.name].verdict.value.upper()
        else:
            state = "NOT SUBMITTED"
        rows.append([step.name, ",".join(step.subsets), state, f"{p.succeeded}/{p.total}", str(p.failed),
                     str(p.active), step.gate + ("" if step.gate_open else " (closed)")])
    return _table(["step", "subsets", "state", "groups ok", "failed", "active", "gate"], rows)


def task_rows(attempt: Attempt) -> list[list[str]]:
    rows = []
    for t in attempt.tasks:
        other = t.total - sum(t.get(c) for c in TASK_COLUMNS)
        rows.append([t.label, *(str(t.get(c)) for c in TASK_COLUMNS), str(other)])
    return rows


def run_table(ledger: Ledger) -> str:
    rows = []
    for r in ledger.runs:
        a = r.current
        if a is None:
            continue
        failed = a.failed_quanta()
        rows.append([r.key, f"a{a.number:02d}", a.kind, str(a.state), f"{a.total_quanta() - failed}/{a.total_quanta()}",
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


def failures(ledger: Ledger, campaign: str, max_lines: int = 6) -> str:
    out = []
    for r in ledger.runs:
        a = r.current
        if a is not None and reported_attempt(r) not in (None, a):
            out.append(f"{r.key} attempt {a.number} {a.state}: {decision_note(r)}")  # a failure the rules retried
            continue
        if a is None or (a.state not in (RunState.FAILED, RunState.HELD) and not a.hanging):
            continue
        out.append(f"{r.key} attempt {a.number} {a.state}: {a.message.splitlines()[0] if a.message else ''}".rstrip())
        for line in a.errors[:max_lines]:
            out.append(f"    | {line}")
        if a.decision is not None:
            out.append(f"    failure rules: {decision_text(a.decision)}")
        if a.reached_wms:
            out.append(f"    retry:  campaign retry {campaign} {r.key}   "
                       f"(more memory: --memory-multiplier 2; only failures, new output run: campaign rescue)")
        else:
            out.append(f"    bps never created the run: fix the cause (in the spec: add `supersede:` for it in the same "
                       f"change), else  campaign resubmit {campaign} {r.key} --reason ...")
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
