"""The engine against the in-memory WMS: crash windows, relaunch, adoption, heartbeat, UNKNOWN, acceptance, gates.

Each test is a whole apply/status cycle of a small campaign, with a fresh `Context` (a new process) read
from the ledger on disk wherever a real job would have died; no bps, no Butler, milliseconds each.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.adapters.memory_wms import Crash, InMemoryWms
from campaignops.domain.errors import SubmitError
from campaignops.domain.states import RunState
from campaignops.domain.usage import JobUsage
from campaignops.engine import observe, submit
from campaignops.planning.advance import Verdict
from campaignops.ports import Observation
from fakes.engine_site import Site, make_site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def test_apply_submits_each_ready_run_once_and_never_again(site: Site) -> None:
    site.apply()
    site.apply()
    site.status()
    assert site.wms.submissions("step1/visit1") == 1 and site.wms.submissions("step1/visit2") == 1
    assert site.state("step1/visit1") == RunState.PENDING
    assert site.ledger().run("step2/all") is None  # waits for step1


def test_a_crash_after_the_intent_and_before_bps_starts_is_launched_once_by_the_next_status(site: Site) -> None:
    site.wms.crash_before_launch = True
    with pytest.raises(Crash):
        site.apply()
    assert site.state("step1/visit1") == RunState.SUBMITTING  # the intent is on disk
    assert site.wms.submissions("step1/visit1") == 0
    site.status()
    assert site.wms.submissions("step1/visit1") == 1
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.state == RunState.PENDING
    assert "interrupted apply" in record.current.transitions[-1].note
    site.status()
    assert site.wms.submissions("step1/visit1") == 1


def test_a_crash_after_bps_started_and_before_it_was_recorded_is_never_launched_twice(site: Site) -> None:
    site.wms.crash_after_launch = True
    with pytest.raises(Crash):
        site.apply()
    assert site.state("step1/visit1") == RunState.SUBMITTING
    for _ in range(3):
        site.status()
    assert site.wms.submissions("step1/visit1") == 1
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.wms_id == site.wms.run_for("step1/visit1").wms_id  # the run was found again


def test_a_lost_ledger_entry_adopts_the_launch_already_there(site: Site) -> None:
    site.apply()
    shutil.rmtree(site.root / "campaigns" / "camp" / "ledger")  # e.g. a job killed before its commit
    site.apply()
    assert site.wms.submissions("step1/visit1") == 1
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.transitions[-1].note == "adopted an earlier launch"
    assert record.current.wms_id == site.wms.run_for("step1/visit1").wms_id


def test_a_launch_that_has_not_reached_the_wms_stays_pending_until_it_does(site: Site) -> None:
    site.wms.register_on_launch = False
    site.apply()
    site.wms.run_for("step1/visit1").registered = False
    site.status()
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None and record.current.wms_id == ""
    site.wms.finish("step1/visit1", RunState.RUNNING)
    site.status()
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.wms_id == site.wms.run_for("step1/visit1").wms_id
    assert record.current.state == RunState.RUNNING


def test_an_unreachable_wms_makes_runs_unknown_never_failed_and_they_recover(site: Site) -> None:
    site.apply()
    site.wms.unreachable = True
    site.status()
    assert site.state("step1/visit1") == RunState.UNKNOWN
    site.wms.unreachable = False
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    site.status()
    assert site.state("step1/visit1") == RunState.SUCCEEDED


def test_an_unchanged_run_is_written_only_once_an_hour(site: Site) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.RUNNING)
    site.wms.finish("step1/visit2", RunState.RUNNING)
    site.status()
    ledger_dir = site.root / "campaigns" / "camp" / "ledger"
    written = {p.name: p.read_text() for p in ledger_dir.iterdir()}
    site.clock.advance(15)
    site.status()
    assert {p.name: p.read_text() for p in ledger_dir.iterdir()} == written  # nothing new: no commit every 15 min
    site.clock.advance(60)
    site.status()
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.last_checked == site.clock()  # the heartbeat says the tracker is alive


def test_finished_runs_cost_no_wms_call(site: Site) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    site.wms.finish("step1/visit2", RunState.SUCCEEDED)
    site.status()  # observes both, then submits step2
    calls = site.wms.observed
    site.wms.finish("step2/all", RunState.SUCCEEDED)
    site.status()
    assert site.wms.observed == calls + 1  # only step2


def test_the_next_step_starts_when_every_group_succeeded(site: Site) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    site.status()
    assert site.ledger().run("step2/all") is None
    site.wms.finish("step1/visit2", RunState.SUCCEEDED)
    site.status()
    assert site.state("step2/all") == RunState.PENDING


def test_a_failure_within_the_tolerated_fraction_lets_the_next_step_start(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    tolerant = replace(site.campaign, steps=(replace(site.campaign.steps[0], max_failed_fraction=0.05),
                                             site.campaign.steps[1]))
    site.campaign = tolerant
    site.apply()
    site.wms.finish("step1/visit1", RunState.FAILED, succeeded=99, failed=1)
    site.wms.finish("step1/visit2", RunState.SUCCEEDED)
    site.status()
    assert site.state("step1/visit1") == RunState.FAILED
    assert site.state("step2/all") == RunState.PENDING


def test_a_failure_beyond_the_tolerated_fraction_blocks_the_next_step_with_the_retry_command(site: Site) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.FAILED, succeeded=90, failed=10)
    site.wms.finish("step1/visit2", RunState.SUCCEEDED)
    site.status()
    assert site.ledger().run("step2/all") is None
    _, decisions = submit.apply(site.job(), site.plan, site.ledger())
    blocked = [d for d in decisions if d.run.key == "step2/all"]
    assert blocked[0].verdict == Verdict.BLOCKED and "campaign retry camp step1/GROUP" in blocked[0].reason


def test_a_manual_gate_holds_its_step_until_approved(tmp_path: Path) -> None:
    site = make_site(tmp_path, gate="manual")
    site.apply()
    for key in ("step1/visit1", "step1/visit2"):
        site.wms.finish(key, RunState.SUCCEEDED)
    site.status()
    assert site.ledger().run("step2/all") is None
    _, decisions = submit.apply(site.job(), site.plan, site.ledger())
    assert [d.verdict for d in decisions if d.run.key == "step2/all"] == [Verdict.GATED]
    site.campaign = replace(site.campaign, steps=(site.campaign.steps[0],
                                                  replace(site.campaign.steps[1], approved_by="someone")))
    site.status()
    assert site.state("step2/all") == RunState.PENDING


def test_retry_restarts_the_failed_run_in_place_as_a_new_attempt(site: Site) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.FAILED, failed=1)
    site.status()
    ledger = submit.retry(site.job(), site.plan, site.ledger(), "step1/visit1")
    record = ledger.run("step1/visit1")
    assert record is not None and record.current is not None
    assert (record.current.number, record.current.kind) == (2, "restart")
    assert record.current.output_run == record.attempts[0].output_run  # bps restart keeps the run
    assert site.wms.run_for("step1/visit1").restarts == 1
    assert site.wms.submissions("step1/visit1") == 1


def test_retry_with_more_memory_is_a_new_submission_with_its_own_output_run(site: Site) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.FAILED, failed=1)
    site.status()
    ledger = submit.retry(site.job(), site.plan, site.ledger(), "step1/visit1", 2.0)
    record = ledger.run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.memory_multiplier == 2.0 and record.current.output_run.endswith("/a02")
    assert site.wms.submissions("step1/visit1") == 2


def test_a_running_run_cannot_be_retried(site: Site) -> None:
    site.apply()
    with pytest.raises(SubmitError, match="only a FAILED, HELD or CANCELLED"):
        submit.retry(site.job(), site.plan, site.ledger(), "step1/visit1")


def test_a_look_never_launches_an_interrupted_submission_and_the_runners_job_does(site: Site) -> None:
    site.wms.crash_before_launch = True
    with pytest.raises(Crash):
        site.apply()
    look = site.job()
    look.may_launch = False
    ledger, changes = observe.refresh(look, site.ledger())
    assert changes == [] and site.wms.submissions("step1/visit1") == 0
    assert ledger.run("step1/visit1") is not None and site.state("step1/visit1") == RunState.SUBMITTING
    site.status()  # reconcile: may launch
    assert site.wms.submissions("step1/visit1") == 1


def test_launch_directories_default_to_the_checkout_only_off_a_runner(tmp_path: Path) -> None:
    from campaignops.engine.context import workdir_for

    assert workdir_for(tmp_path, env={}) == tmp_path / ".work"
    outside = tmp_path.parent / "runner-work"
    runner = {"GITHUB_ACTIONS": "true"}
    with pytest.raises(SubmitError, match="CAMPAIGNOPS_WORKDIR is not set on this runner: set the repository"):
        workdir_for(tmp_path, env=runner)
    with pytest.raises(SubmitError, match="inside the checkout"):
        workdir_for(tmp_path, env={**runner, "CAMPAIGNOPS_WORKDIR": str(tmp_path / "work")})
    with pytest.raises(SubmitError, match="inside the checkout"):
        workdir_for(tmp_path, tmp_path / ".work", env=runner)
    assert workdir_for(tmp_path, env={**runner, "CAMPAIGNOPS_WORKDIR": str(outside)}) == outside
    assert workdir_for(tmp_path, outside, env=runner) == outside


def test_a_bps_that_cannot_start_ends_its_attempt_failed_with_the_reason_and_the_others_go_on(site: Site) -> None:
    site.wms.refuse_launch = "bps: command not found"
    ledger = site.apply()
    first, second = ledger.run("step1/visit1"), ledger.run("step1/visit2")
    assert first is not None and first.current is not None and second is not None
    assert first.current.state == RunState.FAILED
    assert first.current.message == "bps could not be started: bps: command not found"
    assert second.state == RunState.PENDING and site.wms.submissions("step1/visit2") == 1


def test_rescue_skips_only_earlier_runs_that_hold_outputs(site: Site) -> None:
    site.wms.refuse_launch = "bps: command not found"
    site.apply()  # visit1: attempt 1 never reached the WMS, so its output run was never made
    ledger = submit.rescue(site.job(), site.plan, site.ledger(), "step1/visit1")
    record = ledger.run("step1/visit1")
    assert record is not None and record.current is not None
    assert "skip-existing-in" not in Path(record.current.config_path).read_text()
    site.wms.finish("step1/visit1", RunState.FAILED, attempt=2, succeeded=6, failed=2)
    site.status()
    ledger = submit.rescue(site.job(), site.plan, site.ledger(), "step1/visit1")
    record = ledger.run("step1/visit1")
    assert record is not None and record.current is not None and record.current.number == 3
    config = Path(record.current.config_path).read_text()
    assert f"--skip-existing-in {record.attempts[1].output_run}" in config
    assert record.attempts[0].output_run not in config


def test_the_failure_issue_suggests_only_what_can_work(site: Site) -> None:
    from campaignops.views.issue import issue_body

    site.wms.refuse_launch = "the pipeline file is missing"
    never_started = site.apply().run("step1/visit1")
    assert never_started is not None and never_started.current is not None
    body = issue_body(site.campaign, never_started, never_started.current, retry_hint="")
    assert "campaign resubmit camp step1/visit1" in body and "supersede: {visit1:" in body
    assert "campaign retry" not in body and "campaign rescue" not in body
    site.wms.finish("step1/visit2", RunState.FAILED, failed=1)
    failed = site.status().run("step1/visit2")
    assert failed is not None and failed.current is not None
    body = issue_body(site.campaign, failed, failed.current, retry_hint="")
    assert "campaign retry camp step1/visit2    # restart" in body


def test_a_submission_without_a_run_id_past_its_limit_is_reported_hanging_and_gets_an_issue(
        site: Site, tmp_path: Path) -> None:
    from campaignops.adapters.folder_tracker import FolderTracker
    from campaignops.engine.notify import sync

    site.wms.register_on_launch = False  # bps keeps building the graph: no submit dir, no run id
    site.apply()
    site.clock.advance(60)
    site.status()
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None and not record.current.hanging
    site.clock.advance(70)  # 2 h 10 min after the launch: past the 2 h default
    site.status()
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.state == RunState.PENDING and record.current.hanging
    assert "more than 2 h without giving a run id" in record.current.message
    index = site.root / "campaigns" / "camp" / "ledger" / "index.yaml"
    written = index.read_text()
    site.clock.advance(15)
    site.status()
    assert index.read_text() == written  # stable: no write a pass (the index lists every file's digest)
    tracker = FolderTracker(tmp_path / "issues")
    actions = sync(site.campaign, site.ledger(), tracker)
    assert any("step1/visit1: opened" in a and "bps submit hangs" in a for a in actions), actions
    [issue] = [i for i in tracker.issues("camp") if i.key == "camp/step1/visit1"]
    assert issue.title == "[camp] step1 visit1 blocked: bps submit hangs (attempt 1)"
    assert sync(site.campaign, site.ledger(), tracker) == []  # reported once


def test_a_count_split_is_frozen_at_the_first_apply_so_appended_ids_form_a_new_run(tmp_path: Path) -> None:
    from campaignops.workspace import open_campaign

    repo_root = tmp_path / "repo"
    (repo_root / "campaigns" / "profiles").mkdir(parents=True)
    (repo_root / "campaigns" / "profiles" / "local-parsl.yaml").write_text(
        "name: local-parsl\ndescription: t\nsite: local\nwms: parsl\nbps:\n  wmsServiceClass: x.Service\n")
    folder = repo_root / "campaigns" / "camp"
    folder.mkdir()
    (folder / "campaign.yaml").write_text(
        "name: camp\ndescription: d\noperator: op\nprofile: local-parsl\nstack: {tag: w_2026_47}\n"
        "butler: {repo: /repo, inputs: [in], output: 'out/{campaign}'}\npipeline: /p.yaml\n"
        "steps:\n  - name: step1\n    subsets: [step1]\n"
        "    split: {by: count, dimension: visit, max_size: 3, source: visits.txt}\n")
    (folder / "visits.txt").write_text("1\n2\n3\n4\n")
    wms = InMemoryWms()
    ws = open_campaign(repo_root, "camp", workdir=tmp_path / "work", wms=wms, say=lambda _: None)
    submit.apply(ws.ctx, ws.plan, ws.ledger)
    (folder / "visits.txt").write_text("1\n2\n3\n4\n5\n6\n")  # two more visits
    ws = open_campaign(repo_root, "camp", workdir=tmp_path / "work", wms=wms, say=lambda _: None)
    assert [(r.key, r.data_query) for r in ws.plan.runs] == [
        ("step1/g0000", "(visit IN (1, 2, 3))"), ("step1/g0001", "(visit = 4)"), ("step1/g0002", "(visit IN (5, 6))")]
    ledger, _ = submit.apply(ws.ctx, ws.plan, ws.ledger)
    assert [r.key for r in ledger.runs] == ["step1/g0000", "step1/g0001", "step1/g0002"]
    assert wms.submissions("step1/g0001") == 1  # the submitted partial group did not grow


def test_a_look_without_the_launch_directory_says_unknown_never_failed(site: Site) -> None:
    """From a laptop clone (or after the runner lost the directory) a run with no run id yet cannot be
    judged: it is UNKNOWN, and the runner's record is not contradicted by a false FAILED."""

    site.wms.register_on_launch = False  # bps has not printed the run id yet
    site.apply()
    shutil.rmtree(site.root / "work")
    ctx = site.job()
    ctx.may_launch = False
    ledger, _ = observe.refresh(ctx, site.ledger())
    record = ledger.run("step1/visit1")
    assert record is not None and record.state == RunState.UNKNOWN
    assert "not on this machine" in record.current.message  # type: ignore[union-attr]
    assert site.wms.submissions("step1/visit1") == 1


def test_batch_jobs_the_scheduler_accounted_are_kept_per_attempt_even_once_it_forgets_them(site: Site) -> None:
    site.apply()
    run = site.wms.run_for("step1/visit1")
    first, second = JobUsage("7", "NODE_FAIL", 50.0, 2), JobUsage("7", "COMPLETED", 600.0, 2, 4000)
    run.observation = Observation(RunState.RUNNING, job_usage=(first,))
    site.status()
    run.observation = Observation(RunState.SUCCEEDED, job_usage=(second,))  # requeued: the same id ended again;
    site.status()  # the NODE_FAIL line is gone from what the scheduler says (a rotated jobcomp log)
    record = site.ledger().run("step1/visit1")
    assert record is not None and record.current is not None
    assert record.current.job_usage == (second, first)  # both ends, in job id order (COMPLETED before NODE_FAIL)
    assert sum(u.core_hours for u in record.current.job_usage) == pytest.approx(650 * 2 / 3600)
