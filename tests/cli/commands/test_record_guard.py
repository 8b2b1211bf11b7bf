"""`campaign record-guard` (validate.yml): a pull request that changes the bot's record — a ledger in
either layout, a status page — fails unless the bot opened it. Real git, real commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from campaignops.campaign_spec.changes import bot_written
from campaignops.cli.main import main

BOT = "campaignops[bot]"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.org")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "campaigns" / "demo" / "ledger").mkdir(parents=True)
    (tmp_path / "campaigns" / "demo" / "campaign.yaml").write_text("name: demo\n")
    (tmp_path / "campaigns" / "demo" / "ledger" / "index.yaml").write_text("# index\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def change(repo: Path, rel: str) -> tuple[str, str]:
    base = git(repo, "rev-parse", "HEAD")
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text("changed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"change {rel}")
    return base, git(repo, "rev-parse", "HEAD")


def guard(repo: Path, base: str, head: str, author: str) -> int:
    return main(["--root", str(repo), "record-guard", "--base", base, "--head", head, "--author", author,
                 "--bot", BOT])


@pytest.mark.parametrize("rel", ["campaigns/demo/ledger/index.yaml", "campaigns/demo/ledger/step1.000.yaml",
                                 "campaigns/demo/ledger.yaml", "campaigns/demo/STATUS.md"])
def test_a_pull_request_by_a_person_that_changes_the_record_fails_naming_the_files(
        repo: Path, rel: str, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = change(repo, rel)
    assert guard(repo, base, head, "alice") == 1
    out = capsys.readouterr()
    assert f"::error file={rel}::" in out.out and "alice" in out.out
    assert rel in out.err and "bot" in out.err


def test_the_bot_may_change_the_record_and_a_person_may_change_a_spec(repo: Path) -> None:
    base, head = change(repo, "campaigns/demo/ledger/index.yaml")
    assert guard(repo, base, head, BOT) == 0
    base, head = change(repo, "campaigns/demo/campaign.yaml")
    assert guard(repo, base, head, "alice") == 0


def test_a_base_that_is_not_fetched_is_an_error_saying_so(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert guard(repo, "0" * 39 + "1", "HEAD", "alice") == 1
    assert "fetch-depth" in capsys.readouterr().err


def test_only_the_bots_files_under_a_campaign_count() -> None:
    assert bot_written(["campaigns/demo/ledger/step1.000.yaml", "campaigns/demo/campaign.yaml",
                        "campaigns/profiles/local.yaml", "campaigns/templates/x/ledger.yaml",
                        "campaigns/demo/STATUS.md", "README.md", "campaigns/demo/ledger.yaml"]) == [
        "campaigns/demo/STATUS.md", "campaigns/demo/ledger.yaml", "campaigns/demo/ledger/step1.000.yaml"]
