"""The PanDA token of the runner: read from $PANDA_AUTH_ID_TOKEN or $PANDA_CONFIG_ROOT/.token, checked against
its expiry, and one issue kept open while it is short: opened once, commented per new expiry, closed once
refreshed; `campaign doctor` does it all from the status job."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.adapters.panda.token import TokenError, read_token
from campaignops.cli.main import main
from campaignops.domain.model import Profile
from campaignops.engine.doctor_panda import RUNNER, check_token, panda_setup_problems, sync_token_issue

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def jwt(exp: datetime, **claims: object) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part({'exp': int(exp.timestamp()), **claims})}.c2lnbmF0dXJl"


def token_file(root: Path, exp: datetime) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".token").write_text(json.dumps({"id_token": jwt(exp, name="lsstsvc1"), "refresh_token": "opaque"}))
    return {"PANDA_CONFIG_ROOT": str(root), "HOME": str(root)}


def test_the_token_is_read_from_the_file_or_the_variable(tmp_path: Path) -> None:
    env = token_file(tmp_path / "panda", NOW + timedelta(hours=5))
    token = read_token(env)
    assert token is not None and token.expires_at == NOW + timedelta(hours=5) and token.subject == "lsstsvc1"
    assert token.source == str(tmp_path / "panda" / ".token")
    override = read_token({**env, "PANDA_AUTH_ID_TOKEN": jwt(NOW + timedelta(days=2))})
    assert override is not None and override.source == "$PANDA_AUTH_ID_TOKEN"
    assert override.expires_at == NOW + timedelta(days=2)
    assert read_token({"PANDA_CONFIG_ROOT": str(tmp_path / "none")}) is None


@pytest.mark.parametrize(("content", "words"), [
    ("not json", "unreadable token file"),
    (json.dumps({"refresh_token": "x"}), "no id_token"),
    (json.dumps({"id_token": "abc"}), "not a JWT"),
    (json.dumps({"id_token": "a.!!!.c"}), "cannot be decoded"),
])
def test_a_damaged_token_is_a_clear_error(tmp_path: Path, content: str, words: str) -> None:
    (tmp_path / ".token").write_text(content)
    with pytest.raises(TokenError, match=words):
        read_token({"PANDA_CONFIG_ROOT": str(tmp_path)})


def test_levels_by_time_left() -> None:
    def level(hours: float) -> str:
        return check_token(NOW + timedelta(hours=hours), NOW, site="USDF").level
    assert [level(h) for h in (72, 20, 5, -3)] == ["ok", "warn", "issue", "issue"]
    assert check_token(NOW + timedelta(hours=5), NOW, site="USDF").message.startswith(
        "PanDA token on the USDF runner expires in 5 h: run `panda_auth refresh`")
    assert "expired 3 h ago" in check_token(NOW - timedelta(hours=3), NOW, site="USDF").message
    assert check_token(None, NOW, site="USDF").level == "missing"


def test_two_hours_from_expiry_opens_exactly_one_issue_closed_after_refresh(tmp_path: Path) -> None:
    tracker = FolderTracker(tmp_path / "issues")
    short = check_token(NOW + timedelta(hours=2), NOW, site="USDF")
    assert sync_token_issue(tracker, short, "USDF", NOW)[0].startswith("opened")
    assert sync_token_issue(tracker, short, "USDF", NOW + timedelta(minutes=15)) == []  # the next cycle
    (issue,) = tracker.issues(RUNNER)
    assert issue.open and issue.title == "PanDA token on the USDF runner expires in 2 h"
    assert "panda_auth refresh" in issue.body

    # a new token that is short too: one comment, not a second issue
    newer = check_token(NOW + timedelta(hours=4), NOW + timedelta(hours=1), site="USDF")
    assert sync_token_issue(tracker, newer, "USDF", NOW)[0].startswith("commented")
    assert sync_token_issue(tracker, newer, "USDF", NOW) == []
    assert len(tracker.issues(RUNNER)) == 1 and len(tracker.comments(tracker.issues(RUNNER)[0])) == 1

    refreshed = check_token(NOW + timedelta(days=3), NOW, site="USDF")
    assert sync_token_issue(tracker, refreshed, "USDF", NOW)[0].startswith("closed")
    (closed,) = tracker.issues(RUNNER)
    assert not closed.open and "refreshed" in tracker.comments(closed)[-1]
    assert sync_token_issue(tracker, refreshed, "USDF", NOW) == []
    # the runner's issue is no campaign's: failure issues of campaigns do not see it
    assert tracker.issues("drp") == []


def test_panda_profiles_need_panda_url_and_a_monitor() -> None:
    usdf = Profile("usdf-panda", "d", "USDF", "panda", "", (), monitor=(("url", "https://m/"),))
    bare = Profile("ukdf-panda", "d", "UKDF", "panda", "", ())
    local = Profile("local-parsl", "d", "local", "parsl", "", ())
    assert panda_setup_problems([local], {}) == []
    problems = panda_setup_problems([usdf, bare], {})
    assert any("PANDA_URL is not set" in p for p in problems)
    assert any("no BigPanDA monitor for ukdf-panda" in p for p in problems)
    assert panda_setup_problems([usdf, bare], {"PANDA_URL": "https://p/", "PANDAMON_URL": "https://m/"}) == []


def test_campaign_doctor_opens_the_token_issue_on_the_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    for key, value in token_file(tmp_path / "panda", datetime.now(UTC) + timedelta(hours=2)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PANDA_URL", "https://pandaserver.example.org:8443/server/panda")
    for name in ("PANDA_AUTH_ID_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "PANDAMON_URL"):
        monkeypatch.delenv(name, raising=False)
    args = ["--root", str(tmp_path), "doctor", "--site", "USDF", "--issues", "--folder", str(tmp_path / "issues")]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "problem: PanDA token on the USDF runner expires in 2 h" in out and "opened" in out
    assert main(args) == 1
    assert "opened" not in capsys.readouterr().out
    assert len(list((tmp_path / "issues").glob("*.md"))) == 1


def test_a_facilitys_runner_checks_only_the_panda_profiles_of_its_own_facility(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A runner per facility: the UKDF runner (no campaign runs at UKDF here) has no USDF PanDA token to hold."""
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    for name in ("PANDA_AUTH_ID_TOKEN", "PANDA_CONFIG_ROOT", "PANDA_URL", "PANDAMON_URL", "GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAMPAIGNOPS_SITE", "UKDF")
    assert main(["--root", str(tmp_path), "doctor", "--folder", str(tmp_path / "issues")]) == 0
    out = capsys.readouterr().out
    assert "PanDA: no campaign uses a PanDA profile at UKDF; nothing to check" in out and "problem:" not in out
    monkeypatch.setenv("CAMPAIGNOPS_SITE", "USDF")  # the USDF runner: its campaigns are on usdf-panda
    assert main(["--root", str(tmp_path), "doctor", "--folder", str(tmp_path / "issues")]) == 1
    assert "no PanDA token on the USDF runner" in capsys.readouterr().out
