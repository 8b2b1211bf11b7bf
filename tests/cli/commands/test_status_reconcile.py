"""`campaign status` looks and starts nothing; `campaign reconcile` is the runner's job that acts; one broken
campaign never stops the others from being followed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from campaignops.cli.main import main
from campaignops.ledger import store

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", tmp_path / "campaigns" / "demo",
                    ignore=shutil.ignore_patterns("ledger.yaml", "ledger", "STATUS.md"))
    return tmp_path


def test_status_with_no_flags_submits_nothing_and_says_who_will(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--root", str(repo), "status", "demo", "--no-pages", "--workdir", str(repo / "work")])
    out = capsys.readouterr().out
    assert code == 0
    assert store.load(repo / "campaigns" / "demo", "demo").runs == ()
    assert not (repo / "work" / "demo").exists(), "no launch directory: nothing was started"
    # The demo campaign checks its inputs first (preflight): the runner's reconcile does, then submits step1.
    assert ("step1: waiting - checks not evaluated yet (the runner's `campaign reconcile` reads them from the "
            "Butler): preflight/demo_raw") in out


def test_one_broken_campaign_is_reported_and_the_others_are_still_followed(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = repo / "campaigns" / "broken-one"
    broken.mkdir()
    (broken / "campaign.yaml").write_text("name: broken-one\ndescription: no steps\n")
    code = main(["--root", str(repo), "status", "--all", "--no-pages", "--workdir", str(repo / "work")])
    captured = capsys.readouterr()
    assert code == 1
    assert "== demo (local, local-parsl)" in captured.out  # the good campaign was refreshed
    assert "error: broken-one:" in captured.err and "could not be followed: broken-one" in captured.err
    assert "missing required key" in captured.err  # the located problems say what to fix


def test_watch_prints_a_campaign_again_only_when_what_it_says_changed(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`status --watch` on a run that stays where it is: one block, not the whole table every few seconds."""
    from campaignops.cli.commands import status as status_command
    from campaignops.domain.states import RunState, Transition
    from campaignops.ledger.records import Attempt, Ledger, RunRecord

    attempt = Attempt(1, "submit", "demo/demo/step1/visit1001-1002/a01", "h", "c.yaml",
                      str(repo / "work" / "demo" / "step1" / "visit1001-1002" / "a01"), state=RunState.SUBMITTING,
                      transitions=(Transition("2026-12-01T10:00:00Z", RunState.SUBMITTING),))
    store.save(repo / "campaigns" / "demo", Ledger("demo", (RunRecord("step1", "visit1001-1002", "", (attempt,)),)))
    rounds = iter([True, True, True, False])  # three more rounds, then nothing is active any more
    monkeypatch.setattr(status_command.cycle, "active", lambda ledger: next(rounds))
    monkeypatch.setattr(status_command.time, "sleep", lambda seconds: None)
    code = main(["--root", str(repo), "status", "demo", "--watch", "5", "--no-pages",
                 "--workdir", str(repo / "work")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("== demo (local, local-parsl)") == 1, out  # four rounds, nothing changed: printed once
    assert "recorded SUBMITTING" in out and next(rounds, None) is None, "all four rounds ran"
