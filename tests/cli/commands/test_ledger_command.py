"""`campaign ledger repair|migrate`: what looks never do, done only when asked, shown as a diff first, recorded
with who asked; and issue 18's case 4 — a step file a save cut short had written, lost since — refused with the
file named, never read as a step without runs (nor its runs submitted again or an old attempt adopted).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from campaignops.adapters.lock import release_all
from campaignops.cli.main import main
from campaignops.domain.states import RunState, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Control, Ledger, RunRecord
from fakes.launching_repo import control_repo

ROOT = Path(__file__).resolve().parents[3]
PART = "step1.000.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return control_repo(tmp_path)


def cdir(root: Path) -> Path:
    return root / "campaigns" / "demo"


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(store.ledger_dir(cdir(root)).iterdir()) if p.is_file()}


def run(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--root", str(root), *args])
    release_all()  # as a separate process would
    out = capsys.readouterr()
    return code, out.out, out.err


def cut_short(root: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
    """Save `ledger` over a folder that holds only its controls, the job killed after `writes` file writes
    (the pending index is the first, the new step file the second)."""
    folder = store.ledger_dir(cdir(root))
    shutil.rmtree(folder)
    store.save(cdir(root), Ledger(ledger.campaign, controls=ledger.controls))
    real = store._write
    done: list[Path] = []

    def write(path: Path, text: str, mode: int) -> None:
        if len(done) == writes:
            raise KeyboardInterrupt("killed")
        done.append(path)
        real(path, text, mode)

    monkeypatch.setattr(store, "_write", write)
    with pytest.raises(KeyboardInterrupt):
        store.save(cdir(root), ledger)
    monkeypatch.setattr(store, "_write", real)


def test_a_step_file_lost_after_a_save_cut_short_wrote_it_is_refused_by_looks_jobs_and_repair(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    code, out, err = run(repo, "apply", "demo", "--workdir", str(work), capsys=capsys)
    assert code == 0 and "submitted 3 run(s)" in out, out + err
    launched = store.load(cdir(repo), "demo")
    cut_short(repo, launched, monkeypatch, writes=2)  # the step file written, the final index not
    (store.ledger_dir(cdir(repo)) / PART).unlink()  # and then lost
    before = folder_bytes(repo)
    lost = store.ledger_dir(cdir(repo)) / PART
    for command in (["status", "demo", "--no-pages"], ["reconcile", "demo", "--no-pages"], ["apply", "demo"]):
        code, out, err = run(repo, *command, "--workdir", str(work), capsys=capsys)
        assert code == 1, (command, out, err)
        assert f"{lost}: missing" in err and f"git checkout <commit> -- {lost}" in err, err
        assert "internal error" not in err and "submitted" not in out
        assert folder_bytes(repo) == before, f"{command[0]} wrote the ledger"
    assert sorted(p.name for p in (work / "demo" / "step1").glob("*/a*")) == ["a01"] * 3, "nothing launched again"
    code, out, err = run(repo, "ledger", "repair", "demo", "--apply", "--workdir", str(work), capsys=capsys)
    assert code == 1 and f"{lost}: missing" in err and "git log -p" in err, out + err
    assert folder_bytes(repo) == before


def test_a_save_cut_short_before_its_new_step_file_is_read_without_it_and_repair_completes_it(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    attempt = Attempt(1, "submit", "demo/demo/step1/visit1001-1002/a01", "h", "c.yaml",
                      str(work / "demo" / "step1" / "visit1001-1002" / "a01"), state=RunState.SUBMITTING,
                      transitions=(Transition("2026-12-01T10:00:00Z", RunState.SUBMITTING),))
    intent = Ledger("demo", (RunRecord("step1", "visit1001-1002", "", (attempt,)),))
    store.save(cdir(repo), Ledger("demo"))
    cut_short(repo, intent, monkeypatch, writes=1)  # killed while recording the intent: bps never started
    before = folder_bytes(repo)
    code, out, err = run(repo, "status", "demo", "--no-pages", "--workdir", str(work), capsys=capsys)
    assert code == 0, err
    assert f"{PART} was listed by a save cut short and never written" in out
    assert "`campaign ledger repair demo` completes that save" in out
    assert folder_bytes(repo) == before, "a look completed the save"
    code, out, err = run(repo, "ledger", "repair", "demo", "--workdir", str(work), capsys=capsys)
    assert code == 0, err
    assert f"{PART}: listed by the save cut short" in out and "dry run: nothing written" in out
    assert '-{"schema_version"' in out or "+++ b/campaigns/demo/ledger/index.yaml" in out  # the diff is shown
    assert folder_bytes(repo) == before
    code, out, err = run(repo, "ledger", "repair", "demo", "--apply", "--by", "ops-bob", "--reason", "crash at 3am",
                         "--workdir", str(work), capsys=capsys)
    assert code == 0, err
    index = store.parse_index((store.ledger_dir(cdir(repo)) / store.INDEX_FILE).read_text(), "index.yaml")
    assert not index.pending
    ledger = store.load(cdir(repo), "demo")
    assert ledger.controls[-1].action == "repair" and ledger.controls[-1].by == "ops-bob"
    assert ledger.controls[-1].reason == "crash at 3am"
    code, out, _ = run(repo, "ledger", "repair", "demo", capsys=capsys)
    assert code == 0 and "nothing to repair" in out


def test_a_hand_edit_is_refused_and_accepted_only_by_repair_with_accept_edits(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    attempt = Attempt(1, "submit", "demo/demo/step1/visit1001-1002/a01", "h", "c.yaml", "/w/a01",
                      state=RunState.FAILED, transitions=(Transition("2026-12-01T10:00:00Z", RunState.FAILED),))
    store.save(cdir(repo), Ledger("demo", (RunRecord("step1", "visit1001-1002", "", (attempt,)),)))
    part = store.ledger_dir(cdir(repo)) / PART
    head, _seal, body = part.read_text().split("\n", 2)
    part.write_text(f"{head}\n{body.replace('simulated', 'x')}")  # the seal line removed by hand
    before = folder_bytes(repo)
    code, out, err = run(repo, "ledger", "repair", "demo", capsys=capsys)
    assert code == 1 and "seal line was removed by hand" in err and "--accept-edits" in err, out + err
    code, out, err = run(repo, "ledger", "repair", "demo", "--accept-edits", capsys=capsys)
    assert code == 0 and "edited by hand; accepted" in out and f"+++ b/campaigns/demo/ledger/{PART}" in out, err
    assert folder_bytes(repo) == before, "a dry run wrote"
    code, out, err = run(repo, "ledger", "repair", "demo", "--accept-edits", "--apply", "--reason", "fixed a typo",
                         capsys=capsys)
    assert code == 0, err
    ledger = store.load(cdir(repo), "demo")  # sealed again: read as any ledger
    assert ledger.run("step1/visit1001-1002") is not None and ledger.controls[-1].action == "repair"
    invalid = part.read_text().split("\n", 2)
    part.write_text(f"{invalid[0]}\n" + invalid[2].replace('"state": "FAILED"', '"state": "DONE"', 1))
    code, out, err = run(repo, "ledger", "repair", "demo", "--accept-edits", "--apply", "--reason", "x", capsys=capsys)
    assert code == 1 and str(part) in err and "git log -p" in err, out + err


def test_migrate_shows_the_move_then_does_it_only_with_apply(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = Ledger("demo", controls=(Control("2026-12-01T10:00:00Z", "ops", "hold", "campaign", "wait"),))
    single = store.ledger_path(cdir(repo))
    single.write_text(store.dumps(ledger))
    raw = single.read_bytes()
    code, out, err = run(repo, "ledger", "migrate", "demo", capsys=capsys)
    assert code == 0, err
    assert "+++ b/campaigns/demo/ledger/index.yaml" in out and "removed: campaigns/demo/ledger.yaml" in out
    assert single.read_bytes() == raw and not store.ledger_dir(cdir(repo)).exists()
    code, out, err = run(repo, "ledger", "migrate", "demo", "--apply", "--by", "ops-carol", capsys=capsys)
    assert code == 0, err
    assert not single.exists()
    moved = store.load(cdir(repo), "demo")
    assert moved.hold is not None and moved.controls[-1].action == "migrate" and moved.controls[-1].by == "ops-carol"
    code, out, err = run(repo, "ledger", "migrate", "demo", capsys=capsys)
    assert code == 1 and "no single-file ledger.yaml to migrate" in err


def test_repair_refuses_a_stale_single_file_beside_the_folder_naming_both(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    attempt = Attempt(1, "submit", "o/a01", "h", "c.yaml", "/w/a01", state=RunState.FAILED)
    store.save(cdir(repo), Ledger("demo", (RunRecord("step1", "visit1001-1002", "", (attempt,)),)))
    store.ledger_path(cdir(repo)).write_text(store.dumps(Ledger("demo")))
    for action in ("repair", "migrate"):
        code, out, err = run(repo, "ledger", action, "demo", "--apply", capsys=capsys)
        assert code == 1 and "ledger.yaml" in err and "ledger/" in err and "git log -p" in err, out + err
    assert store.ledger_path(cdir(repo)).exists()


def test_publish_holds_the_lock_a_status_job_holds(repo: Path, tmp_path: Path) -> None:
    """`campaign publish` waits for the campaign lock: it never commits a ledger half-way through a save."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from campaignops.adapters.lock import "
         "lock_campaign; lock_campaign(None, 'demo', root=Path(sys.argv[1])); print('held', flush=True); "
         "time.sleep(3)", str(repo)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    publish = subprocess.run([sys.executable, "-m", "campaignops.cli", "--root", str(repo), "publish"],
                             capture_output=True, text=True, timeout=60)
    holder.wait(10)
    assert "waiting for another campaign job that holds demo" in publish.stdout, publish.stdout + publish.stderr


def test_a_job_with_the_default_work_directory_leaves_git_status_clean(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a runner the work directory defaults to <root>/.work, inside the checkout: a refused or an empty job
    there (its locks), and the launches, must not show in `git status` (a stranger saw `?? .work/`)."""
    from fakes.launching_repo import control_repo

    monkeypatch.delenv("CAMPAIGNOPS_WORKDIR", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    root = control_repo(tmp_path)
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.org"], ["config", "user.name", "t"],
                 ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    assert main(["--root", str(root), "cancel", "demo", "step1/visit1001-1002", "--reason", "try"]) == 0
    assert (root / ".work" / ".locks").is_dir()
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
                            check=True, capture_output=True, text=True).stdout
    assert status == "", status
