"""The Slurm profiles' bps keys as ctrl_bps_parsl reads them: each profile's site class builds the parsl
executors and `SlurmProvider`s it would submit with (walltime, partition, slots, #SBATCH lines), offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lsst

ROOT = Path(__file__).resolve().parents[2]


def providers(profile: str) -> tuple[str, dict[str, Any]]:
    from lsst.ctrl.bps import BpsConfig
    from lsst.ctrl.bps.parsl.site import SiteConfig

    data = yaml.safe_load((ROOT / "campaigns" / "profiles" / f"{profile}.yaml").read_text())
    assert data["wms"] == "slurm"
    site = SiteConfig.from_config(BpsConfig({**data["bps"], "operator": "me", "uniqProcName": "demo_run"}))
    return type(site).__name__, {e.label: e.provider for e in site.get_executors()}  # type: ignore[attr-defined]


def test_local_slurm_is_the_generic_site_on_this_machines_cluster() -> None:
    kind, found = providers("local-slurm")
    slurm = found["slurm"]
    assert (kind, slurm.walltime, slurm.cores_per_node, slurm.nodes_per_block) == ("Slurm", "00:20:00", 2, 1)
    assert "#SBATCH --job-name=demo_run" in slurm.scheduler_options  # the bps run's name is the block's job name


def test_usdf_s3df_is_sdf_on_the_rubin_partition_one_block_running_one_waiting() -> None:
    kind, found = providers("usdf-s3df")
    sdf = found["sdf"]
    assert (kind, sdf.walltime, sdf.cores_per_node, sdf.mem_per_node, sdf.max_blocks) == ("Sdf", "02:00:00", 100, 400, 2)
    assert "#SBATCH --partition=rubin" in sdf.scheduler_options and "--dependency=singleton" in sdf.scheduler_options


def test_frdf_slurm_has_ccin2p3s_four_slot_sizes_by_memory() -> None:
    kind, found = providers("frdf-slurm")
    assert kind == "Ccin2p3"
    assert {k: (p.mem_per_node, p.max_blocks, p.walltime) for k, p in found.items()} == {
        "small": (4, 3000, "72:00:00"), "medium": (10, 1000, "72:00:00"), "large": (50, 100, "72:00:00"),
        "xlarge": (150, 10, "72:00:00")}
    assert all("#SBATCH --licenses=sps" in p.scheduler_options for p in found.values())
