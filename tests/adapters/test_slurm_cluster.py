"""The Slurm WMS against the real single-node cluster (tests/cluster/slurm.sh): faults made for real —
an external scancel, a drained node, slurmd stopped mid-run (NODE_FAIL), slurmctld stopped and started again, a
walltime shorter than the work.
Jobs are submitted with `sbatch` from a launch directory, as parsl's SlurmProvider does from the bps process.
Each test leaves the cluster as it found it (node resumed, slurmctld running, its jobs cancelled)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campaignops.adapters.slurm.scheduler import SlurmJob, SlurmScheduler
from campaignops.adapters.slurm.wms import SlurmWms, with_slurm
from campaignops.campaign_spec.failure_rules import load_rules
from campaignops.domain.states import RunState, Transition
from campaignops.ledger.records import Attempt
from campaignops.planning.failures import Failure, check
from campaignops.ports import Observation, Submission

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "cluster" / "slurm.sh"


def sbatch(launch_dir: Path, env: dict[str, str], *options: str, command: str = "sleep 300") -> str:
    """A job as parsl's SlurmProvider submits it, asking 100 MB: without --mem a job takes all of the node's
    memory (no DefMemPerCPU in slurm.conf), so two jobs never run at once on the shared one-node cluster."""
    launch_dir.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["sbatch", "-J", "parsl.slurm.block-0.test", "-o", "/dev/null", "--mem=100M", *options,
                          "--wrap", command], cwd=launch_dir, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Submitted batch job (\d+)", out.stdout)  # parsl's regex_job_id
    assert found, out.stdout + out.stderr
    return found[1]


def until(what: Callable[[], list[SlurmJob]], ok: Callable[[list[SlurmJob]], bool], seconds: float) -> list[SlurmJob]:
    deadline = time.monotonic() + seconds
    while True:
        seen = what()
        if ok(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1)


@pytest.fixture
def slurm(slurm_cluster: dict[str, str], tmp_path: Path) -> Iterator[tuple[SlurmWms, dict[str, str]]]:
    env = slurm_cluster
    wms = SlurmWms(SlurmScheduler(env), "campaignops.bps_plugins.local.LocalParslService")
    yield wms, env
    node = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
    subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True)  # slurmctld back if a test stopped it
    subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], env=env, capture_output=True)
    ours = [j.job_id for j in wms.scheduler.jobs() if j.work_dir.startswith(str(tmp_path)) and not j.finished]
    if ours:
        subprocess.run(["scancel", *ours], env=env, capture_output=True)


def jobs(wms: SlurmWms, launch_dir: Path) -> Callable[[], list[SlurmJob]]:
    return lambda: wms.jobs_of([(Submission(str(launch_dir), "run"), launch_dir)])["run"]


def test_a_walltime_shorter_than_the_work_is_a_timeout_the_rules_see(slurm: tuple[SlurmWms, dict[str, str]],
                                                                   tmp_path: Path) -> None:
    # The time limit counts from the job's start, not its submission: on the cluster every session of this
    # machine shares (a fresh clone's `make test` finds it running), the job may first wait its turn behind
    # another session's parsl block (--exclusive) — the cause of a CI run that saw it RUNNING at 240 s after
    # submission; the order of the tests does not matter (rerun here after a slurmctld restart: TIMEOUT 83 s
    # after its start). slurmctld checks time limits every 30 s, then waits KillWait (30 s): ~90 s from start.
    wms, env = slurm
    job = sbatch(tmp_path / "run", env, "--time=1")  # one minute, Slurm's smallest
    started = until(jobs(wms, tmp_path / "run"), lambda js: any(j.state != "PENDING" for j in js), 600)
    assert [j.state for j in started if j.state == "PENDING"] == [], cluster_said(env, job)
    seen = until(jobs(wms, tmp_path / "run"), lambda js: any(j.finished for j in js), 240)
    assert [(j.job_id, j.state) for j in seen] == [(job, "TIMEOUT")], cluster_said(env, job)
    assert with_slurm(Observation(RunState.FAILED), seen).failed_jobs[0].errors[0].startswith("slurm TIMEOUT")


def cluster_said(env: dict[str, str], job: str) -> str:
    """What slurmctld says of a job, every job it holds (who has the node) and its log's tail: the message of a
    failed wait."""
    shown = subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True)
    queue = subprocess.run(["squeue", "--all", "-o", "%i %T %r %S %j %Z"], env=env, capture_output=True, text=True)
    log = Path(env["SLURM_STATE_DIR"]) / "log" / "slurmctld.log"
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
    return "\n".join([shown.stdout + shown.stderr, queue.stdout + queue.stderr, *tail])


def test_slurmd_stopped_mid_run_is_a_node_fail_the_shared_rules_retry_and_the_node_comes_back(
        slurm: tuple[SlurmWms, dict[str, str]], tmp_path: Path) -> None:
    # slurmctld marks the node NOT_RESPONDING, then DOWN after SlurmdTimeout=30 s (slurm.sh), and ends its
    # jobs NODE_FAIL: 51 s after slurmd stopped, measured here. With JobRequeue=1 (Slurm's default) the batch
    # job is then requeued under the same id (PENDING, reason BeginTime): the jobcomp log keeps the NODE_FAIL.
    wms, env = slurm
    job = sbatch(tmp_path / "run", env)
    running = until(jobs(wms, tmp_path / "run"), lambda js: [j.state for j in js] == ["RUNNING"], 600)
    assert [j.state for j in running] == ["RUNNING"], cluster_said(env, job)  # its turn on the shared node
    pid = int((Path(env["SLURM_STATE_DIR"]) / "slurmd.pid").read_text())
    os.kill(pid, signal.SIGTERM)  # slurmd stopped by its pid; the job's own processes go on without it
    began = time.monotonic()
    seen = until(jobs(wms, tmp_path / "run"), lambda js: any(j.state == "NODE_FAIL" for j in js), 180)
    took = time.monotonic() - began
    assert (job, "NODE_FAIL") in [(j.job_id, j.state) for j in seen], cluster_said(env, job)
    print(f"NODE_FAIL seen {took:.0f} s after slurmd was stopped")

    # bps says the run failed (its worker block was lost); the scheduler says why, and the shared rule retries.
    obs = with_slurm(Observation(RunState.FAILED), seen)
    assert obs.errors[0].startswith(f"slurm NODE_FAIL: job {job}")
    if any(j.job_id == job and not j.finished for j in seen):
        assert f"Slurm requeued job {job} after NODE_FAIL" in obs.message
    attempt = Attempt(number=1, kind="submit", output_run="o/a1", config_hash="h", config_path="c",
                      launch_dir=str(tmp_path / "run"), submit_dir="/s", state=RunState.FAILED,
                      errors=obs.errors, failed_jobs=obs.failed_jobs,
                      transitions=(Transition("2026-12-06T01:00:00+00:00", RunState.FAILED),))
    first = next(r for r in load_rules(ROOT) if check(r, Failure.of(attempt)).matched)
    assert (first.name, first.action) == ("slurm-node-fail", "retry")

    subprocess.run([str(SCRIPT), "start"], env=env, check=True, capture_output=True)  # slurmd back
    node = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout.split()
    assert node and node[0].rstrip("*") in ("idle", "mixed", "allocated"), node  # ReturnToService=2


def test_an_external_scancel_is_a_cancelled_job_and_campaign_cancel_stops_only_its_runs_jobs(
        slurm: tuple[SlurmWms, dict[str, str]], tmp_path: Path) -> None:
    wms, env = slurm
    mine, other = tmp_path / "mine", tmp_path / "other"
    first = sbatch(mine, env)
    bystander = sbatch(other, env)
    subprocess.run(["scancel", first], env=env, check=True)  # someone else cancels it

    seen = until(jobs(wms, mine), lambda js: any(j.state == "CANCELLED" for j in js), 30)
    assert [(j.job_id, j.state) for j in seen] == [(first, "CANCELLED")]
    obs = with_slurm(Observation(RunState.FAILED), seen)
    assert obs.errors[0].startswith(f"slurm CANCELLED: job {first}")

    again = sbatch(mine, env)
    said = wms.cancel(None, mine, "")
    assert said.endswith(f"scancel {again}")
    after = until(jobs(wms, mine), lambda js: all(j.finished for j in js), 30)
    assert {j.job_id: j.state for j in after}[again] == "CANCELLED"
    assert [j.state for j in jobs(wms, other)()] in (["RUNNING"], ["PENDING"])  # the other run's job untouched
    assert bystander


def test_a_drained_node_keeps_the_run_waiting_with_slurms_reason(slurm: tuple[SlurmWms, dict[str, str]],
                                                               tmp_path: Path) -> None:
    wms, env = slurm
    node = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["scontrol", "update", f"nodename={node}", "state=drain", "reason=campaignops test"],
                   env=env, check=True)
    sbatch(tmp_path / "run", env)
    seen = until(jobs(wms, tmp_path / "run"), lambda js: any(j.reason for j in js), 30)
    assert [j.state for j in seen] == ["PENDING"]
    obs = with_slurm(Observation(RunState.RUNNING), seen)
    assert obs.state == RunState.RUNNING  # waiting, not failed
    # Seen here: first slurmctld's free text, then the reason code once the scheduler has looked again.
    assert re.match(r"Slurm blocked: job \d+ PENDING \((ReqNodeNotAvail, UnavailableNodes:|Nodes required for job "
                    r"are DOWN, DRAINED)", obs.message), obs.message


def test_slurmctld_stopped_makes_the_run_unknown_and_its_jobs_are_found_again_when_it_is_back(
        slurm: tuple[SlurmWms, dict[str, str]], tmp_path: Path) -> None:
    wms, env = slurm
    job = sbatch(tmp_path / "run", env)
    pidfile = Path(env["SLURM_STATE_DIR"]) / "slurmctld.pid"
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGTERM)  # stopped by its pid file, as the cluster script would
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)

    seen = wms.observe_many([(Submission(str(tmp_path / "run"), "run"), tmp_path / "run")], "")
    assert seen["run"].state == RunState.UNKNOWN
    assert "Slurm cannot be asked" in seen["run"].message

    subprocess.run([str(SCRIPT), "start"], env=env, check=True, capture_output=True)
    back = until(jobs(wms, tmp_path / "run"), lambda js: bool(js), 30)
    assert [j.job_id for j in back] == [job]  # the same job, recovered from slurmctld's state: not submitted again
    assert back[0].state in ("RUNNING", "PENDING")
