"""A real bps + parsl run of the demo's step1 on the cluster through the Slurm WMS: its worker block is
found by its launch directory, and `campaign cancel` (SlurmWms.cancel) stops bps and scancels that
block — only that one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from campaignops.adapters.processes import pid_alive, read_pid
from campaignops.adapters.slurm.scheduler import SlurmJob, SlurmScheduler
from campaignops.adapters.slurm.wms import SlurmWms
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.demo.repo import build
from campaignops.planning.plan import make_plan
from campaignops.planning.render import render_run
from campaignops.ports import Submission

pytestmark = [pytest.mark.lsst, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
WAIT_LIMIT = 300.0  # a guard against a hung cluster, not a performance assertion


def until_jobs(wms: SlurmWms, launch_dir: Path, *states: str) -> list[SlurmJob]:
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        found = wms.jobs_of([(Submission(str(launch_dir), "run"), launch_dir)])["run"]  # asked again: afresh
        if found and all(j.state in states for j in found):
            return found
        time.sleep(1)
    raise AssertionError(f"the Slurm jobs of {launch_dir} were not {states} within {WAIT_LIMIT} s")


def test_cancel_stops_bps_and_scancels_that_runs_block_only(slurm_cluster: dict[str, str], tmp_path: Path) -> None:
    build(tmp_path / "repo")
    data = yaml.safe_load((ROOT / "campaigns" / "demo" / "campaign.yaml").read_text())
    data["butler"]["repo"] = str(tmp_path / "repo")
    data["pipeline"] = str(ROOT / data["pipeline"])
    profile = profile_from_dict(yaml.safe_load((ROOT / "campaigns" / "profiles" / "local-slurm.yaml").read_text()))
    campaign = campaign_from_dict(data, profile)
    run = next(r for r in make_plan(campaign).runs if r.key == "step1/visit1001-1002")
    config = tmp_path / "step1.yaml"
    config.write_text(render_run(campaign, run, 1, root=ROOT))
    bystander = tmp_path / "other"
    bystander.mkdir()
    other = subprocess.run(["sbatch", "-o", "/dev/null", "--wrap", "sleep 600"], cwd=bystander, env=slurm_cluster,
                           capture_output=True, text=True, check=True).stdout.split()[-1]
    wms = SlurmWms(SlurmScheduler(slurm_cluster), dict(profile.bps)["wmsServiceClass"])
    launch_dir = tmp_path / "launch"
    try:
        wms.launch(config, launch_dir, "")
        block = until_jobs(wms, launch_dir, "PENDING", "RUNNING")  # pending behind the bystander: exclusive
        said = wms.cancel(None, launch_dir, "")
        ours = [j.job_id for j in block]
        assert said.endswith("scancel " + " ".join(ours)), said
        assert not pid_alive(read_pid(launch_dir.resolve()))
        gone = until_jobs(wms, launch_dir, "CANCELLED")
        assert {j.job_id for j in gone} == set(ours)
        still = [j for j in SlurmScheduler(slurm_cluster).jobs() if j.job_id == other]
        assert [j.state for j in still] in (["RUNNING"], ["PENDING"])  # someone else's job: untouched
    finally:
        subprocess.run(["scancel", other], env=slurm_cluster, capture_output=True)

