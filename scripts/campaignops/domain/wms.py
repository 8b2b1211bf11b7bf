"""The kinds of workload manager a profile may name (`wms:`), and what the core needs to know of each.

The word a profile writes is a `WmsKind`; the composition root (`registry.py`) maps each kind to the adapter
that drives it, and the profile schema's enum is filled from this list — so adding a WMS is one adapter
module, one registry row and one member here (docs/design.md, "Adding a WMS kind").
"""

from __future__ import annotations

from enum import StrEnum


class WmsKind(StrEnum):
    PANDA = "panda"
    HTCONDOR = "htcondor"
    PARSL = "parsl"
    SLURM = "slurm"  # bps + ctrl_bps_parsl on a Slurm cluster, its jobs read from the scheduler

    @property
    def stack_from_env(self) -> bool:
        """Whether the site's bps config sets each job's stack up from `LSST_VERSION` (then
        `custom_lsst_setup`), so render must put the campaign's stack there: the PanDA site configs do
        (ctrl_bps_panda `config/bps_usdf.yaml` …); HTCondor and parsl jobs inherit the submitting stack."""
        return self is WmsKind.PANDA


__all__ = ["WmsKind"]
