"""campaign publish: transitions in the commit message, ledgers merged when two jobs race, no update lost."""

from __future__ import annotations

import argparse
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from campaignops.adapters.git.publish import publish
from campaignops.adapters.git.repo import Git
from campaignops.cli.commands import publish as publish_cmd
from campaignops.domain.errors import PublishError
from campaignops.domain.states import RunState
from campaignops.ledger import store
from campaignops.ledger.records import Ledger, RunRecord
from fakes.ledgers import CAMPAIGN, attempt, run


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def clone(remote: Path, where: Path, name: str) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(where)], check=True, capture_output=True)
    git(where, "config", "user.name", name)
    git(where, "config", "user.email", f"{name}@example.org")
    return where


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare `origin` holding one commit with a campaign and its ledger of one running run."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    seed = clone(bare, tmp_path / "seed", "seed")
    (seed / "campaigns" / CAMPAIGN).mkdir(parents=True)
    (seed / "campaigns" / CAMPAIGN / "campaign.yaml").write_text(f"name: {CAMPAIGN}\n")
    store.save(seed / "campaigns" / CAMPAIGN, Ledger(CAMPAIGN, (
        run("g0001", attempt(states=(RunState.SUBMITTING, RunState.RUNNING), checked="t1")),)))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return bare


def remote_ledger(bare: Path) -> Ledger:
    text = git(bare, "show", f"main:campaigns/{CAMPAIGN}/ledger.yaml")
    return store.from_dict(yaml.safe_load(text))


def update(checkout: Path, record: RunRecord) -> None:
    d = checkout / "campaigns" / CAMPAIGN
    store.save(d, store.load(d, CAMPAIGN).with_run(record))


def no_sleep(_: float) -> None:
    return None


# ---- against real git -------------------------------------------------------------------------

