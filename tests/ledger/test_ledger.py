"""The ledger file: stable, atomic, round-trips, written only when something changed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from campaignops.domain import states
from campaignops.domain.errors import LedgerError
from campaignops.domain.states import RunState, TaskCounts
from campaignops.domain.usage import JobUsage
from campaignops.ledger import records, store
from campaignops.ledger.records import Attempt, Ledger, RunRecord

ROOT = Path(__file__).resolve().parents[2]


def sample() -> Ledger:
    a = Attempt(1, "submit", "demo/out/step1/g0/a01", "abc", "/w/c.yaml", "/w", submit_dir="/w/submit/x",
                wms_id="/w/submit/x", submitted_at="2026-11-21T10:00:00Z", state=RunState.FAILED,
                tasks=(TaskCounts("calibrate", (("FAILED", 2), ("SUCCEEDED", 30))),),
                exit_codes=(("calibrate", (1,)),), errors=("RuntimeError: boom",),
                job_usage=(JobUsage("7", "COMPLETED", 61.0, 2, 23593), JobUsage("8", "NODE_FAIL", 50.0, 2)),
                transitions=(states.Transition("2026-11-21T10:00:00Z", RunState.SUBMITTING),
                             states.Transition("2026-11-21T10:05:00Z", RunState.FAILED)))
    return Ledger("demo", (RunRecord("step1", "g0", "visit IN (1, 2)", (a,)),),
                  (("step3", (("g0000", "tract = 1", 1),)),))


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    store.save(tmp_path, sample())
    assert store.load(tmp_path, "demo") == sample()


def test_nothing_is_written_when_nothing_changed(tmp_path: Path) -> None:
    assert store.save(tmp_path, sample()) is True
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ledger").iterdir()}
    assert store.save(tmp_path, sample()) is False
    assert store.save(tmp_path, store.load(tmp_path, "demo")) is False
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ledger").iterdir()} == mtimes


def test_key_order_is_stable_so_git_diffs_read_well() -> None:
    text = store.dumps(sample())
    assert text.index("number:") < text.index("state:") < text.index("output_run:") < text.index("transitions:")
    assert store.dumps(store.from_dict(yaml.safe_load(text))) == text


def test_ledger_files_match_their_schema_and_read_as_yaml() -> None:
    schema = json.loads((ROOT / "schemas" / "ledger.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(store.dumps(sample())))
    files = store.files(sample())
    assert list(files) == ["step1.000.yaml", "index.yaml"]
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(files["step1.000.yaml"]))
    index_schema = {**schema["$defs"]["index"], "$defs": schema["$defs"]}
    index = yaml.safe_load(files["index.yaml"])
    jsonschema.Draft202012Validator(index_schema).validate(index)
    assert index["frozen_groups"] == {"step3": [{"name": "g0000", "query": "tract = 1", "size": 1}]}


def test_a_file_that_is_not_a_ledger_is_refused_with_advice(tmp_path: Path) -> None:
    (tmp_path / "ledger.yaml").write_text("- just a list\n")
    with pytest.raises(LedgerError, match="not a campaign ledger"):
        store.load(tmp_path, "demo")


@pytest.mark.parametrize("text", ["campaign: demo\nruns: [{step: step1}]\n",
                                  "campaign: demo\nruns: [{step: s, group: g, attempts: [{number: one}]}]\n",
                                  "campaign: demo\nruns: 5\n"])
def test_a_damaged_ledger_is_refused_with_how_to_restore_it(tmp_path: Path, text: str) -> None:
    (tmp_path / "ledger.yaml").write_text(text)
    with pytest.raises(LedgerError, match=r"damaged ledger .*git log -p"):
        store.load(tmp_path, "demo")


def test_the_ledger_file_is_readable_like_any_file_of_the_checkout(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        store.save(tmp_path, sample())
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "ledger").iterdir()} == {0o644}  # not mkstemp's 0600
    (tmp_path / "ledger" / "step1.000.yaml").chmod(0o664)
    changed = sample().with_run(RunRecord("step1", "g0", "visit IN (1, 2, 3)", sample().runs[0].attempts))
    assert store.save(tmp_path, changed)
    assert (tmp_path / "ledger" / "step1.000.yaml").stat().st_mode & 0o777 == 0o664  # a write keeps the mode


def test_missing_ledger_is_an_empty_one(tmp_path: Path) -> None:
    assert store.load(tmp_path, "x") == Ledger("x")


def test_transition_recorded_only_on_state_change() -> None:
    a = Attempt(1, "submit", "o", "h", "c", "l")
    a = records.with_state(a, RunState.PENDING, "t1")
    a = records.with_state(a, RunState.PENDING, "t2")
    a = records.with_state(a, RunState.RUNNING, "t3")
    assert [t.state for t in a.transitions] == [RunState.PENDING, RunState.RUNNING]


def test_updating_a_run_keeps_its_place_so_the_diff_stays_small() -> None:
    ledger = Ledger("c", tuple(RunRecord("s", g, "") for g in ("a", "b", "c")))
    updated = ledger.with_run(RunRecord("s", "a", "changed"))
    assert [r.group for r in updated.runs] == ["a", "b", "c"]
    assert updated.runs[0].data_query == "changed"


def test_a_corrupt_ledger_stops_the_cli_with_advice_not_a_traceback(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from campaignops.cli.main import main

    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", tmp_path / "campaigns" / "demo")
    (tmp_path / "campaigns" / "demo" / "ledger.yaml").write_text("<<<<<<< HEAD\nruns: [\n")
    code = main(["--root", str(tmp_path), "status", "demo", "--no-pages", "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 1
    assert "unreadable ledger" in err and "restore it from git: `git log -p --" in err


def test_controls_and_the_setup_stage_round_trip_in_the_index_one_control_a_line(tmp_path: Path) -> None:
    from campaignops.domain.states import RunState
    from campaignops.ledger.records import Control, Ledger, SetupRecord

    folder = tmp_path / "campaigns" / "demo"
    ledger = Ledger("demo", setup=SetupRecord(RunState.SUCCEEDED, "/repos/demo", "2026-11-30T10:00:00Z",
                                              "2026-11-30T10:05:00Z", "/w/setup.log", "1 command(s) ran"))
    ledger = ledger.with_control(Control("2026-11-30T11:00:00Z", "ops", "hold", "campaign", "Butler downtime"))
    store.save(folder, ledger)
    index = (folder / "ledger" / "index.yaml").read_text()
    store.save(folder, ledger.with_control(Control("2026-11-30T12:00:00Z", "ops", "resume", "campaign", "back")))
    after = (folder / "ledger" / "index.yaml").read_text()
    added = [ln for ln in after.splitlines() if ln not in index.splitlines() and not ln.startswith("# seal")]
    # the previous control gains a comma, the new one is a line of its own: nothing else moves
    assert len(added) == 2 and '"action": "hold"' in added[0] and '"action": "resume"' in added[1], added
    again = store.load(folder, "demo")
    assert again.setup == ledger.setup and [c.action for c in again.controls] == ["hold", "resume"]
    assert again.hold is None
    from campaignops.ledger.records import Removal
    removal = Removal("demo/step1/g/a01", "2026-12-01T00:00:00Z", "intermediate, expired after 7 days", 12)
    store.save(folder, again.with_removals((removal,)))
    assert store.load(folder, "demo").removed == (removal,)
