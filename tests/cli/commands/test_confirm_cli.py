"""`campaign control confirm`: the one command (and the retry workflow's form) that lets a failure rule's first
decision act under `autopilot: confirm-new-rules`; recorded in the controls log with who and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from campaignops.cli.main import main
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import AWAITS_CONFIRMATION, Attempt, Ledger, RuleDecision, RunRecord

ROOT = Path(__file__).resolve().parents[3]
NAME = "hsc-rc2-w_2026_47"
KEY = "step1/visit0-9999"
QUERY = "(instrument='HSC') AND (visit >= 0 AND visit <= 9999)"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    spec = tmp_path / "campaigns" / NAME / "campaign.yaml"
    spec.write_text(spec.read_text() + "autopilot: confirm-new-rules\n")
    waiting = RuleDecision("2026-11-20T10:05:00Z", "retry", "matched rule `transient-io`: restart, attempt 2 of 3",
                           rule="transient-io", flavor="infrastructure",
                           note=f"{AWAITS_CONFIRMATION}: rule `transient-io` has never acted in this campaign")
    failed = Attempt(1, "submit", "o/a1", "h", "c", "l", submit_dir="/s", wms_id="7", state=RunState.FAILED,
                     tasks=(TaskCounts("calibrate", (("FAILED", 1), ("SUCCEEDED", 9))),),
                     errors=("OSError: [Errno 5] Input/output error",), decision=waiting,
                     transitions=(Transition("2026-11-20T10:00:00Z", RunState.FAILED),))
    store.save(tmp_path / "campaigns" / NAME, Ledger(NAME, (RunRecord("step1", "visit0-9999", QUERY, (failed,)),)))
    return tmp_path


def test_confirm_needs_a_reason_and_is_recorded_with_who_and_why(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = ["--workdir", str(tmp_path / "work")]
    assert main(["--root", str(repo), "control", "confirm", NAME, KEY, "--by", "ana", *work]) == 1
    assert "confirm needs a reason" in capsys.readouterr().err
    assert main(["--root", str(repo), "control", "confirm", NAME, KEY, "--reason", "known I/O trouble", "--by", "ana",
                 *work]) == 0
    assert "acts at the next reconcile" in capsys.readouterr().out
    [control] = store.load(repo / "campaigns" / NAME, NAME).controls
    assert (control.action, control.target, control.by, control.reason) == ("confirm", KEY, "ana",
                                                                             "known I/O trouble")
