"""The Slurm WMS reads what the scheduler did to a run's jobs: in bulk (one `squeue` per cycle whatever the
number of runs), attributed to the attempt by working directory, with states the failure rules match.

The `squeue` here is a real executable on PATH printing rows in the format the adapter asks for (the
cluster tests, tests/adapters/test_slurm_cluster.py, run the real one)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from campaignops.adapters.processes import PID_FILE
from campaignops.adapters.slurm.scheduler import (
    SEP,
    SlurmScheduler,
    jobcomp_path,
    parse_jobcomp,
    parse_squeue,
)
from campaignops.adapters.slurm.wms import SlurmWms, attempt_jobs, job_usage, launched_from, with_slurm
from campaignops.campaign_spec.failure_rules import load_rules
from campaignops.domain.states import RunState, Transition
from campaignops.ledger.records import Attempt
from campaignops.planning.failures import Failure, check
from campaignops.ports import Observation, Submission

ROOT = Path(__file__).resolve().parents[2]

# A real jobcomp/filetxt line, as slurmctld 22.05 wrote it on this machine's cluster (tests/cluster/slurm.sh).
JOBCOMP = ("JobId={id} UserId=root(0) GroupId=root(0) Name=parsl.slurm.block-0.1765.2 JobState={state} "
           "Partition=debug TimeLimit=1 StartTime=2026-12-06T01:16:34 EndTime=2026-12-06T01:17:35 NodeList=vm "
           "NodeCnt=1 ProcCnt=1 WorkDir={dir} ReservationName= Tres=cpu=1,mem=23593M,node=1,billing=1 Account= "
           "QOS= WcKey= Cluster=unknown SubmitTime={submitted} EligibleTime=2026-12-06T01:16:33 "
           "DerivedExitCode=0:0 ExitCode={exit}")


def fake_squeue(bin_dir: Path, table: str, calls: Path, exit_code: int = 0) -> None:
    """An `squeue` on PATH that prints `table` (squeue's -h rows) and counts its calls."""
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "table").write_text(table)
    script = bin_dir / "squeue"
    message = "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
    script.write_text(f"#!/bin/sh\necho call >> {calls}\n" + (
        f"echo '{message}' >&2\nexit {exit_code}\n" if exit_code else f"cat {bin_dir / 'table'}\n"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def row(job_id: int, state: str, reason: str, work_dir: Path, submitted: str = "2026-12-06T01:00:00") -> str:
    return SEP.join([str(job_id), f"parsl.slurm.block-0.{job_id}", state, reason, submitted, str(work_dir)])


def scheduler_env(tmp_path: Path, jobcomp: str = "") -> dict[str, str]:
    log = tmp_path / "jobcomp.log"
    log.write_text(jobcomp)
    conf = tmp_path / "slurm.conf"
    conf.write_text(f"ClusterName=x\nJobCompType=jobcomp/filetxt   # finished jobs\nJobCompLoc={log}\n")
    return {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "SLURM_CONF": str(conf)}


def test_squeue_rows_and_jobcomp_lines_are_read_with_states_reasons_and_directories(tmp_path: Path) -> None:
    held = parse_squeue(row(7, "PENDING", "Resources", tmp_path) + "\n" + row(8, "RUNNING", "None", tmp_path))
    assert [(j.job_id, j.state, j.reason, j.work_dir, j.finished) for j in held] == [
        ("7", "PENDING", "Resources", str(tmp_path), False), ("8", "RUNNING", "", str(tmp_path), False)]
    done = parse_jobcomp(JOBCOMP.format(id=5, state="TIMEOUT", dir=tmp_path, submitted="2026-12-06T01:16:33",
                                        exit="0:15") + "\ngarbage line\n")
    assert [(j.job_id, j.state, j.work_dir, j.exit_code, j.finished) for j in done] == [
        ("5", "TIMEOUT", str(tmp_path), "0:15", True)]


def test_the_jobcomp_log_is_found_only_where_slurm_conf_says_filetxt(tmp_path: Path) -> None:
    env = scheduler_env(tmp_path)
    assert jobcomp_path(env) == tmp_path / "jobcomp.log"
    Path(env["SLURM_CONF"]).write_text("JobCompType=jobcomp/none\nJobCompLoc=/x\n")
    assert jobcomp_path(env) is None
    assert jobcomp_path({"SLURM_CONF": str(tmp_path / "missing.conf")}) is None


def test_a_status_cycle_over_a_thousand_runs_asks_the_scheduler_once(tmp_path: Path) -> None:
    dirs = [tmp_path / "runs" / f"r{i}" for i in range(1000)]
    table = "\n".join(row(10_000 + i, "PENDING" if i % 2 else "RUNNING", "Priority" if i % 2 else "None", d)
                      for i, d in enumerate(dirs))
    calls = tmp_path / "calls"
    fake_squeue(tmp_path / "bin", table + "\n" + row(1, "RUNNING", "None", tmp_path / "someone-else"), calls)
    finished = "\n".join(JOBCOMP.format(id=20_000 + i, state="TIMEOUT", dir=d, submitted="2026-12-06T01:00:00",
                                        exit="0:0") for i, d in enumerate(dirs[:10]))
    wms = SlurmWms(SlurmScheduler(scheduler_env(tmp_path, finished)), "some.Service")
    runs = [(Submission(str(d), f"id{i}"), d) for i, d in enumerate(dirs)]

    jobs = wms.jobs_of(runs)

    assert len(calls.read_text().splitlines()) == 1 == wms.scheduler.calls
    assert "1 scheduler call(s)" in wms.describe()
    assert [j.job_id for j in jobs["id0"]] == ["10000", "20000"]  # held + finished, nothing of another dir
    assert [(j.state, j.reason) for j in jobs["id11"]] == [("PENDING", "Priority")]
    assert sum(len(v) for v in jobs.values()) == 1010
    wms.jobs_of(runs)  # the same runs asked again: the next cycle asks afresh, once
    assert len(calls.read_text().splitlines()) == 2


def test_slurmctld_not_answering_makes_every_run_unknown_never_failed(tmp_path: Path) -> None:
    fake_squeue(tmp_path / "bin", "", tmp_path / "calls", exit_code=1)
    wms = SlurmWms(SlurmScheduler(scheduler_env(tmp_path)), "some.Service")
    seen = wms.observe_many([(Submission("/s", "id1"), tmp_path / "a"), (Submission("/t", "id2"), tmp_path / "b")],
                            "")
    assert {o.state for o in seen.values()} == {RunState.UNKNOWN}
    assert "Unable to contact slurm controller" in seen["id1"].message


def test_jobs_of_an_earlier_attempt_in_the_same_directory_are_not_this_attempts(tmp_path: Path) -> None:
    (tmp_path / PID_FILE).write_text("1\n")  # the restart's process began now
    now = time.time()
    old = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now - 600))
    new = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now + 1))
    jobs = parse_jobcomp(JOBCOMP.format(id=1, state="TIMEOUT", dir=tmp_path, submitted=old, exit="0:0") + "\n"
                         + JOBCOMP.format(id=2, state="COMPLETED", dir=tmp_path, submitted=new, exit="0:0"))
    assert [j.job_id for j in attempt_jobs(jobs, tmp_path)] == ["2"]


