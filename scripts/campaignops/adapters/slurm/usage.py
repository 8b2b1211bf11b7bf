"""What a Slurm job used, from its `jobcomp/filetxt` line (SchedMD/slurm src/plugins/jobcomp/filetxt/
jobcomp_filetxt.c: ProcCnt, StartTime, EndTime, JobState): cores × elapsed. The log has no CPU time and no peak
memory (0 in the record: not reported).

Not joined to the cost table yet: the Slurm accounting work (elapsed / core-hours per job) will own which jobs are
an attempt's; `slurm_job_use` is the per-job record it fills, as PanDA's `adapters/panda/usage.job_use` does."""

from __future__ import annotations

from datetime import datetime

from ...domain.usage import JobUse

# Job states whose work is done again (SchedMD/slurm slurm_protocol_defs.c job_state_string). CANCELLED is not
# one: parsl cancels its idle blocks when bps ends.
FAILED = frozenset({"FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"})


def slurm_job_use(line: str) -> JobUse | None:
    """One jobcomp line as a `JobUse`; None when it is not a job's line or names no start and end."""
    pairs = dict(part.split("=", 1) for part in line.split() if "=" in part)
    if "JobId" not in pairs or "JobState" not in pairs:
        return None
    try:
        elapsed = (datetime.fromisoformat(pairs["EndTime"]) - datetime.fromisoformat(pairs["StartTime"]))
    except (KeyError, ValueError):
        return None
    cores = int(pairs["ProcCnt"]) if pairs.get("ProcCnt", "").isdigit() else 1
    return JobUse(cores, max(elapsed.total_seconds(), 0.0), 0.0, 0.0, pairs["JobState"].split()[0] in FAILED)


__all__ = ["FAILED", "slurm_job_use"]
