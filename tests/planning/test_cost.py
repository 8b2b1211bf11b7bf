"""What a campaign cost: per step and for the campaign, core-hours, CPU hours and peak memory from each attempt's
jobs, and the share lost to failures (failed jobs, and the whole of an attempt that a full re-run replaced);
from PanDA's job records (a fake BigPanDA monitor on real HTTP, bigmon's field names), a Slurm jobcomp line, and
the quanta's metadata; shown by `campaign profile` and on the campaign page."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from campaignops.adapters.panda.budget import RequestBudget
from campaignops.adapters.panda.monitor import BigPandaMonitor
from campaignops.adapters.panda.wms import PandaWms
from campaignops.adapters.profile import write_record
from campaignops.adapters.slurm.scheduler import parse_jobcomp
from campaignops.domain.states import RunState
from campaignops.domain.usage import JobUse, QuantumUsage, ResourceUse
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.planning.cost import (
    cost_table,
    from_records,
    to_records,
    uses_from_batch_jobs,
    uses_from_quanta,
)
from campaignops.ports import Submission, usage_of
from campaignops.views.cost import cost_markdown
from campaignops.views.pages import recorded
from fakes.bigpanda import FakeBigPanda


def attempt(n: int, kind: str = "submit", state: RunState = RunState.FAILED, step: str = "step1") -> Attempt:
    return Attempt(n, kind, f"out/{step}/{n}", "h", "c", "l", submit_dir="/s", wms_id=str(100 + n), state=state)


def ledger() -> Ledger:
    return Ledger("c", (
        RunRecord("step1", "g1", "", (attempt(1), attempt(2, "restart", RunState.SUCCEEDED))),
        RunRecord("step2", "g1", "", (attempt(1, step="step2"), attempt(2, "retry-memory", RunState.SUCCEEDED,
                                                                       "step2"))),
    ))


def test_lost_is_the_failed_jobs_and_the_whole_attempt_a_full_rerun_replaced() -> None:
    hour = 3600.0
    uses = [
        ResourceUse("step1/g1", 1, "panda", (JobUse(1, hour, 3000, 2048, False), JobUse(4, hour, 9000, 6000, True))),
        ResourceUse("step1/g1", 2, "panda", (JobUse(4, hour / 2, 5000, 5000, False),)),
        ResourceUse("step2/g1", 1, "panda", (JobUse(2, hour, 7000, 1000, False), JobUse(2, hour, 100, 900, True))),
        ResourceUse("step2/g1", 2, "panda", (JobUse(2, 2 * hour, 7000, 1800, False),)),
    ]
    step1, step2, total = cost_table(ledger(), uses, ["step1", "step2"])
    assert (step1.what, step1.attempts, step1.jobs, step1.core_hours) == ("step1", 2, 3, 7.0)
    assert step1.lost_core_hours == 4.0 and step1.lost_share == pytest.approx(4 / 7)  # the failed 4-core job
    assert step1.peak_memory_mb == 6000 and step1.cpu_hours == pytest.approx(17000 / hour)
    # step2's second attempt ran every quantum again (more memory, no rescue): the first one is lost whole
    assert (step2.core_hours, step2.lost_core_hours) == (8.0, 4.0)
    assert (total.what, total.core_hours, total.lost_core_hours, total.sources) == ("campaign", 15.0, 8.0, ("panda",))
    kept = to_records([step1, step2, total])
    assert to_records(list(from_records({"cost": kept}))) == kept


def test_the_wms_record_of_an_attempt_replaces_its_quanta_metadata() -> None:
    quanta = [QuantumUsage("step1", "isr", 900, 50, 60, "out/step1/1"),
              QuantumUsage("step1", "isr", 1200, 70, 90, "out/step1/2"),
              QuantumUsage("step1", "isr", 1, 1, 1, "not/ours")]
    from_metadata = uses_from_quanta(ledger(), quanta)
    assert sorted((u.run, u.attempt, u.source, len(u.jobs)) for u in from_metadata) == [
        ("step1/g1", 1, "metadata", 1), ("step1/g1", 2, "metadata", 1)]
    panda = ResourceUse("step1/g1", 2, "panda", (JobUse(8, 3600, 100, 4000, False),))
    step1, _ = cost_table(ledger(), [*from_metadata, panda])
    assert step1.core_hours == pytest.approx(60 / 3600 + 8) and step1.sources == ("metadata", "panda")


def test_panda_job_records_from_the_monitor_become_the_attempts_use(httpserver: HTTPServer, tmp_path: Path) -> None:
    fake = FakeBigPanda(httpserver)
    tasks = fake.add_workflow(101, "u_lsstsvc1_drp_step1_20261130T080000Z", "SubFinished",
                              tasks=[("isr", "done", 2, 2, 0), ("calibrate", "finished", 2, 1, 1)])
    fake.add_failed_job(tasks[0], 1, jobstatus="finished", actualcorecount=1, durationsec=1800,
                        cpuconsumptiontime=1500, maxpss=2_097_152)  # kB, as PanDA stores it: 2048 MB
    fake.add_failed_job(tasks[1], 2, jobstatus="finished", actualcorecount=0, corecount=4, durationsec=3600,
                        cpuconsumptiontime=12000, maxpss=5_242_880)
    fake.add_failed_job(tasks[1], 3, durationsec=None, starttime="2026-11-30 09:00:00",
                        endtime="2026-11-30 10:00:00", actualcorecount=2)  # failed; wall time from start/end
    wms = PandaWms(BigPandaMonitor(fake.url, RequestBudget(tmp_path / "budget.json", 100)))
    reporter = usage_of(wms)
    assert reporter is not None
    [use] = reporter.resource_use([("step1/g1", 1, Submission("/s", "101", "2026-11-30T08:00:00Z"))])
    assert (use.run, use.attempt, use.source) == ("step1/g1", 1, "panda")
    assert sorted((j.cores, j.wall_s, j.cpu_s, j.memory_mb, j.failed) for j in use.jobs) == [
        (1, 1800.0, 1500.0, 2048.0, False), (2, 3600.0, 1200.0, 3072.0, True), (4, 3600.0, 12000.0, 5120.0, False)]
    jobs = [q for p, q, _ in fake.requests("jobs/")]
    assert jobs and set(jobs[0]["fields"].split(",")) >= {"cpuconsumptiontime", "maxpss", "actualcorecount",
                                                            "corecount", "durationsec", "jobstatus"}


def test_slurm_batch_jobs_recorded_on_an_attempt_cost_cores_times_elapsed_and_a_timeout_is_lost() -> None:
    line = ("JobId=7 UserId=root(0) GroupId=root(0) Name=parsl.slurm.block-0.1765.2 JobState=TIMEOUT "
            "Partition=debug TimeLimit=1 StartTime=2026-12-06T01:16:34 EndTime=2026-12-06T01:17:35 NodeList=vm "
            "NodeCnt=1 ProcCnt=2 WorkDir=/l ReservationName= Tres=cpu=1,mem=23593M,node=1,billing=1 Account= "
            "QOS= WcKey= Cluster=unknown SubmitTime=2026-12-06T01:16:33 EligibleTime=2026-12-06T01:16:33 "
            "DerivedExitCode=0:0 ExitCode=0:1")
    timed_out = parse_jobcomp(line)[0].usage()
    ended_by_parsl = line.replace("JobId=7", "JobId=8").replace("JobState=TIMEOUT", "JobState=CANCELLED by 0")
    cancelled = parse_jobcomp(ended_by_parsl)[0].usage()
    assert timed_out is not None and cancelled is not None
    assert (timed_out.cores, timed_out.elapsed_s, timed_out.state) == (2, 61.0, "TIMEOUT")
    first = replace(attempt(1), job_usage=(timed_out,))
    second = replace(attempt(2, "restart", RunState.SUCCEEDED), job_usage=(cancelled,))
    slurm = Ledger("c", (RunRecord("step1", "g1", "", (first, second)),))
    uses = uses_from_batch_jobs(slurm)
    assert [(u.run, u.attempt, u.source) for u in uses] == [("step1/g1", 1, "slurm"), ("step1/g1", 2, "slurm")]
    step1, total = cost_table(slurm, uses, ["step1"])
    assert step1.core_hours == pytest.approx(2 * 2 * 61 / 3600)
    # the TIMEOUT's block is lost work; a block parsl cancelled when bps ended is not
    assert step1.lost_core_hours == pytest.approx(2 * 61 / 3600) and total.sources == ("slurm",)


def test_the_cost_table_is_recorded_beside_the_profile_and_read_back_for_the_page(tmp_path: Path) -> None:
    uses = [ResourceUse("step1/g1", 1, "panda", (JobUse(4, 3600, 3600, 6000, True),)),
            ResourceUse("step1/g1", 2, "panda", (JobUse(4, 3600, 3600, 6000, False),))]
    rows = cost_table(ledger(), uses)
    path = tmp_path / "profile.yaml"
    assert write_record(path, "c", [], to_records(rows))
    assert yaml.safe_load(path.read_text())["cost"][0]["what"] == "step1"
    tasks, cost = recorded(path)
    assert tasks == () and list(cost) == rows
    page = cost_markdown(list(cost))
    assert page[0] == "## Cost"
    assert "| step1 | 2 | 2 | 8.0 | 2.0 | 5.9 GB | 4.0 (50%) | panda |" in page
    assert "| **campaign** | 2 | 2 | 8.0 | 2.0 | 5.9 GB | 4.0 (50%) | panda |" in page
