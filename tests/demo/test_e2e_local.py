"""The embedded default end to end on the real middleware: Butler, bps submit with parsl, the ledger."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

import warm
from campaignops.adapters.lock import release_all
from campaignops.cli.main import main as campaign_main
from campaignops.demo.run import make_control_repo, run_demo
from campaignops.domain.states import RunState
from campaignops.ledger import records, store
from fakes.bps_wait import settle

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lsst, pytest.mark.slow]


def campaign_cli(control: Path, workdir: Path, *args: str, env: dict[str, str] | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
    """`campaign --root CONTROL ARGS` with CAMPAIGNOPS_WORKDIR=workdir, as the runner calls it. Run in this
    process (its campaign locks let go after, as a process's end would), so the middleware is imported once per
    test worker instead of once per command (~2.5 s CPU each); a failpoint that must kill the command gets a
    process of its own. The bps processes it launches are detached either way."""
    extra = {"CAMPAIGNOPS_WORKDIR": str(workdir), **(env or {})}
    argv = ["--root", str(control), *args]
    if "CAMPAIGNOPS_FAILPOINT" in extra:
        proc = subprocess.run([*warm.campaign(), *argv], capture_output=True, text=True,
                              env={**os.environ, **extra}, timeout=600)
    else:
        out, err = io.StringIO(), io.StringIO()
        saved = {key: os.environ.get(key) for key in extra}
        os.environ.update(extra)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = campaign_main(argv)
        finally:
            release_all()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        proc = subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
    if check and proc.returncode != 0:
        raise AssertionError(f"campaign {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def small_control(tmp_path: Path, butler: Path, steps: int = 1, group: list[int] | None = None) -> Path:
    """The demo campaign cut down to its first `steps` steps and (optionally) one visit group, with the failure
    rules off (`autopilot: false`): these tests drive retry, rescue and controls by hand, as an operator would
    (the `make demo` test lets the rules act)."""
    control = make_control_repo(ROOT, tmp_path / "control", butler)
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    ry = YAML()
    data = ry.load(spec_file)
    data["autopilot"] = False
    del data["steps"][steps:]
    if steps > 1:
        data["steps"][1].pop("bps", None)  # step2's injected MemoryError is the autopilot test's
    if group is not None:
        data["steps"][0]["split"] = {"by": "values", "dimension": "visit", "values": [group]}
    ry.dump(data, spec_file)
    return control


def wait_done(control: Path, workdir: Path, timeout: float = 300) -> records.Ledger:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign_cli(control, workdir, "reconcile", "demo", "--no-pages")  # the runner's status job
        ledger = store.load(control / "campaigns" / "demo", "demo")
        if ledger.runs and all(r.state is not None and r.state.finished for r in ledger.runs):
            return ledger
        settle(workdir)  # until the launched bps processes end, then one look (not a look every 2 s: ~3 s CPU each)
    raise AssertionError("runs did not finish in time")


def launches(workdir: Path) -> list[Path]:
    """Every bps submission made: one submit directory per `bps submit` that reached the WMS."""
    return sorted(p for p in workdir.rglob("submit") if p.is_dir())


def test_make_demo_runs_every_step_to_success_after_the_failure_rules_retry_its_two_failures(tmp_path: Path) -> None:
    assert run_demo(ROOT, tmp_path / "demo", poll=1.0) == 0
    control = tmp_path / "demo" / "control"
    ledger = store.load(control / "campaigns" / "demo", "demo")
    assert ledger.runs and all(r.state == RunState.SUCCEEDED for r in ledger.runs)
    retried = {r.step: r for r in ledger.runs if len(r.attempts) > 1}
    assert set(retried) == {"step1", "step2"}, "the demo shows two injected failures, each retried by a rule"
    for record in retried.values():
        first = record.attempts[0]
        assert first.state == RunState.FAILED and first.errors, "the failure keeps its first error lines"
        assert first.decision is not None and first.decision.acted_at, "decided and acted on, no command typed"
    assert [a.kind for a in retried["step1"].attempts] == ["submit", "restart"]
    assert [a.kind for a in retried["step2"].attempts] == ["submit", "rescue"]  # more-memory runs again only the failed quanta
    assert retried["step2"].attempts[1].memory == (("consolidateVisitDemo", 4096),)
    # each decision as the rules wrote it
    failed, restart = retried["step1"].attempts
    assert failed.decision is not None and failed.decision.text == "matched rule `transient-io`: restart, attempt 2 of 3"
    assert restart.kind == "restart"
    oom, more = retried["step2"].attempts
    assert oom.decision is not None and oom.decision.rule == "out-of-memory"
    assert oom.decision.text == "matched rule `out-of-memory`: more memory, consolidateVisitDemo 4 GB, attempt 2 of 4"
    # the rescue runs only the quanta that did not succeed, with more memory for the matched task alone
    succeeded = sum(t.get("SUCCEEDED") for t in oom.tasks)
    assert succeeded > 0 and oom.failed_quanta() > 0
    assert more.total_quanta() == oom.total_quanta() - succeeded
    assert more.output_run.endswith("/step2/all/a02")
    rescued = yaml.safe_load(Path(more.config_path).read_text())
    first = yaml.safe_load(Path(oom.config_path).read_text())
    assert rescued["pipetask"]["consolidateVisitDemo"] == {"requestMemory": 4096}
    assert {k: v for k, v in rescued["pipetask"].items() if k != "consolidateVisitDemo"} == \
        {k: v for k, v in first.get("pipetask", {}).items() if k != "consolidateVisitDemo"}, "other tasks untouched"
    issue_files = list((control / "issues").glob("*.md"))
    assert len(issue_files) == 2 and all("state: closed" in p.read_text() for p in issue_files)
    # the checks of the output, read from the Butler: every coadd the quanta were to write, the tract's flux
    inputs = ledger.check("preflight/demo_raw")
    assert inputs is not None and inputs.verdict == "pass" and inputs.tagged == "demo/demo/preflight-inputs"
    complete, flux = ledger.check("step3/coadds-complete"), ledger.check("step4/tract-flux")
    assert complete is not None and (complete.verdict, complete.value, complete.expected) == ("pass", 1.0, 8.0)
    assert flux is not None and flux.verdict == "pass" and flux.value is not None and 1e-8 < flux.value < 3e-8
    # plain `bps report` works on a local run
    report = subprocess.run(["bps", "report", "--wms-service-class", "campaignops.bps_plugins.local.LocalParslService",
                             "--id", ledger.runs[0].current.submit_dir],  # type: ignore[union-attr]
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "calibrateDemo" in report.stdout


@pytest.mark.parametrize("window", ["after-intent", "after-launch", "after-record"])
def test_apply_killed_in_any_window_ends_with_exactly_one_submission(window: str, tmp_path: Path,
                                                                    demo_butler: Path) -> None:
    """Kill `campaign apply` between each pair of steps of the launch sequence (intent recorded → bps
    started → start recorded), then look, re-apply and reconcile: the run is submitted once, never lost.
    After the last window (a whole apply) a re-apply, before and after the run ended, submits nothing."""
    # A group of its own per window (each test has its own copy of the demo Butler: tests/conftest.py).
    visit = {"after-intent": 1001, "after-launch": 1004, "after-record": 1006}[window]
    control = small_control(tmp_path, demo_butler, steps=1, group=[visit])
    workdir = tmp_path / "work"
    crashed = campaign_cli(control, workdir, "apply", "demo", env={"CAMPAIGNOPS_FAILPOINT": window}, check=False)
    assert crashed.returncode == 99
    ledger = store.load(control / "campaigns" / "demo", "demo")
    expected = RunState.PENDING if window == "after-record" else RunState.SUBMITTING
    assert [r.state for r in ledger.runs] == [expected], "the intent was recorded before bps started"
    campaign_cli(control, workdir, "status", "demo", "--no-pages")  # a look starts nothing
    if window == "after-intent":
        assert launches(workdir) == [] and not list(workdir.rglob("bps.pid")), "bps never ran"
    again = campaign_cli(control, workdir, "apply", "demo")
    assert "submitted 0 run(s)" in again.stdout
    if window == "after-record":  # what a second `apply` sees after a whole one: the run is recorded
        assert "submitted 0 run(s); 1 already in the ledger" in again.stdout
    ledger = wait_done(control, workdir)  # reconcile: launches the interrupted submission if bps never ran
    assert [r.state for r in ledger.runs] == [RunState.SUCCEEDED]
    assert len(launches(workdir)) == 1
    if window == "after-record":  # re-applying a finished campaign submits nothing; only a failed run retries
        assert "submitted 0 run(s)" in campaign_cli(control, workdir, "apply", "demo").stdout
        assert len(launches(workdir)) == 1
        refused = campaign_cli(control, workdir, "retry", "demo", ledger.runs[0].key, check=False)
        assert refused.returncode == 1 and "only a FAILED" in refused.stderr


def test_lost_ledger_entry_adopts_the_running_launch_instead_of_resubmitting(tmp_path: Path,
                                                                               demo_butler: Path) -> None:
    control = small_control(tmp_path, demo_butler, steps=1, group=[1002])
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo", env={"CAMPAIGNOPS_FAILPOINT": "after-launch"}, check=False)
    shutil.rmtree(control / "campaigns" / "demo" / "ledger")  # e.g. the job died before publishing it
    out = campaign_cli(control, workdir, "apply", "demo").stdout
    assert "adopted" in out
    ledger = wait_done(control, workdir)
    assert [r.state for r in ledger.runs] == [RunState.SUCCEEDED]
    assert len(launches(workdir)) == 1


def test_failed_run_is_recorded_then_retry_with_more_memory_succeeds_in_a_new_output_run(
        tmp_path: Path, demo_butler: Path) -> None:
    # Group 1003-1004 carries the demo's injected transient failure (step1's bps extraQgraphOptions).
    control = small_control(tmp_path, demo_butler, steps=1, group=[1003, 1004])
    workdir = tmp_path / "work"
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    data = yaml.safe_load(spec_file.read_text())
    data["steps"][0]["resources"] = {"requestMemory": 1000}
    spec_file.write_text(yaml.safe_dump(data))
    # One marker directory for both attempts, so the transient failure is over for the second one.
    env = {"CAMPAIGNOPS_DEMO_MARKER_DIR": str(tmp_path / "markers")}
    campaign_cli(control, workdir, "apply", "demo", env=env)
    ledger = wait_done(control, workdir)
    first = ledger.runs[0].current
    assert first is not None and first.state == RunState.FAILED
    assert any("injected transient failure" in e for e in first.errors)
    assert dict((t.label, t.get("FAILED")) for t in first.tasks) == {"calibrateDemo": 1}
    status = campaign_cli(control, workdir, "status", "demo", "--no-pages").stdout
    assert "campaign retry demo step1/" in status, "status says how to retry"
    campaign_cli(control, workdir, "retry", "demo", ledger.runs[0].key, "--memory-multiplier", "2", env=env)
    ledger = wait_done(control, workdir)
    second = ledger.runs[0].attempts[-1]
    assert second.number == 2 and second.kind == "retry-memory" and second.output_run.endswith("/a02")
    assert second.state == RunState.SUCCEEDED
    assert "requestMemory: 2000" in Path(second.config_path).read_text()


def test_query_split_asks_the_butler_once_and_freezes_the_groups_in_the_ledger(
        tmp_path: Path, demo_butler: Path) -> None:
    control = small_control(tmp_path, demo_butler, steps=1)
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    data = yaml.safe_load(spec_file.read_text())
    data["steps"][0]["split"] = {"by": "query", "dimension": "visit", "max_size": 4}
    data["steps"][0]["data_query"] = "visit IN (1001, 1002, 1005, 1006, 1004)"
    data["steps"][0].pop("bps")
    spec_file.write_text(yaml.safe_dump(data))
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo", "--dry-run")
    assert not (control / "campaigns" / "demo" / "ledger").exists(), "a dry run writes nothing"
    campaign_cli(control, workdir, "apply", "demo")
    ledger = store.load(control / "campaigns" / "demo", "demo")
    groups = ledger.groups_of("step1")
    assert groups is not None and [g[2] for g in groups] == [4, 1]
    assert [r.group for r in ledger.runs] == [g[0] for g in groups]
    plan = campaign_cli(control, workdir, "plan", "demo", "--format", "json").stdout
    assert all(g[0] in plan for g in groups), "later plans read the frozen groups"
    wait_done(control, workdir)


def test_small_campaign_end_to_end_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    from campaignops.demo.repo import build

    butler = tmp_path / "pg-repo"
    build(butler, registry=postgres_url)
    control = small_control(tmp_path, butler, steps=2, group=[1001, 1002])
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo")
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        ledger = wait_done(control, workdir)
        if len(ledger.runs) == 2:
            break
    assert [(r.step, r.state) for r in ledger.runs] == [("step1", RunState.SUCCEEDED), ("step2", RunState.SUCCEEDED)]


def test_an_unreachable_wms_makes_the_run_unknown_never_failed(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """PanDA cannot be reached from here: exactly the situation of a flaky monitor."""
    from dataclasses import replace

    from campaignops.adapters.bps.launcher import BpsWms
    from campaignops.campaign_spec.load import load_campaign
    from campaignops.engine.context import Context
    from campaignops.engine.observe import observe_attempt
    from campaignops.ledger.records import Attempt

    monkeypatch.setenv("PANDA_BEHIND_REAL_LB", "1")  # lets pandaclient import offline
    campaign = load_campaign(ROOT / "campaigns" / "hsc-rc2-w_2026_47" / "campaign.yaml", ROOT)
    # Ask PanDA from this environment (the site's stack set-up does not exist here).
    campaign = replace(campaign, profile=replace(campaign.profile, stack_setup=""))
    launch = tmp_path / "launch"
    launch.mkdir()
    attempt = Attempt(1, "submit", "o/a01", "h", "c.yaml", str(launch), submit_dir=str(tmp_path / "submit"),
                      wms_id="4242", state=RunState.RUNNING)
    ctx = Context(ROOT, campaign, BpsWms("lsst.ctrl.bps.panda.PanDAService"), tmp_path, say=lambda _m: None)
    updated = observe_attempt(ctx, attempt)
    assert updated.state == RunState.UNKNOWN
    assert "not reachable" in updated.message


def test_operator_controls_on_the_demo_with_real_bps(tmp_path: Path, demo_butler: Path) -> None:
    """Cancel a running local bps run, hold, accept / reopen, and a fresh resubmission that succeeds; each
    recorded in the ledger with who and why, and the next step submitted only once step1 is settled."""
    control = small_control(tmp_path, demo_butler, steps=2, group=[1002, 1005])
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo")
    ledger = store.load(control / "campaigns" / "demo", "demo")
    [run] = ledger.runs
    from campaignops.adapters.processes import pid_alive, read_pid
    pid = read_pid(Path(run.current.launch_dir))  # type: ignore[union-attr]
    said = campaign_cli(control, workdir, "cancel", "demo", run.key, "--reason", "wrong stack", "--by", "ops").stdout
    assert f"cancelled {run.key} attempt 1" in said
    assert not pid_alive(pid), "the local bps process group was stopped"
    ledger = store.load(control / "campaigns" / "demo", "demo")
    assert ledger.runs[0].state == RunState.CANCELLED and ledger.controls[1].by == "ops"
    assert ledger.controls[0].action == "own" and ledger.controls[0].runner.endswith(f":{workdir}")  # the first apply
    campaign_cli(control, workdir, "reconcile", "demo", "--no-pages")
    assert store.load(control / "campaigns" / "demo", "demo").runs[0].state == RunState.CANCELLED, "stays cancelled"
    campaign_cli(control, workdir, "hold", "demo", "--reason", "checking the stack", "--by", "ops")
    refused = campaign_cli(control, workdir, "resubmit", "demo", run.key, "--reason", "x y z", check=False)
    assert refused.returncode == 1 and "on hold" in refused.stderr
    campaign_cli(control, workdir, "resume", "demo", "--by", "ops")
    campaign_cli(control, workdir, "accept", "demo", run.key, "--reason", "look at step2 plan", "--by", "ops")
    assert "step2: ready" in campaign_cli(control, workdir, "status", "demo", "--no-pages").stdout
    campaign_cli(control, workdir, "reopen", "demo", run.key, "--by", "ops")
    campaign_cli(control, workdir, "resubmit", "demo", run.key, "--reason", "stack fixed", "--by", "ops")
    ledger = wait_done(control, workdir, timeout=900)  # two bps runs, step1 then step2
    record = ledger.run(run.key)
    assert record is not None and [a.kind for a in record.attempts] == ["submit", "resubmit"]
    assert record.state == RunState.SUCCEEDED and record.current.output_run.endswith("/a02")  # type: ignore[union-attr]
    assert [r.state for r in ledger.runs] == [RunState.SUCCEEDED, RunState.SUCCEEDED], "step2 ran after step1"
    assert [c.action for c in ledger.controls] == ["own", "cancel", "hold", "resume", "accept", "reopen", "resubmit"]


def test_two_weekly_instances_get_two_fresh_repositories_built_by_the_setup_stage(tmp_path: Path,
                                                                                   demo_butler: Path) -> None:
    """A template whose butler.repo names {campaign} and whose set-up stage builds the demo repository:
    `campaign new` makes two instances, each gets a repository of its own, and step1 runs on it."""
    control = small_control(tmp_path, demo_butler, steps=1, group=[1001, 1002])
    ry = YAML()
    data = ry.load(control / "campaigns" / "demo" / "campaign.yaml")
    data["name"] = "demo-weekly"
    data["schedule"] = {"cron": "7 6 * * 1", "name_pattern": "demo-{stack}"}
    data["butler"]["repo"] = str(tmp_path / "repos" / "{campaign}")
    data["butler"]["setup"] = {"commands": [f"{sys.executable} -m campaignops.cli demo init {{repo}}"]}
    (control / "campaigns" / "templates").mkdir()
    ry.dump(data, control / "campaigns" / "templates" / "demo-weekly.yaml")
    workdir = tmp_path / "work"
    for stack in ("w_2026_48", "w_2026_49"):
        campaign_cli(control, workdir, "new", "--from", "demo-weekly", "--stack", stack)
    assert campaign_cli(control, workdir, "validate").returncode == 0
    looked = campaign_cli(control, workdir, "status", "demo-w_2026_48", "--no-pages").stdout
    assert "repository set-up: not started" in looked and not (tmp_path / "repos").exists(), "a look builds nothing"
    applied = campaign_cli(control, workdir, "apply", "demo-w_2026_48").stdout
    assert "set-up stage done" in applied and "submitted 1 run(s)" in applied, applied
    assert campaign_cli(control, workdir, "setup", "demo-w_2026_49").returncode == 0
    repos = sorted(p.name for p in (tmp_path / "repos").iterdir())
    assert repos == ["demo-w_2026_48", "demo-w_2026_49"]
    assert all((tmp_path / "repos" / r / "butler.yaml").exists() for r in repos)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        campaign_cli(control, workdir, "reconcile", "demo-w_2026_48", "--no-pages")
        ledger = store.load(control / "campaigns" / "demo-w_2026_48", "demo-w_2026_48")
        if ledger.runs and all(r.state is not None and r.state.finished for r in ledger.runs):
            break
        settle(workdir)
    assert ledger.setup is not None and ledger.setup.state == RunState.SUCCEEDED
    assert [r.state for r in ledger.runs] == [RunState.SUCCEEDED], "step1 ran on its own fresh repository"


def test_rescue_of_a_later_step_reruns_only_its_failed_quanta_into_a_new_output_run(
        tmp_path: Path, demo_butler: Path) -> None:
    """`campaign rescue`: a new attempt into a new output run, `--skip-existing-in` the failed one, that re-runs
    only the quantum that failed. On step 2, which reads step 1 through the output chain, so the rescue must
    still be a valid pipetask call (the inputs a contiguous part of that chain). (A step-1 rescue is the same
    command on a plain input collection; tests/engine/test_engine_in_memory.py checks its configs.)"""
    control = small_control(tmp_path, demo_butler, steps=2, group=[1003, 1004])
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    ry = YAML()
    data = ry.load(spec_file)
    data["steps"][0].pop("bps", None)  # step 1 runs clean
    data["steps"][1]["bps"] = {"extraQgraphOptions": (
        '-c "consolidateVisitDemo:fail_once_where=visit IN (1003)" '
        '-c "consolidateVisitDemo:fail_message=simulated MemoryError" '
        '-c "consolidateVisitDemo:marker_dir=../demo-markers"')}
    ry.dump(data, spec_file)
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo")
    ledger = wait_done(control, workdir)
    while len(ledger.runs) < 2:
        ledger = wait_done(control, workdir)
    step2 = ledger.run("step2/all")
    assert step2 is not None and step2.current is not None
    first = step2.current
    assert first.state == RunState.FAILED and first.failed_quanta() > 0
    campaign_cli(control, workdir, "rescue", "demo", "step2/all")
    ledger = wait_done(control, workdir)
    rescue = ledger.run("step2/all").attempts[-1]  # type: ignore[union-attr]
    assert (rescue.number, rescue.kind, rescue.state) == (2, "rescue", RunState.SUCCEEDED), rescue.message
    assert rescue.output_run.endswith("/a02") and rescue.output_run != first.output_run
    assert rescue.total_quanta() == 1 < first.total_quanta(), "only the visit that failed ran again"
    assert f"--skip-existing-in {first.output_run}" in Path(rescue.config_path).read_text()