def test_pending_reasons_are_notes_and_jobs_slurm_ended_are_errors_the_shared_rules_match(tmp_path: Path) -> None:
    jobs = parse_squeue(row(3, "PENDING", "ReqNodeNotAvail, UnavailableNodes:vm", tmp_path)) + parse_jobcomp(
        JOBCOMP.format(id=2, state="TIMEOUT", dir=tmp_path, submitted="2026-12-06T01:00:00", exit="0:0"))
    seen = with_slurm(Observation(RunState.FAILED, message="bps: 2 quanta failed"), jobs)
    assert seen.state == RunState.FAILED  # bps decides the state; Slurm explains it
    assert "Slurm blocked: job 3 PENDING (ReqNodeNotAvail, UnavailableNodes:vm)" in seen.message
    assert seen.errors[0].startswith("slurm TIMEOUT: job 2 (parsl.slurm.block-0.1765.2) reached its time limit")
    waiting = with_slurm(Observation(RunState.RUNNING), parse_squeue(row(4, "PENDING", "Resources", tmp_path)))
    assert waiting.state == RunState.RUNNING and waiting.message == "Slurm waiting: job 4 PENDING (Resources)"

    attempt = Attempt(number=1, kind="submit", output_run="o/a1", config_hash="h", config_path="c",
                      launch_dir=str(tmp_path), submit_dir="/s", state=RunState.FAILED, errors=seen.errors,
                      failed_jobs=seen.failed_jobs,
                      transitions=(Transition("2026-12-06T01:00:00+00:00", RunState.FAILED),))
    failure = Failure.of(attempt)
    assert failure.wms_codes == ("slurm:TIMEOUT",)
    first = next(r for r in load_rules(ROOT) if check(r, failure).matched)
    assert (first.name, first.action) == ("slurm-timeout", "review")  # not transient-io's blind retry


@pytest.mark.parametrize(("state", "rule"), [("NODE_FAIL", "slurm-node-fail"), ("PREEMPTED", "slurm-node-fail")])
def test_a_lost_node_is_retried_by_the_shared_rules(tmp_path: Path, state: str, rule: str) -> None:
    jobs = parse_jobcomp(JOBCOMP.format(id=9, state=state, dir=tmp_path, submitted="2026-12-06T01:00:00",
                                        exit="0:0"))
    seen = with_slurm(Observation(RunState.FAILED), jobs)
    attempt = Attempt(number=1, kind="submit", output_run="o/a1", config_hash="h", config_path="c",
                      launch_dir=str(tmp_path), submit_dir="/s", state=RunState.FAILED, errors=seen.errors,
                      failed_jobs=seen.failed_jobs,
                      transitions=(Transition("2026-12-06T01:00:00+00:00", RunState.FAILED),))
    first = next(r for r in load_rules(ROOT) if check(r, Failure.of(attempt)).matched)
    assert (first.name, first.action) == (rule, "retry")


