"""What work used: one quantum (peak memory, CPU and wall time, as the WMS or the quantum's own metadata says),
and one batch job of an attempt (elapsed time and cores, as its scheduler accounts them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuantumUsage:
    step: str  # the campaign step whose run executed it
    label: str  # the pipeline task label
    memory_mb: float  # peak resident memory of the process that ran the quantum (MiB)
    cpu_s: float  # CPU seconds
    wall_s: float  # wall-clock seconds


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


__all__ = ["JobUsage", "QuantumUsage"]
