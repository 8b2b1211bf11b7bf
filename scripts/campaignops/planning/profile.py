"""Profiles of what tasks use and right-sized memory requests (pure): per step and task label, p50 / p95 /
max of peak memory, CPU and wall time per quantum, against the memory the spec requests; a suggested
`requestMemory` of p99 plus a margin, rounded up."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.model import Campaign
from ..domain.usage import QuantumUsage
from ..ledger.records import Ledger
from .memory import effective_memory

MARGIN = 0.2  # suggested = p99 x (1 + MARGIN), rounded up
ROUND_MB = 256
MIN_MB = 512
OVER_FACTOR = 2.0  # requested more than twice the suggestion: over-requested


@dataclass(frozen=True)
class Stats:
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        ordered = sorted(values)
        return cls(percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99),
                   ordered[-1] if ordered else 0.0)


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted values (0 for none): a value some quantum really had."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class TaskProfile:
    step: str
    label: str
    quanta: int
    memory_mb: Stats
    cpu_s: Stats
    wall_s: Stats
    requested_mb: int
    suggested_mb: int

    @property
    def flag(self) -> str:
        """'under' when some quantum needed more than requested, 'over' when far more was asked, else ''."""
        if self.memory_mb.max > self.requested_mb:
            return "under"
        if self.requested_mb > OVER_FACTOR * self.suggested_mb:
            return "over"
        return ""


def requested_memory(campaign: Campaign, step: str, label: str) -> int:
    """The requestMemory bps uses for `label` in `step`: the task's, else the step's, else the campaign's,
    else the BPS default."""
    return effective_memory(campaign, step, label)


def suggest_mb(p99_mb: float, margin: float = MARGIN, queues_mb: Sequence[int] = ()) -> int:
    """p99 plus the margin, rounded up to 256 MB (at least 512), then up to the limit of the site queue
    it lands in (the same queue either way, so the headroom is free); above every queue, left as is."""
    wanted = max(MIN_MB, math.ceil(p99_mb * (1 + margin) / ROUND_MB) * ROUND_MB)
    return next((q for q in sorted(queues_mb) if q >= wanted), wanted)


def profiles(campaign: Campaign, usages: Iterable[QuantumUsage], margin: float = MARGIN) -> tuple[TaskProfile, ...]:
    """One profile per (step, task label) that ran, in step order then label order."""
    by_task: dict[tuple[str, str], list[QuantumUsage]] = {}
    for u in usages:
        by_task.setdefault((u.step, u.label), []).append(u)
    order = {s.name: i for i, s in enumerate(campaign.steps)}
    out = []
    for (step, label), used in sorted(by_task.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0])):
        memory = Stats.of([u.memory_mb for u in used])
        out.append(TaskProfile(step, label, len(used), memory, Stats.of([u.cpu_s for u in used]),
                               Stats.of([u.wall_s for u in used]), requested_memory(campaign, step, label),
                               suggest_mb(memory.p99, margin, campaign.profile.memory_queues_mb)))
    return tuple(out)


def suggestion(found: Iterable[TaskProfile]) -> dict[str, dict[str, int]]:
    """step -> label -> requestMemory, for every task whose suggestion differs from what is requested."""
    out: dict[str, dict[str, int]] = {}
    for p in found:
        if p.suggested_mb != p.requested_mb:
            out.setdefault(p.step, {})[p.label] = p.suggested_mb
    return out


# ---- what the batch system charged, per attempt (Attempt.job_usage, from the scheduler) -----------------

@dataclass(frozen=True)
class AttemptJobs:
    """One attempt's finished batch jobs as its scheduler accounted them (Slurm's jobcomp log): the cost side
    beside the quanta's own metadata. A batch job here is a worker block serving many quanta."""

    run: str  # STEP/GROUP
    attempt: int
    state: str  # the attempt's state
    jobs: int
    elapsed_s: float  # summed over the jobs
    core_hours: float  # summed elapsed x cores
    cores: int  # the most cores one job had


def attempt_jobs(ledger: Ledger) -> tuple[AttemptJobs, ...]:
    """Every attempt with batch jobs recorded, in ledger order (runs as recorded, attempts by number)."""
    return tuple(AttemptJobs(r.key, a.number, a.state.value, len(a.job_usage), sum(u.elapsed_s for u in a.job_usage),
                             sum(u.core_hours for u in a.job_usage), max(u.cores for u in a.job_usage))
                 for r in ledger.runs for a in r.attempts if a.job_usage)


def attempt_jobs_records(found: Sequence[AttemptJobs]) -> list[dict[str, Any]]:
    return [{"run": j.run, "attempt": j.attempt, "state": j.state, "jobs": j.jobs, "elapsed_s": round(j.elapsed_s, 1),
             "core_hours": round(j.core_hours, 4), "cores": j.cores} for j in found]


# ---- the record beside the ledger (campaigns/<name>/profile.yaml), read by the status pages ----------

def _stats_dict(s: Stats) -> dict[str, float]:
    return {"p50": round(s.p50, 2), "p95": round(s.p95, 2), "p99": round(s.p99, 2), "max": round(s.max, 2)}


def to_records(found: Sequence[TaskProfile]) -> list[dict[str, Any]]:
    return [{"step": p.step, "label": p.label, "quanta": p.quanta, "memory_mb": _stats_dict(p.memory_mb),
             "cpu_s": _stats_dict(p.cpu_s), "wall_s": _stats_dict(p.wall_s), "requested_mb": p.requested_mb,
             "suggested_mb": p.suggested_mb} for p in found]


def from_records(records: Any) -> tuple[TaskProfile, ...]:
    """Profiles from a recorded list (or the `tasks` of a record that also holds the cost table); ValueError for
    anything else."""
    if isinstance(records, dict):
        records = records.get("tasks") or []
    if not isinstance(records, list):
        raise ValueError("a profile record is a list of tasks")
    def stats(d: Any) -> Stats:
        return Stats(float(d["p50"]), float(d["p95"]), float(d["p99"]), float(d["max"]))

    try:
        return tuple(TaskProfile(str(r["step"]), str(r["label"]), int(r["quanta"]), stats(r["memory_mb"]),
                                 stats(r["cpu_s"]), stats(r["wall_s"]), int(r["requested_mb"]),
                                 int(r["suggested_mb"])) for r in records)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a profile record: {exc}") from exc


__all__ = [
    "MARGIN",
    "AttemptJobs",
    "QuantumUsage",
    "Stats",
    "TaskProfile",
    "attempt_jobs",
    "attempt_jobs_records",
    "from_records",
    "percentile",
    "profiles",
    "requested_memory",
    "suggest_mb",
    "suggestion",
    "to_records",
]
