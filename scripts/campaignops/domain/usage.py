"""What one quantum used: peak memory, CPU and wall time, as the WMS or the quantum's own metadata says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuantumUsage:
    step: str  # the campaign step whose run executed it
    label: str  # the pipeline task label
    memory_mb: float  # peak resident memory of the process that ran the quantum (MiB)
    cpu_s: float  # CPU seconds
    wall_s: float  # wall-clock seconds


__all__ = ["QuantumUsage"]