def test_nothing_to_commit_exits_0_and_says_nothing_changed(remote: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    work = clone(remote, tmp_path / "w", "w")
    before = git(remote, "rev-parse", "main")
    parser = argparse.ArgumentParser()
    parser.add_argument("--root")
    publish_cmd.add_arguments(parser)
    assert publish_cmd.run(parser.parse_args(["--root", str(work)])) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert git(remote, "rev-parse", "main") == before


def test_publish_commits_ledger_and_status_pages_with_transitions_and_pushes(remote: Path,
                                                                             tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "w", "w")
    update(work, run("g0001", attempt(states=(RunState.SUBMITTING, RunState.RUNNING, RunState.FAILED),
                                     checked="t2", failed=12)))
    (work / "campaigns" / CAMPAIGN / "STATUS.md").write_text("# failed\n")
    (work / "campaigns" / CAMPAIGN / "progress.svg").write_text("<svg/>\n")
    (work / "STATUS.md").write_text("# all\n")
    (work / "campaigns" / CAMPAIGN / "campaign.yaml").write_text("edited behind review\n")
    (work / "notes.txt").write_text("scratch\n")
    result = publish(Git(work), sleep=no_sleep)
    assert result.commit == git(remote, "rev-parse", "main").strip()
    assert git(remote, "log", "-1", "--format=%B", "main").strip().splitlines() == [
        f"{CAMPAIGN}: 1 transition (1 FAILED)", "",
        f"{CAMPAIGN}: step1 g0001 RUNNING→FAILED (12 failed in calibrate)"]
    assert sorted(git(remote, "show", "--name-only", "--format=", "main").split()) == [
        "STATUS.md", f"campaigns/{CAMPAIGN}/STATUS.md", f"campaigns/{CAMPAIGN}/ledger.yaml",
        f"campaigns/{CAMPAIGN}/progress.svg"]


def test_a_new_campaign_folder_is_committed(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "w", "w")
    (work / "campaigns" / "ci-hsc-w_2026_47").mkdir()
    (work / "campaigns" / "ci-hsc-w_2026_47" / "campaign.yaml").write_text("name: ci-hsc-w_2026_47\n")
    publish(Git(work), sleep=no_sleep)
    assert git(remote, "log", "-1", "--format=%s", "main").strip() == "New campaign ci-hsc-w_2026_47"
    assert "campaigns/ci-hsc-w_2026_47/campaign.yaml" in git(remote, "ls-tree", "-r", "--name-only", "main")


def test_a_raced_push_merges_both_ledger_updates(remote: Path, tmp_path: Path) -> None:
    submit = clone(remote, tmp_path / "submit", "submit")
    status = clone(remote, tmp_path / "status", "status")
    update(status, run("g0001", attempt(states=(RunState.SUBMITTING, RunState.RUNNING, RunState.SUCCEEDED),
                                       checked="t2")))
    (status / "campaigns" / CAMPAIGN / "STATUS.md").write_text("status job's page\n")
    (status / "campaigns" / CAMPAIGN / "progress.svg").write_text("<svg>status</svg>\n")
    update(submit, run("g0002", attempt()))
    (submit / "campaigns" / CAMPAIGN / "STATUS.md").write_text("submit job's page\n")
    (submit / "campaigns" / CAMPAIGN / "progress.svg").write_text("<svg>submit</svg>\n")
    publish(Git(status), sleep=no_sleep)
    waits: list[float] = []
    result = publish(Git(submit), message="Submit step1 g0002", sleep=waits.append)
    assert result.tries == 2 and waits == [2.0]
    assert result.merged == (f"campaigns/{CAMPAIGN}/ledger.yaml",)
    merged = remote_ledger(remote)
    assert [r.key for r in merged.runs] == ["step1/g0001", "step1/g0002"]
    assert merged.run("step1/g0001").state == RunState.SUCCEEDED  # type: ignore[union-attr]
    assert git(remote, "log", "--format=%s", "main").splitlines()[:2] == [
        "Submit step1 g0002", f"{CAMPAIGN}: 1 transition (1 SUCCEEDED)"]


def test_two_concurrent_publishes_both_land(remote: Path, tmp_path: Path) -> None:
    clones = [clone(remote, tmp_path / f"job{i}", f"job{i}") for i in range(2)]
    for i, work in enumerate(clones):
        update(work, run(f"g1{i}", attempt(checked=f"t{i}")))
        update(work, run("g0001", attempt(
            states=(RunState.SUBMITTING, RunState.RUNNING, RunState.FAILED)[: 2 + i], checked=f"t{i}")))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def job(work: Path) -> None:
        try:
            start.wait()
            publish(Git(work), backoff=0.01, max_tries=10)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(w,)) for w in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = remote_ledger(remote)
    assert sorted(r.key for r in final.runs) == ["step1/g0001", "step1/g10", "step1/g11"]
    assert final.run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]
    assert len(git(remote, "log", "--format=%H", "main").split()) == 3


def test_a_conflict_outside_ledgers_and_pages_aborts_and_keeps_the_commit(remote: Path,
                                                                         tmp_path: Path) -> None:
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    for work, text in ((a, "from a\n"), (b, "from b\n")):
        (work / "campaigns" / CAMPAIGN / "groups.txt").write_text(text)
    publish(Git(a), paths=["campaigns/*/groups.txt"], sleep=no_sleep)
    with pytest.raises(PublishError, match="resolve it by hand"):
        publish(Git(b), paths=["campaigns/*/groups.txt"], sleep=no_sleep)
    assert git(b, "log", "-1", "--format=%s").strip() == "Update campaign records"
    assert not (b / ".git" / "rebase-merge").exists()


def test_an_unreachable_remote_fails_loudly_after_max_tries_and_a_rerun_pushes(remote: Path,
                                                                              tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "w", "w")
    update(work, run("g0002", attempt()))
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    waits: list[float] = []
    with pytest.raises(PublishError, match=r"after 3 tries.*run `campaign publish` again"):
        publish(Git(work), max_tries=3, sleep=waits.append)
    assert waits == [2.0, 4.0]
    git(work, "remote", "set-url", "origin", str(remote))
    result = publish(Git(work), sleep=no_sleep)
    assert result.commit == git(remote, "rev-parse", "main").strip()
    assert remote_ledger(remote).run("step1/g0002") is not None
