"""Real bps submissions of the demo step1 on the local parsl WMS: launch, observe, fail, restart, report."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from campaignops.adapters.bps.launcher import PID_FILE, SUBMIT_LOG, BpsWms
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.demo.repo import build
from campaignops.domain.logtext import logs_named
from campaignops.domain.model import Campaign
from campaignops.domain.states import RunState
from campaignops.planning.plan import make_plan
from campaignops.planning.render import render_run
from campaignops.ports import Observation, Submission, WmsUnreachable

pytestmark = [pytest.mark.lsst, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SERVICE = "campaignops.bps_plugins.local.LocalParslService"
WAIT_LIMIT = 600.0  # a guard against a hung run, not a performance assertion


def demo_campaign(repo: Path) -> Campaign:
    """The demo campaign, pointed at `repo`, with its pipeline path made absolute."""
    data = yaml.safe_load((ROOT / "campaigns" / "demo" / "campaign.yaml").read_text())
    data["butler"]["repo"] = str(repo)
    data["pipeline"] = str(ROOT / data["pipeline"])
    profile = profile_from_dict(yaml.safe_load((ROOT / "campaigns" / "profiles" / "local-parsl.yaml").read_text()))
    return campaign_from_dict(data, profile)


def write_config(campaign: Campaign, key: str, directory: Path) -> Path:
    plan = make_plan(campaign)
    run = next(r for r in plan.runs if r.key == key)
    path = directory / f"{run.step}__{run.group}.yaml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(render_run(campaign, run, 1, root=ROOT))
    return path


def wait_finished(wms: BpsWms, launch_dir: Path) -> tuple[Submission, Observation, list[RunState]]:
    """Poll like `campaign status` does until the run is finished; returns every state seen."""
    deadline = time.monotonic() + WAIT_LIMIT
    seen: list[RunState] = []
    submission: Submission | None = None
    while time.monotonic() < deadline:
        submission = submission or wms.find_submission(launch_dir)
        if submission is not None:
            observation = wms.observe(submission, launch_dir, "")
            seen.append(observation.state)
            if observation.state.finished:
                return submission, observation, seen
        time.sleep(1.0)
    log = (launch_dir / SUBMIT_LOG).read_text()[-3000:] if (launch_dir / SUBMIT_LOG).exists() else ""
    raise AssertionError(f"run in {launch_dir} did not finish; states seen {seen}; log tail:\n{log}")


@dataclass
class Runs:
    wms: BpsWms
    repo: Path
    clean: Path  # launch dir of step1/visit1001-1002 (no injected failure)
    flaky: Path  # launch dir of step1/visit1003-1004 (one transient failure)
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """One demo repository; both step1 groups launched at once (they run concurrently), cold: bps and every job a
    process of its own started from its program, as production starts them (the rest of the suite starts them warm,
    tests/warm; the restart below is warm)."""
    base = tmp_path_factory.mktemp("local-wms")
    build(base / "repo")
    campaign = demo_campaign(base / "repo")
    wms = BpsWms(SERVICE)
    seconds: dict[str, float] = {}
    clean = base / "launch-clean"
    flaky = base / "launch-flaky"
    t0 = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAMPAIGNOPS_TEST_COLD", "1")  # bps passes it on to its jobs
        wms.launch(write_config(campaign, "step1/visit1001-1002", base / "configs"), clean, "")
        wms.launch(write_config(campaign, "step1/visit1003-1004", base / "configs"), flaky, "")
    seconds["launch"] = time.monotonic() - t0
    yield Runs(wms, base / "repo", clean, flaky, seconds)


def test_launch_returns_while_bps_runs_and_writes_the_pid_and_log_in_the_launch_dir(runs: Runs) -> None:
    from campaignops.adapters.bps.launcher import pid_alive, read_pid
    from campaignops.adapters.processes import read_process

    assert pid_alive(read_pid(runs.flaky)), "launch came back before bps finished (it is detached)"
    for launch_dir in (runs.clean, runs.flaky):
        recorded = read_process(launch_dir / PID_FILE)
        assert recorded is not None and recorded.pid > 0 and recorded.started is not None, "pid without start time"
        assert (launch_dir / SUBMIT_LOG).exists()


def test_a_clean_step1_group_is_observed_succeeded_with_per_task_counts(runs: Runs) -> None:
    submission, observation, seen = wait_finished(runs.wms, runs.clean)
    assert observation.state == RunState.SUCCEEDED
    assert [(t.label, dict(t.counts)) for t in observation.tasks] == [("calibrateDemo", {"SUCCEEDED": 8})]
    assert observation.errors == ()
    assert not any(s == RunState.FAILED for s in seen), "never FAILED on the way to success"
    # bps ran in the launch dir: its submit dir (and parsl's runinfo/) are inside it.
    assert Path(submission.submit_dir).is_relative_to(runs.clean / "submit")
    assert (runs.clean / "runinfo").is_dir()
    # The outputs are really in the Butler, in the run's output collection.
    from lsst.daf.butler import Butler

    butler = Butler.from_config(str(runs.repo))
    try:
        refs = butler.query_datasets("demo_calexp", collections="demo/demo/step1/visit1001-1002/a01",
                                     explain=False)
        assert {r.dataId["visit"] for r in refs} == {1001, 1002} and len(refs) == 8
    finally:
        butler.close()


def test_find_submission_finds_the_run_again_after_the_fact(runs: Runs) -> None:
    first, _, _ = wait_finished(runs.wms, runs.clean)
    again = BpsWms().find_submission(runs.clean)  # a fresh adapter, as after a crash
    assert again == first
    assert again is not None and again.wms_id == again.submit_dir
    assert BpsWms().find_submission(runs.clean / "never-launched") is None


def test_an_injected_failure_is_failed_with_its_error_line_and_restart_makes_it_succeed(runs: Runs) -> None:
    submission, observation, _ = wait_finished(runs.wms, runs.flaky)
    assert observation.state == RunState.FAILED
    counts = {t.label: dict(t.counts) for t in observation.tasks}
    assert counts == {"calibrateDemo": {"SUCCEEDED": 7, "FAILED": 1}}
    assert dict(observation.exit_codes) == {"calibrateDemo": (1,)}
    assert any("injected transient failure for visit=1003 detector=2: simulated calibration blow-up" in e
               for e in observation.errors), observation.errors
    # The error names the log of the job that ran the failed quantum, not only the submit directory: the demo
    # clusters step1 by visit, so that is visit 1003's job, whose log says which quantum failed.
    (log,) = logs_named(observation.errors)
    assert Path(log).is_file() and Path(log).name == "visit_1003.stderr"
    assert "detector: 2, visit: 1003" in Path(log).read_text() and "failed. Exception" in Path(log).read_text()

    t0 = time.monotonic()
    runs.wms.restart(submission, runs.flaky, "")
    right_after = runs.wms.observe(submission, runs.flaky, "")
    assert right_after.state == RunState.RUNNING, "a restarted run is not reported finished by its old state"
    _, restarted, _ = wait_finished(runs.wms, runs.flaky)
    runs.seconds["restart"] = time.monotonic() - t0
    assert restarted.state == RunState.SUCCEEDED
    assert [(t.label, dict(t.counts)) for t in restarted.tasks] == [("calibrateDemo", {"SUCCEEDED": 8})]
    assert restarted.errors == ()


def test_plain_bps_report_and_status_work_on_a_local_run(runs: Runs) -> None:
    submission, _, _ = wait_finished(runs.wms, runs.clean)
    report = subprocess.run(["bps", "report", "--wms-service-class", SERVICE, "--id", submission.submit_dir],
                            capture_output=True, text=True, check=True)
    assert "calibrateDemo" in report.stdout and "SUCCEEDED" in report.stdout
    assert "demo/demo/step1/visit1001-1002/a01" in report.stdout  # the run's output collection
    status = subprocess.run(["bps", "status", "--wms-service-class", SERVICE, "--id", submission.submit_dir],
                            capture_output=True, text=True)
    assert status.returncode == 0, status.stderr  # WmsStates.SUCCEEDED is exit code 0


def test_observing_through_a_stack_setup_command_gives_the_same_answer(runs: Runs) -> None:
    submission, in_process, _ = wait_finished(runs.wms, runs.clean)
    via_stack = BpsWms(SERVICE, python=sys.executable).observe(submission, runs.clean, "true")
    assert via_stack.state == in_process.state and via_stack.tasks == in_process.tasks


def test_a_report_that_cannot_be_had_is_unreachable_never_failed(runs: Runs) -> None:
    submission, _, _ = wait_finished(runs.wms, runs.clean)
    with pytest.raises(WmsUnreachable, match=r"no.such.Service"):
        BpsWms("no.such.Service").observe(submission, runs.clean, "")


def test_a_submission_bps_refuses_is_failed_with_bps_error_not_left_pending(runs: Runs, tmp_path: Path) -> None:
    # Resubmitting the clean group's config into its existing output run: bps stops while building the graph.
    wait_finished(runs.wms, runs.clean)
    config = next((runs.clean.parent / "configs").glob("step1__visit1001-1002.yaml"))
    _, observation, _ = wait_finished(runs.wms, _relaunch(runs.wms, config, tmp_path / "again"))
    assert observation.state == RunState.FAILED
    assert any("already exists" in e or "Error" in e for e in observation.errors), observation.errors


def _relaunch(wms: BpsWms, config: Path, launch_dir: Path) -> Path:
    wms.launch(config, launch_dir, "")
    return launch_dir

