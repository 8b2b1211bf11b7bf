"""campaign history: a campaign's timeline read back from the git history of its ledger."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pytest

from campaignops.adapters.git.history import ledger_versions
from campaignops.adapters.git.repo import Git
from campaignops.cli.commands import history as history_cmd
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.history import Version, timeline
from campaignops.ledger.records import Attempt, Ledger, RunRecord

CAMPAIGN = "hsc-rc2-w_2026_47"


def ledger(state: RunState | None, failed: int = 0) -> Ledger:
    if state is None:
        return Ledger(CAMPAIGN)
    tasks = (TaskCounts("calibrate", (("FAILED", failed),)),) if failed else ()
    a = Attempt(1, "submit", "out/a01", "h", "c", "l", state=state, tasks=tasks,
                transitions=(Transition("t", state),))
    return Ledger(CAMPAIGN, (RunRecord("step1", "g0003", "q", (a,)),))


def commit(repo: Path, led: Ledger, message: str) -> None:
    store.save(repo / "campaigns" / CAMPAIGN, led)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], cwd=repo,
                   check=True)


def test_timeline_keeps_only_commits_that_changed_a_state() -> None:
    versions = [Version("c1", "d1", "apply", ledger(RunState.RUNNING)),
                Version("c2", "d2", "refresh", ledger(RunState.RUNNING)),
                Version("c3", "d3", "status", ledger(RunState.FAILED, failed=12))]
    entries = timeline(versions)
    assert [e.commit for e in entries] == ["c1", "c3"]
    assert [c.describe() for c in entries[1].changes] == ["step1 g0003 RUNNING→FAILED (12 failed in calibrate)"]


def test_history_reads_every_committed_ledger_in_order(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    commit(tmp_path, ledger(RunState.PENDING), "Apply")
    commit(tmp_path, ledger(RunState.RUNNING), "status: running")
    commit(tmp_path, ledger(RunState.FAILED, failed=3), "status: failed")
    versions = ledger_versions(Git(tmp_path), f"campaigns/{CAMPAIGN}")
    assert [v.subject for v in versions] == ["Apply", "status: running", "status: failed"]
    parser = argparse.ArgumentParser()
    parser.add_argument("--root")
    history_cmd.add_arguments(parser)
    assert history_cmd.run(parser.parse_args(["--root", str(tmp_path), CAMPAIGN])) == 0
    text = capsys.readouterr().out
    assert text.index("NEW→PENDING") < text.index("PENDING→RUNNING") < text.index("RUNNING→FAILED (3 failed")
    assert history_cmd.run(parser.parse_args(["--root", str(tmp_path), CAMPAIGN, "--format", "json"])) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [t["to"] for e in entries for t in e["transitions"]] == ["PENDING", "RUNNING", "FAILED"]
    assert history_cmd.run(parser.parse_args(["--root", str(tmp_path), "unknown-campaign"])) == 1


def test_history_runs_across_the_move_from_ledger_yaml_into_the_folder(tmp_path: Path) -> None:
    """Campaigns recorded before the folder layout have commits of a single ledger.yaml: the timeline
    reads both, and the commit that moved the ledger records no transition."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    folder = tmp_path / "campaigns" / CAMPAIGN
    folder.mkdir(parents=True)
    for led, message in ((ledger(RunState.PENDING), "Apply"), (ledger(RunState.RUNNING), "status: running")):
        (folder / "ledger.yaml").write_text(store.dumps(led))
        subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
                       cwd=tmp_path, check=True)
    commit(tmp_path, store.load(folder, CAMPAIGN), "moved into the folder")
    assert not (folder / "ledger.yaml").exists()
    commit(tmp_path, ledger(RunState.FAILED, failed=3), "status: failed")
    versions = ledger_versions(Git(tmp_path), f"campaigns/{CAMPAIGN}")
    assert [v.subject for v in versions] == ["Apply", "status: running", "moved into the folder", "status: failed"]
    assert all(v.ledger is not None for v in versions)
    entries = timeline(versions)
    assert [(e.subject, [c.describe() for c in e.changes]) for e in entries] == [
        ("Apply", ["step1 g0003 NEW→PENDING"]), ("status: running", ["step1 g0003 PENDING→RUNNING"]),
        ("status: failed", ["step1 g0003 RUNNING→FAILED (3 failed in calibrate)"])]