def test_blocks_parsl_cancels_at_its_own_shutdown_are_not_failures_but_an_earlier_scancel_is(tmp_path: Path) -> None:
    now = time.time()
    log = tmp_path / "runinfo" / "000" / "parsl.log"
    log.parent.mkdir(parents=True)
    # parsl's own lines (parsl/jobs/job_status_poller.py close()), as a demo run on the cluster wrote them.
    log.write_text(f"{now - 100:.6f} 2026-12-06 01:25:11 MainProcess-1824 MainThread-1 parsl.dataflow.dflow:1183 "
                   "cleanup INFO: Closing job status poller\n"
                   f"{now - 100:.6f} 2026-12-06 01:25:11 MainProcess-1824 MainThread-1 "
                   "parsl.jobs.job_status_poller:56 close INFO: Scaling in executor slurm\n")
    at = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))  # noqa: E731
    line = JOBCOMP.replace("EndTime=2026-12-06T01:17:35", "EndTime={ended}")
    jobs = parse_jobcomp("\n".join([
        line.format(id=1, state="CANCELLED", dir=tmp_path, submitted=at(now - 300), ended=at(now - 200), exit="0:0"),
        line.format(id=2, state="CANCELLED", dir=tmp_path, submitted=at(now - 300), ended=at(now - 99), exit="0:0"),
    ]))
    assert [j.job_id for j in attempt_jobs(jobs, tmp_path)] == ["1"]  # 2 was parsl's own scancel at shutdown


def test_a_job_slurm_requeued_after_its_node_failed_keeps_its_node_fail_beside_its_new_row(tmp_path: Path) -> None:
    # As the cluster did here (test_slurm_cluster.py): NODE_FAIL logged, then the same id PENDING (BeginTime).
    fake_squeue(tmp_path / "bin", row(17, "PENDING", "BeginTime", tmp_path, "2026-12-06T03:54:36") + "\n"
                + row(18, "COMPLETING", "None", tmp_path), tmp_path / "calls")
    logged = "\n".join(JOBCOMP.format(id=i, state=s, dir=tmp_path, submitted="2026-12-06T03:53:45", exit="0:0")
                       for i, s in ((17, "NODE_FAIL"), (18, "TIMEOUT")))
    jobs = SlurmScheduler(scheduler_env(tmp_path, logged)).jobs()
    assert sorted((j.job_id, j.state) for j in jobs) == [("17", "NODE_FAIL"), ("17", "PENDING"), ("18", "TIMEOUT")]
    seen = with_slurm(Observation(RunState.RUNNING), jobs)
    assert "Slurm requeued job 17 after NODE_FAIL" in seen.message
    assert [j.errors[0].split(":")[0] for j in seen.failed_jobs] == ["slurm NODE_FAIL", "slurm TIMEOUT"]


def test_finished_blocks_elapsed_time_and_cores_come_from_the_jobcomp_log_parsl_cancels_included(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "runinfo" / "000").mkdir(parents=True)
    (run / PID_FILE).write_text("1\n")
    began = (run / PID_FILE).stat().st_mtime
    at = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))  # noqa: E731
    (run / "runinfo" / "000" / "parsl.log").write_text(
        f"{began + 100:.6f} 2026-12-06 01:25:11 MainProcess-1 MainThread-1 parsl.jobs.job_status_poller:56 close "
        "INFO: Scaling in executor slurm\n")
    line = (JOBCOMP.replace("StartTime=2026-12-06T01:16:34 EndTime=2026-12-06T01:17:35", "StartTime={start} EndTime={end}")
            .replace("ProcCnt=1", "ProcCnt={cpus}"))
    logged = "\n".join([
        line.format(id=1, state="COMPLETED", dir=run, submitted=at(began + 1), start=at(began + 2),
                    end=at(began + 62), cpus=2, exit="0:0"),
        line.format(id=2, state="CANCELLED", dir=run, submitted=at(began + 1), start=at(began + 40),
                    end=at(began + 100), cpus=2, exit="0:0"),  # parsl's own scancel at shutdown: it ran
        line.format(id=3, state="CANCELLED", dir=run, submitted=at(began + 1), start=at(began + 100),
                    end=at(began + 100), cpus=0, exit="0:0"),  # cancelled while pending: never ran
    ])
    fake_squeue(tmp_path / "bin", "", tmp_path / "calls")
    launched = launched_from(SlurmScheduler(scheduler_env(tmp_path, logged)).jobs(), run)
    used = job_usage(launched)
    assert [(u.job_id, u.state, u.elapsed_s, u.cores, u.memory_mb) for u in used] == [
        ("1", "COMPLETED", 60.0, 2, 23593), ("2", "CANCELLED", 60.0, 2, 23593)]
    assert sum(u.core_hours for u in used) == pytest.approx(240 / 3600)
    assert [j.job_id for j in attempt_jobs(launched, run)] == ["1"]  # parsl's own scancels are no failures
