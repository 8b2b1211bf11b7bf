"""The BigPanDA monitor client and the PanDA WMS over real HTTP against a local fake monitor (tests/fakes/bigpanda.py):
bulk observation, state mapping, failed jobs, the shared hourly budget, and every way the monitor can fail."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from campaignops.adapters.panda import monitor as monitor_mod
from campaignops.adapters.panda.budget import BudgetSpent, RequestBudget
from campaignops.adapters.panda.monitor import BigPandaMonitor
from campaignops.adapters.panda.states import run_state, split_task_name
from campaignops.adapters.panda.wms import PandaWms, window_days
from campaignops.domain.states import RunState
from campaignops.ports import Submission
from fakes.bigpanda import FakeBigPanda, drifted, html, status

WF = "u_lsstsvc1_drp_step1_20261130T080000Z"


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeBigPanda:
    return FakeBigPanda(httpserver)


def make_wms(fake: FakeBigPanda, tmp_path: Path, per_hour: int = 100, token: str = "", timeout: float = 5.0,
             username: str = "lsstsvc1") -> PandaWms:
    client = BigPandaMonitor(fake.url, RequestBudget(tmp_path / "budget.json", per_hour), token=token, timeout=timeout)
    return PandaWms(client, username=username)


def runs(*ids: int) -> list[tuple[Submission, Path]]:
    """Runs submitted two hours ago, so the cycle asks the monitor for its smallest (7-day) window."""
    submitted = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [(Submission(f"/submit/{i}", str(i), submitted), Path(f"/launch/{i}")) for i in ids]


def test_states_follow_the_idds_request_and_subfinished_is_failed_not_succeeded(fake: FakeBigPanda,
                                                                                tmp_path: Path) -> None:
    fake.add_workflow(1, f"{WF}a", "Transforming", tasks=[("isr", "running", 10, 4, 0)])
    fake.add_workflow(2, f"{WF}b", "Finished", tasks=[("isr", "done", 10, 10, 0), ("calibrate", "done", 10, 10, 0)])
    sub = fake.add_workflow(3, f"{WF}c", "SubFinished",
                            tasks=[("isr", "done", 10, 10, 0), ("calibrate", "finished", 10, 8, 2)])
    fake.add_failed_job(sub[1], 9001, piloterrorcode=1305, piloterrordiag="Failed to execute payload",
                        exeerrorcode=1, exeerrordiag="RuntimeError: PSF fit failed for detector 42")
    fake.add_workflow(4, f"{WF}d", "Suspended", tasks=[("isr", "running", 10, 2, 0)])
    fake.add_workflow(5, f"{WF}e", "Cancelled")
    fake.add_workflow(6, f"{WF}f", "Hibernating")  # a word this version does not know

    seen = make_wms(fake, tmp_path).observe_many(runs(1, 2, 3, 4, 5, 6, 7), "")

    assert {k: v.state for k, v in seen.items()} == {
        "1": RunState.RUNNING, "2": RunState.SUCCEEDED, "3": RunState.FAILED, "4": RunState.HELD,
        "5": RunState.CANCELLED, "6": RunState.UNKNOWN, "7": RunState.UNKNOWN}
    assert dict(seen["1"].tasks[0].counts) == {"SUCCEEDED": 4, "RUNNING": 6}
    assert [t.label for t in seen["2"].tasks] == ["calibrate", "isr"]
    failed = seen["3"]
    assert dict(next(t for t in failed.tasks if t.label == "calibrate").counts) == {"FAILED": 2, "SUCCEEDED": 8}
    assert "SubFinished" in failed.message
    (job,) = failed.failed_jobs
    assert job.task == "calibrate" and job.job_id == "9001" and (job.attempt, job.max_attempts) == (3, 3)
    assert job.errors == ("exe 1: RuntimeError: PSF fit failed for detector 42", "pilot 1305: Failed to execute payload")
    assert (job.maxpss_mb, job.request_mb) == (3072, 4000)  # "3072.00" MB as the view gives it with a task
    assert job.log_url == "https://logs.example.org/SLAC/pilot/9001/payload.stdout"
    assert any("PSF fit failed" in e and "payload.stdout" in e for e in failed.errors)
    assert dict(failed.links)["failed jobs"].endswith(f"jobs/?jeditaskid={sub[1].jeditaskid}&jobstatus=failed")
    assert dict(failed.links)["workflow"] == f"{fake.url}idds/wfprogress/?requestid=3"
    assert "iDDS status 'Hibernating'" in seen["6"].message
    assert "lists no workflow 7" in seen["7"].message
    # one bulk workflow request, one bulk task request, one jobs request for the one failing task of a failed run
    assert [p for p, _, _ in fake.log] == ["/idds/wfprogress/", "/tasks/", "/jobs/"]
    assert fake.log[0][1]["username"] == "lsstsvc1" and "json" in fake.log[0][1]


def test_a_running_workflow_with_failures_costs_no_jobs_request(fake: FakeBigPanda, tmp_path: Path) -> None:
    tasks = fake.add_workflow(1, WF, "Transforming", tasks=[("isr", "running", 10, 5, 1)])
    tasks[0].errordialog = "1 files failed"
    seen = make_wms(fake, tmp_path).observe_many(runs(1), "")["1"]
    assert seen.state == RunState.RUNNING and seen.failed_jobs == ()
    assert fake.requests("/jobs/") == []
    assert "failed jobs" in dict(seen.links)  # the people's link is there all the same


@pytest.mark.parametrize(("answer", "words"), [
    (status(429), "429 Too Many Requests"),
    (status(500), "answered 500"),
    (status(503), "answered 503"),
    (html(), "HTML page, not JSON"),
    (Response("[{\"request_id\": 1, ", content_type="application/json"), "malformed JSON"),
    (drifted([{"request_id": 1, "r_name": WF, "r_status": "Failed"}]), "lack 'request_id', 'r_name', 'r_status'"),
    (Response("{\"error\": \"db\"}", content_type="application/json"), "not a list"),
])
def test_a_monitor_that_fails_makes_every_run_unknown_never_failed(fake: FakeBigPanda, tmp_path: Path,
                                                                    answer: Response, words: str) -> None:
    fake.add_workflow(1, WF, "Failed", tasks=[("isr", "failed", 1, 0, 1)])
    fake.faults.append(answer)
    seen = make_wms(fake, tmp_path).observe_many(runs(1, 2), "")
    assert {o.state for o in seen.values()} == {RunState.UNKNOWN}
    assert words in seen["1"].message
    assert dict(seen["1"].links)["workflow"].endswith("requestid=1")  # links need no request


def test_a_slow_monitor_times_out_into_unknown(fake: FakeBigPanda, tmp_path: Path) -> None:
    fake.add_workflow(1, WF, "Failed")
    fake.delay = 1.5
    seen = make_wms(fake, tmp_path, timeout=0.5).observe_many(runs(1), "")["1"]
    assert seen.state == RunState.UNKNOWN and "did not answer within 0.5 s" in seen.message


def test_a_drifted_jobs_answer_leaves_the_run_failed_with_a_note(fake: FakeBigPanda, tmp_path: Path) -> None:
    tasks = fake.add_workflow(1, WF, "Failed", tasks=[("isr", "failed", 4, 0, 4)])
    fake.add_failed_job(tasks[0], 5)
    wms = make_wms(fake, tmp_path)
    wms.monitor.workflows(username="lsstsvc1", days=7)  # cached for the cycle
    wms.monitor.tasks(username="lsstsvc1", days=7)
    fake.faults.append(Response("{\"JOBS\": []}", content_type="application/json"))
    seen = wms.observe_many(runs(1), "")["1"]
    assert seen.state == RunState.FAILED  # the workflow said so; only the details are missing
    assert "failed jobs of task" in seen.message and "no 'jobs' list" in seen.message


def test_a_cut_task_list_is_asked_again_with_a_larger_limit(fake: FakeBigPanda, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor_mod, "TASK_LIMIT", 4)
    for i in range(1, 4):
        fake.add_workflow(i, f"{WF}{i}", "Transforming", tasks=[("isr", "running", 2, 1, 0), ("calib", "running", 2, 0, 0)])
        fake.workflows[i]["total_tasks"] = 0  # the workflow view counts fewer tasks than JEDI has (retried tasks)
    seen = make_wms(fake, tmp_path).observe_many(runs(1, 2, 3), "")
    assert all(len(o.tasks) == 2 for o in seen.values())
    assert [a["limit"] for p, a, _ in fake.log if p == "/tasks/"] == ["4", "40"]


def test_the_task_limit_asked_covers_the_tasks_the_workflows_announce(fake: FakeBigPanda, tmp_path: Path) -> None:
    for i in range(1, 3001):
        fake.add_workflow(i, f"{WF}{i}", "Transforming", tasks=[("isr", "running", 2, 1, 0), ("calib", "running", 2, 0, 0)])
    seen = make_wms(fake, tmp_path).observe_many(runs(*range(1, 3001)), "")
    assert all(len(o.tasks) == 2 for o in seen.values()) and "cut" not in seen["1"].message
    assert [a["limit"] for p, a, _ in fake.log if p == "/tasks/"] == ["8000"]  # 6000 tasks, one request


def test_without_a_username_tasks_are_asked_by_request_id(fake: FakeBigPanda, tmp_path: Path) -> None:
    fake.add_workflow(1, WF, "Transforming", tasks=[("isr", "running", 2, 1, 0)])
    make_wms(fake, tmp_path, username="").observe_many(runs(1), "")
    assert fake.requests("/tasks/")[0][1]["idds_request_id"] == "1"
    assert "username" not in fake.requests("/idds/wfprogress/")[0][1]


def test_the_bearer_token_is_sent_when_configured(fake: FakeBigPanda, tmp_path: Path) -> None:
    fake.add_workflow(1, WF, "Finished")
    make_wms(fake, tmp_path, token="eyJ.tok.en").observe_many(runs(1), "")
    assert {auth for _, _, auth in fake.log} == {"Bearer eyJ.tok.en"}


def test_a_spent_budget_sends_nothing_and_says_when_the_next_check_is(fake: FakeBigPanda, tmp_path: Path) -> None:
    fake.add_workflow(1, WF, "Transforming", tasks=[("isr", "running", 2, 1, 0)])
    wms = make_wms(fake, tmp_path, per_hour=2)
    assert wms.observe_many(runs(1), "")["1"].state == RunState.RUNNING  # 2 requests: the budget is used
    other = make_wms(fake, tmp_path, per_hour=2)  # another process, same work dir
    seen = other.observe_many(runs(1), "")["1"]
    assert seen.state == RunState.UNKNOWN
    assert "monitor budget spent" in seen.message and "next check at" in seen.message
    assert len(fake.log) == 2


def test_the_budget_is_shared_by_processes_and_slides_with_the_hour(tmp_path: Path) -> None:
    now = [1_000_000.0]
    budget = RequestBudget(tmp_path / "b.json", 3, clock=lambda: now[0])
    budget.take()
    code = ("import sys; from pathlib import Path; from campaignops.adapters.panda.budget import RequestBudget; "
            f"b = RequestBudget(Path({str(tmp_path / 'b.json')!r}), 3, clock=lambda: {now[0] + 1}); b.take(); b.take()")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(BudgetSpent) as spent:
        budget.take()
    assert spent.value.next_at == pytest.approx(now[0] + 3600)
    now[0] += 3600.5  # the first request left the window
    budget.take()
    assert budget.used() == 3


def test_window_and_names() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert window_days(None, now) == 7
    assert window_days(now - timedelta(days=10), now) == 14
    assert window_days(now - timedelta(days=400), now) == 365
    assert split_task_name(f"{WF}_03_calibrate_image_01") == (WF, "calibrate_image")
    assert split_task_name(f"{WF}_03_isr_01", WF) == (WF, "isr")
    assert split_task_name("build_task") == ("", "build_task")
    assert run_state("SubFinished")[0] == RunState.FAILED
    assert run_state("Expired")[0] == RunState.FAILED
    assert run_state("ToCancel")[0] == RunState.RUNNING


def test_campaigns_of_one_cycle_share_the_answers_and_the_next_cycle_asks_again(fake: FakeBigPanda,
                                                                               tmp_path: Path) -> None:
    for i in (1, 2):
        fake.add_workflow(i, f"{WF}{i}", "Transforming", tasks=[("isr", "running", 2, 1, 0)])
    wms = make_wms(fake, tmp_path)
    assert wms.observe_many(runs(1), "")["1"].state == RunState.RUNNING  # campaign A
    assert wms.observe_many(runs(2), "")["2"].state == RunState.RUNNING  # campaign B, same cycle
    assert len(fake.log) == 2
    fake.workflows[1]["r_status"] = "Finished"
    assert wms.observe_many(runs(1), "")["1"].state == RunState.SUCCEEDED  # run 1 again: a new cycle
    assert len(fake.log) == 4


def test_tasks_are_matched_to_their_workflow_by_name(fake: FakeBigPanda, tmp_path: Path) -> None:
    made = fake.add_workflow(1, WF, "Transforming", tasks=[("isr", "running", 2, 1, 0)])
    made[0].taskname = f"{WF}_01_my_03_label_01"  # a label that looks like a task number
    fake.add_workflow(2, f"{WF}other", "Transforming", tasks=[("isr", "running", 5, 5, 0)])
    fake.tasks[2][0].taskname = "someone_else_01_isr_01"  # reqid 1 too, but not named after workflow 1
    fake.tasks[1].append(fake.tasks[2][0])
    seen = make_wms(fake, tmp_path).observe_many(runs(1), "")["1"]
    assert [(t.label, t.total) for t in seen.tasks] == [("my_03_label", 2)]
