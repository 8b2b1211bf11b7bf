"""What work used: one quantum (peak memory, CPU and wall time, as the quantum's own metadata says), one
batch job of an attempt (elapsed time and cores, as its scheduler accounts them), and what one job of an
attempt used as its WMS reports it — the small record every WMS fills for the cost table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuantumUsage:
    step: str  # the campaign step whose run executed it
    label: str  # the pipeline task label
    memory_mb: float  # peak resident memory of the process that ran the quantum (MiB)
    cpu_s: float  # CPU seconds
    wall_s: float  # wall-clock seconds
    output_run: str = ""  # the RUN collection it wrote into (which attempt ran it)


@dataclass(frozen=True)
class JobUse:
    """One job (a PanDA job, a Slurm job, a quantum run by the local WMS) of one attempt: what it used. 0 where
    the source does not say (Slurm's jobcomp log has no CPU time or peak memory)."""

    cores: int
    wall_s: float
    cpu_s: float
    memory_mb: float  # peak (PanDA maxpss, the quantum's max RSS)
    failed: bool  # its work is lost: the job failed and its quanta run again

    @property
    def core_hours(self) -> float:
        return max(self.cores, 1) * self.wall_s / 3600


@dataclass(frozen=True)
class ResourceUse:
    """What the jobs of one attempt of a run used, and from which source (panda | slurm | metadata)."""

    run: str  # STEP/GROUP
    attempt: int
    source: str
    jobs: tuple[JobUse, ...]

    @property
    def step(self) -> str:
        return self.run.partition("/")[0]


@dataclass(frozen=True)
class JobUsage:
    """One finished batch job of an attempt as the scheduler accounts it (Slurm: the jobcomp log's StartTime,
    EndTime, ProcCnt and Tres, or squeue's while it still lists the job). A batch job is a worker block
    that may serve many quanta: this is what the site charged, not what a quantum needed."""

    job_id: str
    state: str  # the scheduler's final state (COMPLETED, CANCELLED, TIMEOUT, NODE_FAIL, ...)
    elapsed_s: float  # EndTime - StartTime
    cores: int  # CPUs allocated (ProcCnt)
    memory_mb: int = 0  # memory allocated (Tres mem=), 0 when not said; not the peak

    @property
    def core_hours(self) -> float:
        return self.elapsed_s * self.cores / 3600


__all__ = ["JobUsage", "JobUse", "QuantumUsage", "ResourceUse"]
