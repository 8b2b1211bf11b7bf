"""campaign publish: transitions in the commit message, ledgers merged when two jobs race, no update lost."""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from campaignops.adapters.git.ledgers import read
from campaignops.adapters.git.publish import (
    BOT_EMAIL,
    BOT_NAME,
    BOT_PATHS,
    DEFAULT_PATHSPECS,
    is_bot_path,
    publish,
    publish_records,
    push_auth_env,
    unpushed,
)
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
    ledger = read(Git(bare), "main", f"campaigns/{CAMPAIGN}")
    assert ledger is not None, "no readable ledger on the remote"
    return ledger


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
        "STATUS.md", f"campaigns/{CAMPAIGN}/STATUS.md", f"campaigns/{CAMPAIGN}/ledger/index.yaml",
        f"campaigns/{CAMPAIGN}/ledger/step1.000.yaml", f"campaigns/{CAMPAIGN}/progress.svg"]


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
    assert set(result.merged) == {f"campaigns/{CAMPAIGN}/ledger/index.yaml", f"campaigns/{CAMPAIGN}/ledger/step1.000.yaml"}
    merged = remote_ledger(remote)
    assert [r.key for r in merged.runs] == ["step1/g0001", "step1/g0002"]
    assert merged.run("step1/g0001").state == RunState.SUCCEEDED  # type: ignore[union-attr]
    assert git(remote, "log", "--format=%s", "main").splitlines()[:2] == [
        "Submit step1 g0002", f"{CAMPAIGN}: 1 transition (1 SUCCEEDED)"]


