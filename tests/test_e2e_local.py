"""The embedded default end to end on the real middleware: Butler, bps submit with parsl, the ledger."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from campaignops import ledger as L
from campaignops.demo_run import make_control_repo, run_demo
from campaignops.ledger import RunState

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.lsst, pytest.mark.slow]


def campaign_cli(control: Path, workdir: Path, *args: str, env: dict[str, str] | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "CAMPAIGNOPS_WORKDIR": str(workdir), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "campaignops.cli", "--root", str(control), *args],
                          capture_output=True, text=True, env=full_env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"campaign {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo_butler(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from campaignops.demo.repo import build

    repo = tmp_path_factory.mktemp("butler") / "repo"
    build(repo)
    return repo


def small_control(tmp_path: Path, butler: Path, steps: int = 1, group: list[int] | None = None) -> Path:
    """The demo campaign cut down to its first `steps` steps and (optionally) one visit group."""
    control = make_control_repo(ROOT, tmp_path / "control", butler)
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    ry = YAML()
    data = ry.load(spec_file)
    del data["steps"][steps:]
    if group is not None:
        data["steps"][0]["split"] = {"by": "values", "dimension": "visit", "values": [group]}
    ry.dump(data, spec_file)
    return control


def wait_done(control: Path, workdir: Path, timeout: float = 300) -> L.Ledger:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign_cli(control, workdir, "status", "demo", "--no-pages")
        ledger = L.load(control / "campaigns" / "demo", "demo")
        if ledger.runs and all(r.state is not None and r.state.finished for r in ledger.runs):
            return ledger
        time.sleep(2)
    raise AssertionError("runs did not finish in time")


def launches(workdir: Path) -> list[Path]:
    """Every bps submission made: one submit directory per `bps submit` that reached the WMS."""
    return sorted(p for p in workdir.rglob("submit") if p.is_dir())


def test_make_demo_runs_every_step_to_success_after_one_retry(tmp_path: Path) -> None:
    assert run_demo(ROOT, tmp_path / "demo", poll=1.0) == 0
    control = tmp_path / "demo" / "control"
    ledger = L.load(control / "campaigns" / "demo", "demo")
    assert ledger.runs and all(r.state == RunState.SUCCEEDED for r in ledger.runs)
    restarted = [r for r in ledger.runs if len(r.attempts) > 1]
    assert len(restarted) == 1, "the demo shows exactly one injected failure and its retry"
    first = restarted[0].attempts[0]
    assert first.state == RunState.FAILED and first.errors, "the failure keeps its first error lines"
    assert restarted[0].attempts[-1].kind == "restart"
    issue_files = list((control / "issues").glob("*.md"))
    assert len(issue_files) == 1 and "closed" in issue_files[0].read_text().lower()
    # plain `bps report` works on a local run
    report = subprocess.run(["bps", "report", "--id", ledger.runs[0].current.submit_dir],  # type: ignore[union-attr]
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "calibrateDemo" in report.stdout


def test_killed_apply_then_rerun_leaves_exactly_one_submission(tmp_path: Path, demo_butler: Path) -> None:
    control = small_control(tmp_path, demo_butler, steps=1, group=[1001])
    workdir = tmp_path / "work"
    crashed = campaign_cli(control, workdir, "apply", "demo", env={"CAMPAIGNOPS_FAILPOINT": "after-launch"},
                           check=False)
    assert crashed.returncode == 99
    ledger = L.load(control / "campaigns" / "demo", "demo")
    assert [r.state for r in ledger.runs] == [RunState.SUBMITTING], "the intent was recorded before bps started"
    again = campaign_cli(control, workdir, "apply", "demo")
    assert "submitted 0 run(s)" in again.stdout
    ledger = wait_done(control, workdir)
    assert [r.state for r in ledger.runs] == [RunState.SUCCEEDED]
    assert len(launches(workdir)) == 1


def test_lost_ledger_entry_adopts_the_running_launch_instead_of_resubmitting(tmp_path: Path,
                                                                               demo_butler: Path) -> None:
    control = small_control(tmp_path, demo_butler, steps=1, group=[1002])
    workdir = tmp_path / "work"
    campaign_cli(control, workdir, "apply", "demo", env={"CAMPAIGNOPS_FAILPOINT": "after-launch"}, check=False)
    (control / "campaigns" / "demo" / "ledger.yaml").unlink()  # e.g. the job died before publishing it
    out = campaign_cli(control, workdir, "apply", "demo").stdout
    assert "adopted" in out
    ledger = wait_done(control, workdir)
    assert [r.state for r in ledger.runs] == [RunState.SUCCEEDED]
    assert len(launches(workdir)) == 1


def test_reapply_submits_nothing_new_and_retry_with_more_memory_makes_a_new_attempt(
        tmp_path: Path, demo_butler: Path) -> None:
    control = small_control(tmp_path, demo_butler, steps=1, group=[1003])
    workdir = tmp_path / "work"
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    data = yaml.safe_load(spec_file.read_text())
    data["steps"][0]["resources"] = {"requestMemory": 1000}
    spec_file.write_text(yaml.safe_dump(data))
    campaign_cli(control, workdir, "apply", "demo")
    assert "submitted 0 run(s)" in campaign_cli(control, workdir, "apply", "demo").stdout
    ledger = wait_done(control, workdir)
    key = ledger.runs[0].key
    state = ledger.runs[0].state
    if state == RunState.SUCCEEDED:
        refused = campaign_cli(control, workdir, "retry", "demo", key, check=False)
        assert refused.returncode == 1 and "only a FAILED" in refused.stderr
        return
    campaign_cli(control, workdir, "retry", "demo", key, "--memory-multiplier", "2")
    ledger = wait_done(control, workdir)
    second = ledger.runs[0].attempts[-1]
    assert second.number == 2 and second.kind == "retry-memory" and second.output_run.endswith("/a02")
    assert "requestMemory: 2000" in Path(second.config_path).read_text()
