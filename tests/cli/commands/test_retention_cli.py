"""`campaign retention plan` and the retention section of the PR plan comment (no Butler needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from campaignops.cli.main import main
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord

ROOT = Path(__file__).resolve().parents[3]
NAME = "hsc-rc2-w_2026_47"  # retention: keep_days 90


def attempt(n: int, kind: str, state: RunState) -> Attempt:
    return Attempt(number=n, kind=kind, output_run=f"HSC/runs/RC2/w_2026_47/DM-53100/step1/visit0-9999/a{n:02d}",
                   config_hash="h", config_path="c", launch_dir="l", submit_dir="/s", state=state,
                   tasks=(TaskCounts("isr", (("SUCCEEDED", 3),)),),
                   transitions=(Transition("2026-09-01T00:00:00+00:00", state),))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    store.save(tmp_path / "campaigns" / NAME, Ledger(NAME, (RunRecord("step1", "visit0-9999", "", (
        attempt(1, "submit", RunState.FAILED), attempt(2, "retry-memory", RunState.SUCCEEDED))),)))
    return tmp_path


def test_retention_plan_lists_what_expires_and_what_is_kept(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "retention", "plan", NAME, "--now", "2026-12-15T00:00:00Z",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["run"] for e in out["expired"]] == ["HSC/runs/RC2/w_2026_47/DM-53100/step1/visit0-9999/a01"]
    assert out["expired"][0]["chain"] == "HSC/runs/RC2/w_2026_47/DM-53100"
    assert out["notes"][0]["note"].startswith("keeps its 1 final run(s)")

    assert main(["--root", str(repo), "retention", "plan", NAME, "--now", "2026-10-15T00:00:00Z"]) == 0
    assert "kept until 2026-11-30 00:00 UTC (keep_days 90 after its end)" in capsys.readouterr().out


def test_the_plan_comment_carries_the_retention_section(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "plan", NAME, "--format", "markdown"]) == 0
    comment = capsys.readouterr().out
    section = comment.split("### Retention")[1]
    assert "1 RUN collection(s) expire now" in section
    assert "`HSC/runs/RC2/w_2026_47/DM-53100/step1/visit0-9999/a01`" in section


def test_bad_input_is_a_clear_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "retention", "plan", "no-such-campaign"]) == 1
    assert "no readable campaign named no-such-campaign" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--root", str(repo), "retention", "plan", "--now", "yesterday"])
    assert "not an ISO 8601 time: 'yesterday'" in capsys.readouterr().err


def test_all_plans_every_campaign_as_the_scheduled_housekeeping_asks(repo: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "retention", "plan", "--now", "2026-12-15T00:00:00Z"]) == 0
    every = capsys.readouterr().out
    assert main(["--root", str(repo), "retention", "plan", "--all", "--now", "2026-12-15T00:00:00Z"]) == 0
    assert capsys.readouterr().out == every and NAME in every
    assert main(["--root", str(repo), "retention", "plan", "--all", NAME]) == 1
    assert "names or --all, not both" in capsys.readouterr().err
