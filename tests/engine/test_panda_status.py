"""A status cycle over many PanDA runs against the fake BigPanDA monitor (real HTTP): O(1) requests plus one
per failing task, states mapped, the failing job's diagnostic and log link in the issue, the ledger and the
site page; a monitor answering 429 or HTML leaves runs UNKNOWN."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters.bps.launcher import BpsWms
from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.adapters.panda.wms import PandaWms
from campaignops.domain.states import RunState
from campaignops.engine.context import Context
from campaignops.engine.notify import sync
from campaignops.engine.observe import refresh
from campaignops.ledger import store
from campaignops.registry import make_wms
from campaignops.views import status_page
from fakes.bigpanda import FakeBigPanda, html, panda_campaign, running_ledger, status

N = 40


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeBigPanda:
    return FakeBigPanda(httpserver)


def populate(fake: FakeBigPanda) -> dict[str, int]:
    """Request 1000+i for run visit<i>: 30 running, 4 finished, 3 SubFinished, 2 Failed, 1 Suspended."""
    failing = 0
    for i in range(1, N + 1):
        rid, name = 1000 + i, f"u_lsstsvc1_drp_step1_visit{i}_20261130T080000Z"
        if i <= 30:
            fake.add_workflow(rid, name, "Transforming", tasks=[("isr", "running", 20, 10, 0),
                                                                ("calibrate", "defined", 20, 0, 0)])
        elif i <= 34:
            fake.add_workflow(rid, name, "Finished", tasks=[("isr", "done", 20, 20, 0), ("calibrate", "done", 20, 20, 0)])
        elif i <= 37:
            bad = 2 if i == 35 else 1
            tasks = fake.add_workflow(rid, name, "SubFinished",
                                      tasks=[("isr", "finished" if bad == 2 else "done", 20, 19 if bad == 2 else 20,
                                              1 if bad == 2 else 0),
                                             ("calibrate", "finished", 20, 18, 2)])
            for task in tasks[2 - bad:]:
                fake.add_failed_job(task, 90_000 + i * 10 + task.jeditaskid % 10, transexitcode=1,
                                    exeerrorcode=1, exeerrordiag=f"lsst.pipe.base: RuntimeError: PSF failed (visit {i})",
                                    piloterrorcode=1305, piloterrordiag="Failed to execute payload")
                failing += 1
        elif i <= 39:
            (task,) = fake.add_workflow(rid, name, "Failed", tasks=[("isr", "failed", 20, 0, 20)])
            fake.add_failed_job(task, 80_000 + i, piloterrorcode=1324, piloterrordiag="Service not available",
                                transexitcode=0, maxpss=9_437_184, minramcount=8000)
            failing += 1
        else:
            fake.add_workflow(rid, name, "Suspended", tasks=[("isr", "running", 20, 3, 0)])
    return {"failing_tasks": failing}


def context(tmp_path: Path, fake: FakeBigPanda) -> Context:
    campaign = panda_campaign(tmp_path, N)
    env = {"PANDAMON_URL": fake.url, "PANDAMON_USERNAME": "lsstsvc1", "PANDAMON_REQUESTS_PER_HOUR": "50"}
    wms = make_wms(campaign.profile, tmp_path / "work", env=env)
    assert isinstance(wms, PandaWms)
    return Context(root=tmp_path, campaign=campaign, wms=wms, workdir=tmp_path / "work", say=lambda _: None,
                   may_launch=False, now=lambda: "2026-11-30T12:00:00Z")


def test_a_status_cycle_over_many_runs_costs_two_requests_plus_one_per_failing_task(
        tmp_path: Path, fake: FakeBigPanda) -> None:
    expected = populate(fake)
    ctx = context(tmp_path, fake)
    ledger = running_ledger(ctx.campaign, [1000 + i for i in range(1, N + 1)])

    ledger, changes = refresh(ctx, ledger)

    paths = [p for p, _, _ in fake.log]
    assert paths.count("/idds/wfprogress/") == 1 and paths.count("/tasks/") == 1
    assert paths.count("/jobs/") == expected["failing_tasks"] == 6
    states = {r.group: r.state for r in ledger.runs}
    assert [states[f"visit{i}"] for i in (1, 30, 31, 35, 37, 38, 40)] == [
        RunState.RUNNING, RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED, RunState.FAILED, RunState.FAILED,
        RunState.HELD]
    assert len(changes) == 10  # every run that left RUNNING

    # what the ledger keeps survives its own reading (schema, seal)
    again = store.load(ctx.campaign_dir, ctx.campaign.name)
    record = again.run("step1/visit35")
    assert record is not None and record.current is not None
    assert len(record.current.failed_jobs) == 2
    assert {j.task for j in record.current.failed_jobs} == {"isr", "calibrate"}
    assert dict(record.current.links)["workflow"] == f"{fake.url}idds/wfprogress/?requestid=1035"

    # the failure issue names the failing job, its diagnostic and its own log, with the monitor links
    tracker = FolderTracker(tmp_path / "issues")
    actions = sync(ctx.campaign, again, tracker)
    assert len([a for a in actions if "opened" in a]) == 6  # 5 failed + 1 held
    (issue,) = [i for i in tracker.issues("drp") if i.key == "drp/step1/visit38"]
    assert "pilot 1324: Service not available" in issue.body
    assert "[log](https://logs.example.org/SLAC/pilot/80038/payload.stdout)" in issue.body
    assert "| 9216 / 8000 |" in issue.body  # peak PSS above the request: memory
    assert f"[failed jobs]({fake.url}jobs/?jeditaskid=" in issue.body
    assert f"[workflow]({fake.url}idds/wfprogress/?requestid=1038)" in issue.body

    # the site's page lists the failing and active runs with their monitor links
    (tmp_path / "campaigns" / "drp" / "campaign.yaml").write_text("name: drp\n")
    status_page.write_pages(tmp_path, datetime(2026, 11, 30, 12, tzinfo=UTC), load=lambda p, r: ctx.campaign)
    site = (tmp_path / "sites" / "USDF.md").read_text()
    failing = site.split("## Failing runs")[1].split("## Active runs")[0]
    assert "`step1/visit38` | FAILED" in failing and "`step1/visit40` | HELD" in failing
    assert "exe 1: lsst.pipe.base: RuntimeError: PSF failed (visit 36)" in failing
    assert "`step1/visit1` | RUNNING" in site.split("## Active runs")[1]
    assert "[USDF](sites/USDF.md)" in (tmp_path / "STATUS.md").read_text()
    page = (tmp_path / "campaigns" / "drp" / "STATUS.md").read_text()
    visit38 = page.split("### step1/visit38")[1].split("### step1/")[0]
    assert "Failed jobs (attempt 1):" in visit38
    assert "[log](https://logs.example.org/SLAC/pilot/80038/payload.stdout)" in visit38


@pytest.mark.parametrize("answer", [status(429), html()])
def test_a_throttled_or_html_monitor_leaves_runs_unknown_and_the_next_cycle_recovers(
        tmp_path: Path, fake: FakeBigPanda, answer: object) -> None:
    populate(fake)
    ctx = context(tmp_path, fake)
    ledger = running_ledger(ctx.campaign, [1000 + i for i in range(1, N + 1)])
    fake.faults.append(answer)  # type: ignore[arg-type]
    ledger, _ = refresh(ctx, ledger)
    assert {r.state for r in ledger.runs} == {RunState.UNKNOWN}
    assert all(r.current is not None and r.current.links for r in ledger.runs)
    assert len(fake.log) == 1  # the first refusal stops the cycle: no request per run
    ledger, _ = refresh(ctx, ledger)  # the next cycle asks again
    assert {r.group: r.state for r in ledger.runs}["visit38"] == RunState.FAILED


def test_without_a_monitor_panda_runs_are_observed_through_bps_report(tmp_path: Path) -> None:
    campaign = panda_campaign(tmp_path, 1)
    assert type(make_wms(campaign.profile, tmp_path, env={})) is BpsWms
    with_profile = panda_campaign(tmp_path, 1, monitor_url="https://bigmon.example.org/")
    wms = make_wms(with_profile.profile, tmp_path, env={})
    assert isinstance(wms, PandaWms) and wms.monitor.base_url == "https://bigmon.example.org/"
    assert make_wms(with_profile.profile, tmp_path, env={}) is wms  # campaigns of one process share the client
    overridden = make_wms(with_profile.profile, tmp_path, env={"PANDAMON_URL": "http://127.0.0.1:9/"})
    assert isinstance(overridden, PandaWms) and overridden.monitor.base_url == "http://127.0.0.1:9/"


def test_the_run_id_printed_late_by_bps_submit_is_captured_and_followed(tmp_path: Path, fake: FakeBigPanda) -> None:
    import os
    from dataclasses import replace

    from campaignops.adapters.bps.launcher import SUBMIT_LOG
    from campaignops.adapters.processes import PID_FILE

    fake.add_workflow(4321, "u_lsstsvc1_drp_step1_visit1_20261130T080000Z", "Transforming",
                      tasks=[("isr", "running", 10, 1, 0)])
    ctx = context(tmp_path, fake)
    launch = tmp_path / "work" / "drp" / "step1" / "visit1" / "a01"
    launch.mkdir(parents=True)
    (launch / PID_FILE).write_text(f"{os.getpid()}\n")  # bps is still running (building the graph)
    (launch / SUBMIT_LOG).write_text("Submit dir: /submit/visit1\n")
    (record,) = running_ledger(ctx.campaign, [1]).runs[:1]
    assert record.current is not None
    pending = replace(record.current, state=RunState.PENDING, wms_id="", submit_dir="", launch_dir=str(launch))
    ledger = running_ledger(ctx.campaign, [1])
    ledger = replace(ledger, runs=(record.with_attempt(pending),))

    ledger, _ = refresh(ctx, ledger)
    current = ledger.runs[0].current
    assert current is not None and current.state == RunState.PENDING and current.wms_id == ""
    assert fake.log == []  # nothing to ask the monitor yet

    with (launch / SUBMIT_LOG).open("a") as log:  # an hour later bps prints the iDDS request id
        log.write("Run Id: 4321\nRun Name: u_lsstsvc1_drp_step1_visit1_20261130T080000Z\n")
    ledger, _ = refresh(ctx, ledger)
    current = ledger.runs[0].current
    assert current is not None and current.wms_id == "4321" and current.state == RunState.RUNNING
    assert dict(current.links)["tasks"] == f"{fake.url}tasks/?idds_request_id=4321"
