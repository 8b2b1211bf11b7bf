"""The engine on the real Slurm cluster with real bps + ctrl_bps_parsl: slurmctld stopped while a run is
RUNNING makes `campaign reconcile` say UNKNOWN (never FAILED, no failure rule acts); once slurmctld is back the
same run is followed to SUCCEEDED, submitted once; its finished worker blocks' elapsed time and cores are
recorded on the attempt and shown by `campaign profile`. Owns the cluster's slurmctld while it runs (restored
in a `finally`)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_e2e_local import campaign_cli, launches, small_control, wait_done

from campaignops.adapters.slurm.scheduler import SlurmScheduler
from campaignops.domain.states import RunState
from campaignops.ledger import store

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "cluster" / "slurm.sh"
pytestmark = [pytest.mark.lsst, pytest.mark.slow]
WAIT_LIMIT = 600.0  # a guard against a hung cluster (shared by every session here), not a performance assertion


@pytest.fixture
def demo_butler(tmp_path: Path) -> Path:
    from campaignops.demo.repo import build

    repo = tmp_path / "butler" / "repo"
    build(repo)
    return repo


def test_slurmctld_down_while_running_is_unknown_then_the_run_is_followed_again_and_submitted_once(
        slurm_cluster: dict[str, str], tmp_path: Path, demo_butler: Path) -> None:
    control = small_control(tmp_path, demo_butler, steps=1, group=[1004])  # 1003 is the demo's injected failure
    spec = control / "campaigns" / "demo" / "campaign.yaml"
    spec.write_text(spec.read_text().replace("profile: local-parsl", "profile: local-slurm"))
    assert "profile: local-slurm" in spec.read_text()
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo")

    # Wait until the run's parsl block runs in Slurm (the run is RUNNING for the engine).
    launch = Path(store.load(spec.parent, "demo").runs[0].current.launch_dir)  # type: ignore[union-attr]
    deadline = time.monotonic() + WAIT_LIMIT
    while not any(j.state == "RUNNING" and j.work_dir == str(launch.resolve())
                  for j in SlurmScheduler(slurm_cluster).jobs()):
        assert time.monotonic() < deadline, "the run's worker block never ran in Slurm"
        time.sleep(1)

    pidfile = Path(slurm_cluster["SLURM_STATE_DIR"]) / "slurmctld.pid"
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, signal.SIGTERM)  # stopped by its pid, as the cluster script would
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.2)
        out = campaign_cli(control, workdir, "reconcile", "demo", "--no-pages").stdout
        run = store.load(spec.parent, "demo").runs[0]
        assert [a.state for a in run.attempts] == [RunState.UNKNOWN], out
        assert "Slurm cannot be asked" in run.attempts[0].message
        assert run.attempts[0].decision is None  # no failure rule acts on UNKNOWN
    finally:
        subprocess.run([str(SCRIPT), "start"], env=slurm_cluster, check=True, capture_output=True)

    ledger = wait_done(control, workdir, WAIT_LIMIT)
    (run,) = ledger.runs
    assert [a.state for a in run.attempts] == [RunState.SUCCEEDED]  # followed again, one attempt
    assert len(launches(workdir)) == 1  # one `bps submit` reached the WMS
    used = run.attempts[0].job_usage
    assert used and all(u.cores >= 1 and u.elapsed_s > 0 for u in used), used  # its blocks, as Slurm accounted
    profile = campaign_cli(control, workdir, "profile", "demo").stdout
    assert "Batch jobs per attempt" in profile and f"step1/{run.group}" in profile, profile
