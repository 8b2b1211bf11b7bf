"""What a PanDA attempt's jobs used, from the BigPanDA monitor's job records (PanDAWMS/panda-bigmon-core jobList:
`cpuconsumptiontime` s, `maxpss` kB — "%.2f" MB once a task is named —, `corecount` / `actualcorecount`,
`durationsec`, `starttime` / `endtime`, `jobstatus`): one /tasks/ and one /jobs/ request an attempt, asked by
`campaign profile` (never by the status cycle, whose request budget is for states)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...domain.usage import JobUse, ResourceUse
from ...ports import Submission
from .monitor import BigPandaMonitor, as_int, maxpss_mb

FAILED = frozenset({"failed", "closed", "cancelled"})  # PanDA job states whose work is done again (or not at all)


def _seconds(job: dict[str, Any]) -> float:
    duration = job.get("durationsec")
    if isinstance(duration, int | float) and duration >= 0:
        return float(duration)
    try:
        start = datetime.fromisoformat(str(job.get("starttime") or "").replace(" ", "T"))
        end = datetime.fromisoformat(str(job.get("endtime") or "").replace(" ", "T"))
    except ValueError:
        return 0.0
    return max((end - start).total_seconds(), 0.0)


def job_use(job: dict[str, Any]) -> JobUse:
    """One job record as a `JobUse`: the cores the pilot saw (`actualcorecount`), else those asked (`corecount`)."""
    cores = as_int(job.get("actualcorecount")) or as_int(job.get("corecount")) or 1
    cpu = job.get("cpuconsumptiontime")
    return JobUse(cores, _seconds(job), float(cpu) if isinstance(cpu, int | float) and cpu > 0 else 0.0,
                  float(maxpss_mb(job.get("maxpss"))), str(job.get("jobstatus") or "") in FAILED)


def attempt_uses(monitor: BigPandaMonitor, attempts: Sequence[tuple[str, int, Submission]]) -> list[ResourceUse]:
    """The jobs' use of every attempt given with a PanDA request id (the monitor's errors propagate: the caller
    says the PanDA figures are missing and shows the rest)."""
    found = []
    for run, number, submission in attempts:
        if not submission.wms_id:
            continue
        rows, _ = monitor.tasks(request_ids=[submission.wms_id], days=365)
        jobs = tuple(job_use(j) for j in monitor.jobs_used([str(r["jeditaskid"]) for r in rows]))
        if jobs:
            found.append(ResourceUse(run, number, "panda", jobs))
    return found


__all__ = ["FAILED", "attempt_uses", "job_use"]