def test_a_raced_push_lands_from_a_runner_with_no_git_identity(remote: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two facilities' status jobs race; the second runner has no git identity: the bot's own commits it (the
    rebase replays our commit as a new one, so it needs the identity as much as the commit did)."""
    first = clone(remote, tmp_path / "first", "first")
    second = clone(remote, tmp_path / "second", "second")
    for key in ("user.name", "user.email"):
        git(second, "config", "--unset", key)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    update(first, run("g0001", attempt(states=(RunState.SUBMITTING, RunState.RUNNING), checked="t2")))
    update(second, run("g0002", attempt()))
    publish(Git(first), sleep=no_sleep)
    result = publish(Git(second), sleep=no_sleep)
    assert result.tries == 2 and [r.key for r in remote_ledger(remote).runs] == ["step1/g0001", "step1/g0002"]
    assert git(remote, "log", "-1", "--format=%cn <%ce>", "main").strip() == f"{BOT_NAME} <{BOT_EMAIL}>"


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


@pytest.mark.parametrize("to", ["main", "records"])
def test_a_checkout_without_the_remote_fails_at_once_saying_how_to_add_it_and_a_rerun_pushes(
        to: str, remote: Path, tmp_path: Path) -> None:
    """No `origin` at all (a copied checkout, a runner whose checkout step was skipped): retrying cannot help, so
    publish says so at once instead of after five pushes and 30 s of waits; the record is kept and lands later."""
    work = clone(remote, tmp_path / "w", "w")
    update(work, run("g0002", attempt()))
    git(work, "remote", "remove", "origin")
    waits: list[float] = []
    push = publish if to == "main" else functools.partial(publish_records, branch="records")
    with pytest.raises(PublishError, match=r"no remote 'origin'.*`git remote add origin <url>`"):
        push(Git(work), sleep=waits.append)
    assert waits == [], "not retried"
    git(work, "remote", "add", "origin", str(remote))
    result = push(Git(work), sleep=no_sleep)
    assert result.commit == git(remote, "rev-parse", to).strip()
    assert read(Git(remote), to, f"campaigns/{CAMPAIGN}").run("step1/g0002") is not None  # type: ignore[union-attr]


def test_a_raced_push_merges_updates_in_different_ledger_files(remote: Path, tmp_path: Path) -> None:
    """Two jobs moved runs kept in different files of the folder: git could merge those files, not the
    index; the whole ledger is merged and written again, nothing of either job lost."""
    seed = clone(remote, tmp_path / "seed2", "seed2")
    d = seed / "campaigns" / CAMPAIGN
    many = store.load(d, CAMPAIGN)
    for i in range(2, 2 + store.RUNS_PER_FILE):
        many = many.with_run(run(f"g{i:04d}", attempt(states=(RunState.SUBMITTING, RunState.RUNNING), checked="t1")))
    store.save(d, many)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "many")
    git(seed, "push", "-q", "origin", "HEAD:main")
    first = clone(remote, tmp_path / "first", "first")
    second = clone(remote, tmp_path / "second", "second")
    done = (RunState.SUBMITTING, RunState.RUNNING, RunState.SUCCEEDED)
    update(first, run("g0001", attempt(states=done, checked="t2")))  # in step1.000.yaml
    last = f"g{1 + store.RUNS_PER_FILE:04d}"
    update(second, run(last, attempt(states=done, checked="t2")))  # in step1.001.yaml
    publish(Git(first), sleep=no_sleep)
    result = publish(Git(second), sleep=no_sleep)
    assert result.tries == 2 and f"campaigns/{CAMPAIGN}/ledger/index.yaml" in result.merged
    merged = remote_ledger(remote)
    assert len(merged.runs) == 1 + store.RUNS_PER_FILE
    assert merged.run("step1/g0001").state == RunState.SUCCEEDED  # type: ignore[union-attr]
    assert merged.run(f"step1/{last}").state == RunState.SUCCEEDED  # type: ignore[union-attr]
    assert git(remote, "log", "-1", "--format=%s", "main").strip() == f"{CAMPAIGN}: 1 transition (1 SUCCEEDED)"


def test_a_ledger_moved_out_of_ledger_yaml_is_published_as_a_move_without_transitions(remote: Path,
                                                                                     tmp_path: Path) -> None:
    seed = clone(remote, tmp_path / "old", "old")
    d = seed / "campaigns" / CAMPAIGN
    old = store.load(d, CAMPAIGN)
    shutil.rmtree(d / store.LEDGER_DIR)
    (d / store.LEDGER_FILE).write_text(store.dumps(old))  # a campaign recorded before the folder layout
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "old layout")
    git(seed, "push", "-q", "origin", "HEAD:main")
    work = clone(remote, tmp_path / "w", "w")
    wd = work / "campaigns" / CAMPAIGN
    assert store.migrating(wd)
    store.save(wd, store.load(wd, CAMPAIGN))
    result = publish(Git(work), message="Move the ledger into its folder", sleep=no_sleep)
    assert result.commit is not None and result.changes == ()
    files = git(remote, "ls-tree", "-r", "--name-only", "main").split()
    assert f"campaigns/{CAMPAIGN}/ledger.yaml" not in files and f"campaigns/{CAMPAIGN}/ledger/index.yaml" in files
    assert remote_ledger(remote) == old


# ---- a protected main, and a record branch ---------------------------------------------------------

GH006 = ("remote: error: GH006: Protected branch update failed for refs/heads/main.\n"
         "remote: error: Changes must be made through a pull request.\n")


def protect(bare: Path, ref: str = "refs/heads/main", text: str = GH006) -> None:
    """A pre-receive hook refusing updates of `ref` the way GitHub does for a protected branch."""
    hook = bare / "hooks" / "pre-receive"
    lines = "".join(f"  echo '{line}' >&2\n" for line in text.splitlines())
    hook.write_text(f"#!/bin/sh\nwhile read old new ref; do\n if [ \"$ref\" = \"{ref}\" ]; then\n{lines}"
                    "  exit 1\n fi\ndone\nexit 0\n")
    hook.chmod(0o755)


def pushes(bare: Path) -> int:
    """How many times the remote was asked to update a ref (the hook appends a line per push)."""
    log = bare / "pushes.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def count_pushes(bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    text = hook.read_text()
    hook.write_text(text.replace("#!/bin/sh\n", f"#!/bin/sh\necho push >> {bare / 'pushes.log'}\n", 1))


def _cli(work: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root")
    publish_cmd.add_arguments(parser)
    return publish_cmd.run(parser.parse_args(["--root", str(work), *argv]))


def failed_run(checkout: Path, group: str = "g0001") -> None:
    update(checkout, run(group, attempt(states=(RunState.SUBMITTING, RunState.RUNNING, RunState.FAILED),
                                        checked="t2", failed=3)))


def test_a_protected_main_fails_at_once_naming_both_fixes(remote: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    protect(remote)
    count_pushes(remote)
    work = clone(remote, tmp_path / "w", "w")
    failed_run(work)
    waits: list[float] = []
    with pytest.raises(PublishError) as info:
        publish(Git(work), sleep=waits.append)
    message = str(info.value)
    assert "GH006: Protected branch update failed for refs/heads/main" in message
    assert "GitHub App installation token" in message and "bypass list" in message  # fix 1
    assert "campaign publish --branch records" in message and "CAMPAIGNOPS_RECORD_BRANCH" in message  # fix 2
    assert "git pull --rebase" not in message  # the race advice cannot work here
    assert waits == [] and pushes(remote) == 1  # one try, never retried as a race
    # the CLI turns it into exit 1 with the message (cli/main catches CampaignError once)
    from campaignops.cli.main import main
    assert main(["--root", str(work), "publish"]) == 1
    assert "GH006" in capsys.readouterr().err


@pytest.mark.parametrize("refusal", [
    "remote: error: GH013: Repository rule violations found for refs/heads/main.",
    "remote: error: Commits must have verified signatures.",
    "remote: refusing to allow a GitHub App to create or update workflow `.github/workflows/x.yml`",
])
def test_other_protection_refusals_are_not_retried_either(remote: Path, tmp_path: Path, refusal: str) -> None:
    protect(remote, text=refusal)
    work = clone(remote, tmp_path / "w", "w")
    failed_run(work)
    waits: list[float] = []
    with pytest.raises(PublishError, match="refused by branch protection"):
        publish(Git(work), sleep=waits.append)
    assert waits == []


def test_publish_to_a_record_branch_lands_while_main_is_protected(remote: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    protect(remote)
    main_before = git(remote, "rev-parse", "main")
    work = clone(remote, tmp_path / "w", "w")
    failed_run(work)
    (work / "STATUS.md").write_text("# status\n")

    assert _cli(work, "--branch", "records") == 0

    assert "pushed" in capsys.readouterr().out
    assert git(remote, "rev-parse", "main") == main_before  # main untouched
    assert git(remote, "rev-parse", "records^") == main_before  # the record branch starts from main
    assert remote_ledger_at(remote, "records").run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]
    assert git(remote, "show", "records:STATUS.md") == "# status\n"
    assert "RUNNING→FAILED" in git(remote, "log", "-1", "--format=%B", "records")
    # the checkout's index and HEAD stay main's
    assert git(work, "status", "--porcelain", "--untracked-files=no").splitlines() == [
        f" M campaigns/{CAMPAIGN}/ledger/index.yaml", f" M campaigns/{CAMPAIGN}/ledger/step1.000.yaml"]


def checkout_again(work: Path) -> None:
    """What actions/checkout does to a reused checkout before the next job (src/git-directory-helper.ts):
    detach, delete every local branch and remote-tracking ref, clean, then check out the remote's main."""
    git(work, "checkout", "-q", "--detach")
    for ref in git(work, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes").split():
        git(work, "update-ref", "-d", ref)
    git(work, "clean", "-qffdx")
    git(work, "reset", "-q", "--hard")
    git(work, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    git(work, "checkout", "-q", "-B", "main", "refs/remotes/origin/main")


def refused(remote: Path, tmp_path: Path) -> Path:
    """A checkout whose `campaign publish` of a failed run was refused by a protected main (exit 1)."""
    from campaignops.cli.main import main
    protect(remote)
    work = clone(remote, tmp_path / "w", "w")
    failed_run(work)
    assert main(["--root", str(work), "publish"]) == 1
    return work


def test_after_a_refused_push_the_record_branch_gets_the_commit_that_holds_the_record(
        remote: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # issue 18.2: the message recommends `--branch records`; doing exactly that must publish the record
    from campaignops.cli.main import main
    work = refused(remote, tmp_path)
    err = capsys.readouterr().err
    assert "campaign publish --branch records" in err and "APP_CLIENT_ID" in err and "APP_ID " not in err
    [kept] = unpushed(Git(work))
    assert kept[:12] in err, "the refusal names the record commit it keeps"

    assert main(["--root", str(work), "publish", "--branch", "records"]) == 0
    out = capsys.readouterr().out
    assert "nothing changed" not in out and "pushed" in out
    assert remote_ledger_at(remote, "records").run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]
    assert unpushed(Git(work)) == [], "landed: no longer reported"
    assert main(["--root", str(work), "publish", "--branch", "records"]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_a_record_commit_not_pushed_fails_every_later_publish_naming_it_until_it_lands(
        remote: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from campaignops.cli.main import main
    work = refused(remote, tmp_path)
    [kept] = unpushed(Git(work))
    capsys.readouterr()

    checkout_again(work)  # the next job: the local main with the record commit is gone
    assert (store.load(work / "campaigns" / CAMPAIGN, CAMPAIGN).run("step1/g0001")
            .state == RunState.RUNNING)  # type: ignore[union-attr]
    assert main(["--root", str(work), "publish"]) == 1, "never `nothing changed` while a record is unpushed"
    assert kept[:12] in capsys.readouterr().err
    checkout_again(work)
    assert main(["--root", str(work), "publish"]) == 1, "on every later run"
    assert kept[:12] in capsys.readouterr().err

    (remote / "hooks" / "pre-receive").unlink()  # the fix: an app on the bypass list, say
    checkout_again(work)
    assert main(["--root", str(work), "publish"]) == 0
    assert remote_ledger(remote).run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]
    assert unpushed(Git(work)) == []
    assert main(["--root", str(work), "publish"]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_a_record_commit_whose_ledger_cannot_be_carried_keeps_publish_failing(
        remote: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = clone(remote, tmp_path / "w", "w")
    index = work / "campaigns" / CAMPAIGN / "ledger" / "index.yaml"
    index.write_text("not: [a ledger\n")  # damaged in the commit the refused push kept
    git(work, "commit", "-qam", "damaged")
    bad = git(work, "rev-parse", "HEAD").strip()
    git(work, "update-ref", f"refs/campaignops/unpushed/{bad}", bad)
    git(work, "reset", "-q", "--hard", "origin/main")
    assert _cli(work) == 1
    assert bad[:12] in capsys.readouterr().err


def remote_ledger_at(bare: Path, rev: str) -> Ledger:
    ledger = read(Git(bare), rev, f"campaigns/{CAMPAIGN}")
    assert ledger is not None, f"no readable ledger on {rev}"
    return ledger


def test_the_next_job_reads_ledgers_from_the_record_branch_and_specs_from_main(remote: Path,
                                                                                tmp_path: Path) -> None:
    first = clone(remote, tmp_path / "first", "first")
    failed_run(first)
    (first / "campaigns" / "weekly-1").mkdir()
    (first / "campaigns" / "weekly-1" / "campaign.yaml").write_text("name: weekly-1\n")  # `campaign new`
    assert _cli(first, "--branch", "records") == 0
    # a reviewed change merged on main meanwhile
    person = clone(remote, tmp_path / "person", "person")
    (person / "campaigns" / CAMPAIGN / "campaign.yaml").write_text(f"name: {CAMPAIGN}\ndescription: reviewed\n")
    git(person, "commit", "-qam", "reviewed change")
    git(person, "push", "-q", "origin", "main")

    job = clone(remote, tmp_path / "job", "job")  # checks out main
    assert _cli(job, "--branch", "records", "--pull") == 0
    assert store.load(job / "campaigns" / CAMPAIGN, CAMPAIGN).run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]
    assert (job / "campaigns" / "weekly-1" / "campaign.yaml").exists()
    assert "reviewed" in (job / "campaigns" / CAMPAIGN / "campaign.yaml").read_text()  # specs: main's
    update(job, run("g0002", attempt()))
    assert _cli(job, "--branch", "records") == 0

    final = remote_ledger_at(remote, "records")
    assert [r.key for r in final.runs] == ["step1/g0001", "step1/g0002"]
    assert "reviewed" in git(remote, "show", f"records:campaigns/{CAMPAIGN}/campaign.yaml")
    # seed ← record 1 ← record 2: the record branch never merges main, its tree carries main's specs
    assert git(remote, "rev-list", "--count", "records").strip() == "3"


def test_a_job_that_did_not_pull_still_drops_nothing_on_the_record_branch(remote: Path, tmp_path: Path) -> None:
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    failed_run(a)
    update(b, run("g0002", attempt()))
    waits: list[float] = []
    assert publish_records(Git(a), branch="records").commit
    result = publish_records(Git(b), branch="records", sleep=waits.append)
    assert result.merged == (f"campaigns/{CAMPAIGN}",)
    final = remote_ledger_at(remote, "records")
    assert sorted(r.key for r in final.runs) == ["step1/g0001", "step1/g0002"]
    assert final.run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]
    assert publish_records(Git(b), branch="records").commit is None  # nothing new: no empty commit


def test_two_concurrent_record_branch_publishes_both_land(remote: Path, tmp_path: Path) -> None:
    clones = [clone(remote, tmp_path / f"job{i}", f"job{i}") for i in range(2)]
    for i, work in enumerate(clones):
        update(work, run(f"g1{i}", attempt(checked=f"t{i}")))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def job(work: Path) -> None:
        try:
            start.wait()
            publish_records(Git(work), branch="records", backoff=0.01, max_tries=10)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(w,)) for w in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.key for r in remote_ledger_at(remote, "records").runs) == [
        "step1/g0001", "step1/g10", "step1/g11"]


def test_a_protected_record_branch_is_refused_at_once_too(remote: Path, tmp_path: Path) -> None:
    protect(remote, ref="refs/heads/records", text="remote: error: GH006: Protected branch update failed "
                                                  "for refs/heads/records.")
    work = clone(remote, tmp_path / "w", "w")
    failed_run(work)
    waits: list[float] = []
    with pytest.raises(PublishError, match=r"GH006.*kept in this working tree"):
        publish_records(Git(work), branch="records", sleep=waits.append)
    assert waits == []


def test_pull_without_a_record_branch_keeps_the_checkouts_ledgers(remote: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    work = clone(remote, tmp_path / "w", "w")
    assert _cli(work, "--branch", "records", "--pull") == 0
    assert "no record branch records" in capsys.readouterr().out
    assert git(work, "status", "--porcelain") == ""


def test_the_token_reaches_git_through_the_environment_only() -> None:
    env = push_auth_env("ghs_abc", "https://github.com", env={"GIT_CONFIG_COUNT": "1"})
    assert env["GIT_CONFIG_COUNT"] == "2" and env["GIT_CONFIG_KEY_1"] == "http.https://github.com/.extraheader"
    assert env["GIT_CONFIG_VALUE_1"] == "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX2FiYw=="
    assert push_auth_env(None) == {}


def test_the_bot_paths_are_one_list_used_for_commit_and_overlay() -> None:
    assert is_bot_path(f"campaigns/{CAMPAIGN}/ledger.yaml") and is_bot_path("STATUS.md")
    assert not is_bot_path(f"campaigns/{CAMPAIGN}/campaign.yaml") and not is_bot_path("a/campaigns/x/ledger.yaml")
    assert tuple(f":(glob){p}" for p in BOT_PATHS) == DEFAULT_PATHSPECS


def test_pull_keeps_runs_only_the_checkout_recorded(remote: Path, tmp_path: Path) -> None:
    first = clone(remote, tmp_path / "first", "first")
    failed_run(first)
    assert publish_records(Git(first), branch="records").commit
    job = clone(remote, tmp_path / "job", "job")
    update(job, run("g0009", attempt()))  # recorded in main's ledger, never on the record branch
    assert _cli(job, "--branch", "records", "--pull") == 0
    ledger = store.load(job / "campaigns" / CAMPAIGN, CAMPAIGN)
    assert sorted(r.key for r in ledger.runs) == ["step1/g0001", "step1/g0009"]
    assert ledger.run("step1/g0001").state == RunState.FAILED  # type: ignore[union-attr]


# ---- what the writers declare is what publish commits ---------------------------------------------------

def test_bot_paths_are_the_writers_declarations() -> None:
    from campaignops.adapters import pages, profile
    from campaignops.adapters.git import ledgers

    assert (*ledgers.FILES, *pages.FILES, *profile.FILES) == BOT_PATHS
    assert is_bot_path("sites/USDF.md") and is_bot_path(f"campaigns/{CAMPAIGN}/progress.svg")
    assert not is_bot_path("sites/x/y.md") and not is_bot_path("README.md")


def test_the_page_writer_refuses_a_page_it_does_not_declare(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from campaignops.adapters import pages

    with pytest.raises(ValueError, match=r"not declared in adapters/pages.FILES: campaigns/x/extra.md"):
        pages.write(tmp_path, {"STATUS.md": "# s\n", "campaigns/x/extra.md": "# x\n"}, datetime.now(UTC))
    assert not (tmp_path / "STATUS.md").exists(), "nothing is written when one page is undeclared"


def test_after_publish_on_the_demo_control_repository_git_status_is_clean(
        remote: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # issue 17.4: site pages and SVGs used to stay untracked (`?? sites/`) after `campaign publish`
    from datetime import UTC, datetime

    from campaignops.adapters import pages as page_files
    from campaignops.cli.main import main
    from campaignops.demo.multisite import CAMPAIGN as DEMO
    from campaignops.demo.multisite import make_control_repo
    from campaignops.domain.states import TaskCounts, Transition
    from campaignops.ledger.records import Attempt
    from campaignops.views import pages

    source = Path(__file__).resolve().parents[2]
    control = make_control_repo(source, tmp_path / "control", tmp_path / "sites")
    bare = tmp_path / "control.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(control, "remote", "add", "origin", str(bare))
    git(control, "push", "-q", "origin", "main")
    git(control, "fetch", "-q", "origin")

    def ran(site: str, state: RunState, done: int) -> RunRecord:
        at = "2026-12-01T10:00:00+00:00"
        return RunRecord("step1", f"local-{site}", "", (Attempt(
            number=1, kind="submit", output_run=f"demo/{site}/a01", config_hash="h", config_path="c.yaml",
            launch_dir="/l", submit_dir="/s", wms_id="1", submitted_at=at, state=state, last_checked=at,
            tasks=(TaskCounts("isrDemo", (("FAILED", 4 - done), ("SUCCEEDED", done))),),
            transitions=(Transition(at, state),)),))

    folder = control / "campaigns" / DEMO
    store.save(folder, Ledger(DEMO, (ran("usdf", RunState.SUCCEEDED, 4), ran("frdf", RunState.FAILED, 3),
                                     ran("ukdf", RunState.RUNNING, 2))))
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    written = page_files.write(control, pages.render_all(pages.read_model(control, now)), now)
    names = sorted(p.relative_to(control).as_posix() for p in written)
    assert {"STATUS.md", f"campaigns/{DEMO}/STATUS.md", f"campaigns/{DEMO}/progress.svg", "sites/FrDF.md",
            "sites/UKDF.md", "sites/USDF.md"} <= set(names)

    assert main(["--root", str(control), "publish"]) == 0
    assert "pushed" in capsys.readouterr().out
    assert git(control, "status", "--porcelain", "--untracked-files=all") == ""
    landed = set(git(bare, "ls-tree", "-r", "--name-only", "main").split())
    assert set(names) <= landed, "every file the writer wrote is on the remote"


def test_a_repository_on_master_publishes_to_master_checked_out_or_detached(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "master.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(bare)], check=True)
    seed = clone(bare, tmp_path / "seed", "seed")
    git(seed, "checkout", "-q", "-b", "master")
    (seed / "campaigns" / CAMPAIGN).mkdir(parents=True)
    (seed / "campaigns" / CAMPAIGN / "campaign.yaml").write_text(f"name: {CAMPAIGN}\n")
    store.save(seed / "campaigns" / CAMPAIGN, Ledger(CAMPAIGN, (
        run("g0001", attempt(states=(RunState.SUBMITTING, RunState.RUNNING), checked="t1")),)))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "push", "-q", "origin", "master")
    work = clone(bare, tmp_path / "w", "w")
    failed_run(work)
    assert _cli(work) == 0
    assert "to origin master" in capsys.readouterr().out
    branches = ["for-each-ref", "--format=%(refname:short)", "refs/heads"]
    assert git(bare, *branches).split() == ["master"], "no `main` appears, no record branch is made"
    git(work, "checkout", "-q", "--detach")  # as a workflow checks out a commit
    update(work, run("g0002", attempt(states=(RunState.SUBMITTING, RunState.RUNNING), checked="t3")))
    assert _cli(work) == 0
    assert "to origin master" in capsys.readouterr().out
    assert git(bare, *branches).split() == ["master"]
