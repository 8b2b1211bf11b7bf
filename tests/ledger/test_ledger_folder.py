"""The ledger's folder: one file per step and 100 runs, written only when changed, crash-safe, and the
single ledger.yaml of older campaigns read and moved into it by the next save."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.domain.errors import LedgerError
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.engine.context import Context
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord

N = store.RUNS_PER_FILE


def attempt(i: int, state: RunState = RunState.SUCCEEDED, number: int = 1) -> Attempt:
    return Attempt(number, "submit" if number == 1 else "restart", f"out/g{i}/a{number:02d}", "h", f"/w/{i}.yaml",
                   f"/w/{i}", submit_dir=f"/w/{i}/submit", wms_id=str(i), state=state,
                   tasks=(TaskCounts("calibrate", (("FAILED", 1),)), TaskCounts("isr", (("SUCCEEDED", i),))),
                   message='quotes " and \\ and\nnew lines: all kept', errors=("RuntimeError: boom",),
                   transitions=(Transition("t0", RunState.SUBMITTING), Transition("t1", state)))


def big() -> Ledger:
    """2.5 files of step1, one of step2 recorded in between (a count split's new group comes later)."""
    ledger = Ledger("demo", frozen_groups=(("step1", (("g0", "visit = 0", 1),)),))
    for i in range(N * 5 // 2):
        ledger = ledger.with_run(RunRecord("step1", f"g{i:04d}", f"visit IN ({i})", (attempt(i),)))
        if i == 10:
            ledger = ledger.with_run(RunRecord("step2", "all", "", (attempt(999, RunState.RUNNING),)))
    return ledger


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_a_big_ledger_round_trips_through_one_file_per_step_and_100_runs(tmp_path: Path) -> None:
    ledger = big()
    assert [r.step for r in ledger.runs[-2:]] == ["step1", "step2"]  # new runs stay with their step
    assert store.save(tmp_path, ledger)
    folder = tmp_path / "ledger"
    assert sorted(p.name for p in folder.iterdir()) == [
        "index.yaml", "step1.000.yaml", "step1.001.yaml", "step1.002.yaml", "step2.000.yaml"]
    loaded = store.load(tmp_path, "demo")
    assert loaded == ledger and loaded.runs == ledger.runs
    assert loaded.run("step1/g0150") == ledger.run("step1/g0150")
    assert loaded.run("step1/g0150").current.message == attempt(150).message  # type: ignore[union-attr]
    # each file is YAML too (its body in JSON's flow style): any YAML tool reads it
    part = yaml.safe_load((folder / "step1.001.yaml").read_text())
    assert [r["group"] for r in part["runs"]] == [f"g{i:04d}" for i in range(N, 2 * N)]


def test_a_cycle_that_changed_one_run_rewrites_its_file_and_the_index_only(tmp_path: Path) -> None:
    store.save(tmp_path, big())
    folder = tmp_path / "ledger"
    before = snapshot(folder)
    loaded = store.load(tmp_path, "demo")
    assert store.save(tmp_path, loaded) is False  # read and written back unchanged: nothing written
    record = loaded.run("step1/g0150")
    assert record is not None
    store.save(tmp_path, loaded.with_run(record.with_attempt(attempt(150, RunState.FAILED, number=2))))
    after = snapshot(folder)
    assert {n for n in after if after[n] != before[n]} == {"step1.001.yaml", "index.yaml"}
    old, new = before["step1.001.yaml"][0].decode(), after["step1.001.yaml"][0].decode()
    changed = [ln for ln in new.splitlines() if ln not in old.splitlines()]
    assert len(changed) < 40, changed  # the new attempt's lines and the seal: a diff of what changed
    assert store.load(tmp_path, "demo").run("step1/g0150").state == RunState.FAILED  # type: ignore[union-attr]


def test_runs_read_from_a_file_are_equal_to_the_records_they_hold(tmp_path: Path) -> None:
    store.save(tmp_path, big())
    loaded = store.load(tmp_path, "demo")
    for stored, original in zip(loaded.runs, big().runs, strict=True):
        assert stored.state == original.state  # known before its attempts are decoded
        assert stored == original and original == stored and hash(stored) == hash(original)
        assert stored.current == original.current


def test_a_save_cut_short_at_any_write_leaves_each_run_old_or_new_and_the_next_save_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = big()
    new = old
    for key in ("step1/g0000", "step1/g0120", "step2/all"):  # three files change
        record = new.run(key)
        assert record is not None
        new = new.with_run(record.with_attempt(attempt(7, RunState.FAILED, number=2)))
    new = new.with_run(RunRecord("step3", "all", "", (attempt(3, RunState.PENDING),)))  # and a new file
    real: Callable[[Path, str, int], None] = store._write
    for crash_at in range(6):  # the pending index, 4 files, the index
        case = tmp_path / f"crash{crash_at}"
        store.save(case, old)
        writes: list[Path] = []

        def write(path: Path, text: str, mode: int, crash_at: int = crash_at, writes: list[Path] = writes) -> None:
            if len(writes) == crash_at:
                raise KeyboardInterrupt("killed")  # the job dies here: later files are never written
            writes.append(path)
            real(path, text, mode)

        monkeypatch.setattr(store, "_write", write)
        with pytest.raises(KeyboardInterrupt):
            store.save(case, new)
        monkeypatch.setattr(store, "_write", real)
        seen = store.load(case, "demo")
        for run in seen.runs:
            assert run in (old.run(run.key), new.run(run.key)), (crash_at, run.key)
        assert {r.key for r in old.runs} <= {r.key for r in seen.runs}
        assert store.save(case, new) and store.load(case, "demo") == new


def test_a_single_ledger_yaml_is_read_and_moved_into_the_folder_by_the_next_save(tmp_path: Path) -> None:
    ledger = big()
    (tmp_path / "ledger.yaml").write_text(store.dumps(ledger))
    assert store.migrating(tmp_path)
    assert store.load(tmp_path, "demo") == ledger
    assert store.save(tmp_path, store.load(tmp_path, "demo"))
    assert not (tmp_path / "ledger.yaml").exists() and not store.migrating(tmp_path)
    assert store.load(tmp_path, "demo") == ledger


def test_a_move_into_the_folder_cut_short_still_reads_the_single_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = big()
    (tmp_path / "ledger.yaml").write_text(store.dumps(ledger))
    real = store._write
    calls: list[Path] = []

    def write(path: Path, text: str, mode: int) -> None:
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        calls.append(path)
        real(path, text, mode)

    monkeypatch.setattr(store, "_write", write)
    with pytest.raises(KeyboardInterrupt):
        store.save(tmp_path, ledger)
    monkeypatch.setattr(store, "_write", real)
    assert (tmp_path / "ledger" / "step1.000.yaml").exists()  # part of the folder was written
    assert store.migrating(tmp_path) and store.load(tmp_path, "demo") == ledger
    assert store.save(tmp_path, ledger) and not (tmp_path / "ledger.yaml").exists()
    assert store.load(tmp_path, "demo") == ledger


def test_the_move_is_said_once_by_the_job_that_makes_it(tmp_path: Path) -> None:
    said: list[str] = []
    campaign: Any = type("C", (), {"path": tmp_path / "campaign.yaml", "name": "demo"})()
    ctx = Context(tmp_path, campaign, wms=None, workdir=tmp_path / "w", say=said.append)  # type: ignore[arg-type]
    (tmp_path / "ledger.yaml").write_text(store.dumps(big()))
    ctx.save(store.load(tmp_path, "demo"))
    ctx.save(store.load(tmp_path, "demo"))
    assert len(said) == 1 and "moved" in said[0] and "ledger.yaml" in said[0] and "commit both" in said[0]


def test_a_file_whose_seal_was_dropped_by_hand_is_refused_and_never_sealed_again(tmp_path: Path) -> None:
    store.save(tmp_path, big())
    part = tmp_path / "ledger" / "step1.001.yaml"
    header, _seal, body = part.read_text().split("\n", 2)
    part.write_text(f"{header}\n{body}")  # someone resolved a conflict by hand and dropped the seal
    before = part.read_bytes()
    with pytest.raises(LedgerError, match="seal line was removed by hand"):
        store.load(tmp_path, "demo")
    assert part.read_bytes() == before, "the hand edit stays detectable: nothing re-seals it"


def test_the_folder_of_a_checkout_copied_elsewhere_still_loads(tmp_path: Path) -> None:
    store.save(tmp_path / "a", big())
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert store.load(tmp_path / "b", "demo") == big()


def test_a_file_no_longer_needed_is_removed_even_by_a_save_that_follows_one_cut_short(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = big()
    store.save(tmp_path, ledger)
    fewer = Ledger("demo", ledger.runs[:N], ledger.frozen_groups)  # e.g. a hand-made ledger: 1 file of step1
    real = store._write

    def write(path: Path, text: str, mode: int) -> None:
        if path.name != "index.yaml" or '"previous"' not in text:
            raise KeyboardInterrupt("killed after the index said what changes")
        real(path, text, mode)

    monkeypatch.setattr(store, "_write", write)
    with pytest.raises(KeyboardInterrupt):
        store.save(tmp_path, fewer)
    monkeypatch.setattr(store, "_write", real)
    assert store.load(tmp_path, "demo").runs[:N] == ledger.runs[:N]  # the stale files do not stop a read
    assert store.save(tmp_path, fewer) and store.load(tmp_path, "demo") == fewer
    assert sorted(p.name for p in (tmp_path / "ledger").iterdir()) == ["index.yaml", "step1.000.yaml"]
