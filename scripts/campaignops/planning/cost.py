"""What a campaign cost (pure): per step and for the campaign, core-hours, CPU hours and peak memory of every
attempt's jobs as its WMS reported them, and the share lost to failures — the failed jobs' core-hours, and all of
an attempt's when the next one ran every quantum again (more memory without a rescue, a resubmit, a supersede).

`ResourceUse` records come from the WMS (PanDA job records through the monitor, Slurm's jobcomp log) or, for the
local and parsl runs, from the quanta's own metadata (`uses_from_quanta`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.usage import JobUse, QuantumUsage, ResourceUse
from ..ledger.records import Ledger

FULL_RERUN = frozenset({"retry-memory", "resubmit", "supersede"})  # attempt kinds that run every quantum again


@dataclass(frozen=True)
class Cost:
    """One row of the cost table: a step, or the campaign."""

    what: str
    attempts: int
    jobs: int
    core_hours: float
    cpu_hours: float
    peak_memory_mb: float
    lost_core_hours: float
    sources: tuple[str, ...]

    @property
    def lost_share(self) -> float:
        return self.lost_core_hours / self.core_hours if self.core_hours else 0.0


def uses_from_quanta(ledger: Ledger, quanta: Iterable[QuantumUsage]) -> list[ResourceUse]:
    """The attempts' use as their quanta's metadata says (one single-core job a quantum; a failed quantum writes
    no metadata, so only a full re-run counts as lost here)."""
    attempt_of = {a.output_run: (r.key, a.number) for r in ledger.runs for a in r.attempts}
    jobs: dict[tuple[str, int], list[JobUse]] = {}
    for q in quanta:
        where = attempt_of.get(q.output_run)
        if where is not None:
            jobs.setdefault(where, []).append(JobUse(1, q.wall_s, q.cpu_s, q.memory_mb, False))
    return [ResourceUse(key, n, "metadata", tuple(found)) for (key, n), found in jobs.items()]


# Batch-job end states whose work is lost (squeue(1) JOB STATE CODES): the scheduler or the payload ended the job
# before its quanta finished. CANCELLED is not among them: parsl cancels its idle blocks when bps ends.
LOST_JOB_STATES = frozenset({"FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})


def uses_from_batch_jobs(ledger: Ledger) -> list[ResourceUse]:
    """The attempts' use as their batch scheduler accounted it (Slurm: each job's cores × elapsed time, recorded
    on the attempt by the status cycle); no CPU time or peak memory (the jobcomp log has neither)."""
    return [ResourceUse(r.key, a.number, "slurm", tuple(JobUse(u.cores, u.elapsed_s, 0.0, 0.0, u.state in LOST_JOB_STATES)
                                                         for u in a.job_usage))
            for r in ledger.runs for a in r.attempts if a.job_usage]


def _rerun_in_full(ledger: Ledger) -> set[tuple[str, int]]:
    """(run, attempt) of the attempts whose next attempt ran every quantum again: all their work is lost."""
    out = set()
    for r in ledger.runs:
        for earlier, later in zip(r.attempts, r.attempts[1:], strict=False):
            if later.kind in FULL_RERUN:
                out.add((r.key, earlier.number))
    return out


def _row(what: str, uses: Sequence[ResourceUse], full: set[tuple[str, int]]) -> Cost:
    jobs = core = cpu = peak = lost = 0.0
    for u in uses:
        hours = failed = 0.0
        for j in u.jobs:  # one pass: a data release's table reads hundreds of thousands of job records
            h = max(j.cores, 1) * j.wall_s / 3600
            hours += h
            failed += h if j.failed else 0.0
            cpu += j.cpu_s
            peak = max(peak, j.memory_mb)
        jobs += len(u.jobs)
        core += hours
        lost += hours if (u.run, u.attempt) in full else failed
    return Cost(what, len({(u.run, u.attempt) for u in uses}), int(jobs), core, cpu / 3600, peak, lost,
                tuple(sorted({u.source for u in uses})))


def cost_table(ledger: Ledger, uses: Iterable[ResourceUse], step_order: Sequence[str] = ()) -> list[Cost]:
    """One row a step (in `step_order`, then any other in name order) and the campaign's last. One record an
    attempt: a later source of the same attempt replaces an earlier one (the WMS's over the metadata)."""
    latest = {(u.run, u.attempt): u for u in uses}
    full = _rerun_in_full(ledger)
    steps: dict[str, list[ResourceUse]] = {}
    for u in latest.values():
        steps.setdefault(u.step, []).append(u)
    order = [s for s in step_order if s in steps] + sorted(s for s in steps if s not in step_order)
    rows = [_row(s, steps[s], full) for s in order]
    return [*rows, _row("campaign", list(latest.values()), full)] if rows else []


def to_records(rows: Sequence[Cost]) -> list[dict[str, Any]]:
    """The cost table as `campaign profile --record` keeps it (profile.yaml's `cost`)."""
    return [{"what": c.what, "attempts": c.attempts, "jobs": c.jobs, "core_hours": round(c.core_hours, 6),
             "cpu_hours": round(c.cpu_hours, 6), "peak_memory_mb": round(c.peak_memory_mb, 1),
             "lost_core_hours": round(c.lost_core_hours, 6), "sources": list(c.sources)} for c in rows]


def from_records(record: Any) -> tuple[Cost, ...]:
    """The cost table of a profile record (none in a record that has no `cost`); ValueError for a damaged one."""
    rows = record.get("cost") if isinstance(record, dict) else None
    if not rows:
        return ()
    try:
        return tuple(Cost(str(r["what"]), int(r["attempts"]), int(r["jobs"]), float(r["core_hours"]),
                          float(r["cpu_hours"]), float(r["peak_memory_mb"]), float(r["lost_core_hours"]),
                          tuple(str(s) for s in r["sources"])) for r in rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a cost record: {exc}") from exc


__all__ = ["FULL_RERUN", "LOST_JOB_STATES", "Cost", "cost_table", "from_records", "to_records", "uses_from_batch_jobs",
           "uses_from_quanta"]
