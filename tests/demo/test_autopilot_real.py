"""Failure rules that act, on the demo with real bps: after `campaign apply`, only the status job's commands
(`campaign reconcile`, `campaign notify`) run, and the demo's transient failure is restarted while its
out-of-memory-like failure is retried with more memory for that task alone; each decision in the ledger and in
the failure issue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from campaignops.demo.run import make_control_repo
from campaignops.domain.states import RunState
from campaignops.ledger import store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lsst, pytest.mark.slow]


def cli(control: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    env["CAMPAIGNOPS_WORKDIR"] = str(control.parent / "work")
    proc = subprocess.run([sys.executable, "-m", "campaignops.cli", "--root", str(control), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"campaign {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_reconcile_restarts_a_transient_failure_and_gives_an_oom_task_alone_more_memory(
        tmp_path: Path, demo_butler: Path) -> None:
    control = make_control_repo(ROOT, tmp_path / "control", demo_butler)
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    ry = YAML()
    data = ry.load(spec_file)
    del data["steps"][2:]  # step1 (transient failure) and step2 (out-of-memory-like failure)
    data["steps"][0]["split"] = {"by": "values", "dimension": "visit", "values": [[1003, 1004]]}
    data["resources"] = {"tasks": {"calibrateDemo": {"requestMemory": 1024},
                                   "consolidateVisitDemo": {"requestMemory": 1536}}}
    ry.dump(data, spec_file)

    cli(control, "apply", "demo")
    said: list[str] = []
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        said.append(cli(control, "reconcile", "demo", "--no-pages"))  # the status job, every few seconds here
        said.append(cli(control, "notify", "demo", "--folder", str(control / "issues")))
        ledger = store.load(control / "campaigns" / "demo", "demo")
        if len(ledger.runs) == 2 and all(r.state == RunState.SUCCEEDED for r in ledger.runs):
            break
        if any(r.current and r.current.decision and r.current.decision.action == "review" for r in ledger.runs):
            break  # sent to review: nothing more will happen
        time.sleep(2)
    said.append(cli(control, "notify", "demo", "--folder", str(control / "issues")))
    step1, step2 = ledger.runs
    assert (step1.state, step2.state) == (RunState.SUCCEEDED, RunState.SUCCEEDED), "\n".join(said)

    # step1: restarted in place by the demo's own transient-io rule
    failed, restart = step1.attempts
    assert failed.state == RunState.FAILED and failed.decision is not None
    assert failed.decision.text == "matched rule `transient-io`: restart, attempt 2 of 3"
    assert failed.decision.acted_at and restart.kind == "restart"

    # step2: a rescue (its own output run, reading the first) with more memory for consolidateVisitDemo only,
    # running only the quanta that did not succeed the first time
    oom, more = step2.attempts
    assert oom.decision is not None and oom.decision.rule == "out-of-memory" and oom.decision.note == ""
    assert oom.decision.text == "matched rule `out-of-memory`: more memory, consolidateVisitDemo 3 GB, attempt 2 of 4"
    assert (more.kind, more.memory) == ("rescue", (("consolidateVisitDemo", 3072),))
    succeeded = sum(t.get("SUCCEEDED") for t in oom.tasks)
    assert succeeded > 0 and oom.failed_quanta() > 0
    assert more.total_quanta() == oom.total_quanta() - succeeded < oom.total_quanta()
    config = yaml.safe_load(Path(more.config_path).read_text())
    assert config["pipetask"] == {"calibrateDemo": {"requestMemory": 1024},
                                  "consolidateVisitDemo": {"requestMemory": 3072}}
    assert more.output_run.endswith("/step2/all/a02")
    first = yaml.safe_load(Path(oom.config_path).read_text())
    assert first["pipetask"]["consolidateVisitDemo"] == {"requestMemory": 1536}

    # each decision in the failure issue, closed once its run succeeded
    issues = {p.read_text().split("run: ", 1)[1].split("\n", 1)[0]: p.read_text()
              for p in (control / "issues").glob("*.md")}
    assert set(issues) == {f"demo/{step1.key}", f"demo/{step2.key}"}
    assert "restart, attempt 2 of 3" in issues[f"demo/{step1.key}"]
    assert "more memory, consolidateVisitDemo 3 GB, attempt 2 of 4" in issues[f"demo/{step2.key}"]
    assert all("state: closed" in text for text in issues.values())
