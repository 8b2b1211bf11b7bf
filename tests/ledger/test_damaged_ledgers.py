"""A damaged ledger is refused with how to restore it, never read as something else, never rewritten.

The corpus is made from a real ledger: wrong values, missing keys, wrong types, another campaign's
ledger, a hand edit, and the file cut at many points (a cut that still parses would lose records: the
seal in the header catches it). Both layouts: the single ledger.yaml of older campaigns, and the
folder (its files damaged the same ways, plus a file lost, added, or restored from an older commit).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from campaignops.cli.main import main
from campaignops.domain.errors import LedgerError
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Control, Ledger, RunRecord

ROOT = Path(__file__).resolve().parents[2]


def sample() -> Ledger:
    def attempt(number: int, state: RunState) -> Attempt:
        return Attempt(number, "submit" if number == 1 else "restart", f"demo/demo/step1/g/a{number:02d}", "abc",
                       "/w/c.yaml", "/w", submit_dir="/w/submit", wms_id="/w/submit",
                       submitted_at="2026-11-21T10:00:00Z", state=state,
                       tasks=(TaskCounts("calibrateDemo", (("FAILED", 1), ("SUCCEEDED", 7))),),
                       transitions=(Transition("2026-11-21T10:00:00Z", RunState.SUBMITTING),
                                    Transition("2026-11-21T10:05:00Z", state)))
    return Ledger("demo", (RunRecord("step1", "visit1001-1002", "visit IN (1001, 1002)",
                                     (attempt(1, RunState.FAILED), attempt(2, RunState.SUCCEEDED))),
                           RunRecord("step1", "visit1003-1004", "visit IN (1003, 1004)",
                                     (attempt(1, RunState.SUCCEEDED),))),
                  controls=(Control("2026-11-21T11:00:00Z", "ops", "accept", "step1/visit1001-1002", "known bad"),))


TEXT = store.dumps(sample())
HEADER, SEAL, BODY = TEXT.split("\n", 2)


def unsealed(body: str) -> str:
    """A body edited by hand: without the seal line only the schema can catch the damage."""
    return f"{HEADER}\n{body}"


Damage = Callable[[], str]
CASES: dict[str, Damage] = {
    "unknown state": lambda: unsealed(BODY.replace("state: SUCCEEDED", "state: DONE", 1)),
    "attempt number in words": lambda: unsealed(BODY.replace("number: 2", "number: two", 1)),
    "runs is a number": lambda: unsealed("schema_version: 1\ncampaign: demo\nruns: 5\n"),
    "runs is a mapping": lambda: unsealed("schema_version: 1\ncampaign: demo\nruns: {step1: x}\n"),
    "quanta counted in words": lambda: unsealed(BODY.replace("SUCCEEDED: 7", "SUCCEEDED: many", 1)),
    "transition to an unknown state": lambda: unsealed(BODY.replace("  state: SUBMITTING", "  state: QUEUED", 1)),
    "another campaign's ledger": lambda: store.dumps(Ledger("hsc-rc2-w_2026_47", sample().runs)),
    "a newer layout": lambda: unsealed(BODY.replace("schema_version: 1", "schema_version: 2")),
    "an unknown top-level key": lambda: unsealed(BODY + "notes: hello\n"),
    "a control nobody knows": lambda: unsealed(BODY.replace("action: accept", "action: approve", 1)),
    "a control without who": lambda: unsealed(BODY.replace("  by: ops\n", "", 1)),
    "a hand edit of a sealed ledger": lambda: TEXT.replace("state: FAILED", "state: SUCCEEDED", 1),
    "a sealed ledger missing its last attempt": lambda: TEXT[: TEXT.rindex("- number: 1")],
}
for key in ("number", "kind", "state", "output_run", "config_hash", "config_path", "launch_dir", "transitions"):
    CASES[f"attempt without {key}"] = (
        lambda key=key: unsealed("\n".join(ln for ln in BODY.split("\n") if not ln.strip().startswith(f"{key}:")
                                           and not ln.strip().startswith(f"- {key}:"))))
for key in ("step", "group", "data_query", "attempts"):
    CASES[f"run without {key}"] = (
        lambda key=key: unsealed(BODY.replace("\n- step:" if key == "step" else f"\n  {key}:",
                                              "\n- x_:" if key == "step" else "\n  x_:")))
for cut in range(1, 11):
    # Cut the sealed file at ten points through the body: some cuts still parse as YAML.
    CASES[f"cut at {cut}/10 of the body"] = (
        lambda cut=cut: TEXT[: len(HEADER) + len(SEAL) + 2 + len(BODY) * cut // 11])


def test_the_corpus_is_big_and_each_case_really_changes_the_file() -> None:
    assert len(CASES) >= 33
    assert all(make() not in (TEXT, unsealed(BODY)) for make in CASES.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_damaged_ledger_is_refused_with_how_to_restore_it(name: str, tmp_path: Path) -> None:
    (tmp_path / "ledger.yaml").write_text(CASES[name]())
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    message = str(info.value)
    assert str(tmp_path / "ledger.yaml") in message and "git" in message


def test_the_sample_itself_loads_and_an_unsealed_legacy_ledger_still_does(tmp_path: Path) -> None:
    (tmp_path / "ledger.yaml").write_text(TEXT)
    assert store.load(tmp_path, "demo") == sample()
    (tmp_path / "ledger.yaml").write_text(unsealed(BODY))  # written before ledgers carried a seal
    assert store.load(tmp_path, "demo") == sample()


@pytest.mark.parametrize("name", ["unknown state", "a sealed ledger missing its last attempt",
                                  "another campaign's ledger", "cut at 5/10 of the body"])
def test_the_cli_refuses_a_damaged_ledger_without_a_traceback_and_never_rewrites_it(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", tmp_path / "campaigns" / "demo")
    ledger_file = tmp_path / "campaigns" / "demo" / "ledger.yaml"
    damaged = CASES[name]()
    ledger_file.write_text(damaged)
    for command in (["status", "demo", "--no-pages"], ["reconcile", "demo", "--no-pages"], ["apply", "demo"],
                    ["plan", "demo"]):
        code = main(["--root", str(tmp_path), *command, *(["--workdir", str(tmp_path / "w")]
                                                          if command[0] != "plan" else [])])
        err = capsys.readouterr().err
        assert code == 1, command
        assert "Traceback" not in err and ("git log -p" in err or "restore it from git" in err), err
        assert ledger_file.read_text() == damaged, f"{command[0]} rewrote the damaged ledger"


# ---- the folder layout: campaigns/<name>/ledger/ (index.yaml and one file per step and 100 runs) -----

FOLDER = store.files(sample())
PART_NAME = "step1.000.yaml"
PART = FOLDER[PART_NAME]
P_HEADER, P_SEAL, P_BODY = PART.split("\n", 2)
INDEX = FOLDER[store.INDEX_FILE]


def part_unsealed(body: str) -> str:
    """A ledger file repaired by hand (its seal line removed): only the schema and the index's counts
    can catch the damage."""
    return f"{P_HEADER}\n{body}"


def edited(change: Callable[[dict[str, Any]], object]) -> str:
    """The file's data changed and written back by hand (valid JSON, no seal)."""
    data = json.loads(P_BODY)
    change(data)
    return part_unsealed(json.dumps(data, indent=1))


PART_CASES: dict[str, Damage] = {
    "unknown state": lambda: part_unsealed(P_BODY.replace('"state": "SUCCEEDED"', '"state": "DONE"', 1)),
    "attempt number in words": lambda: part_unsealed(P_BODY.replace('"number": 2', '"number": "two"', 1)),
    "runs is a number": lambda: part_unsealed('{"schema_version": 1, "campaign": "demo", "runs": 5}\n'),
    "runs is a mapping": lambda: part_unsealed('{"schema_version": 1, "campaign": "demo", "runs": {"step1": 1}}\n'),
    "quanta counted in words": lambda: part_unsealed(P_BODY.replace('"SUCCEEDED": 7', '"SUCCEEDED": "many"', 1)),
    "transition to an unknown state": lambda: part_unsealed(
        P_BODY.replace('"state": "SUBMITTING"}', '"state": "QUEUED"}', 1)),
    "another campaign's file": lambda: store.files(Ledger("hsc-rc2-w_2026_47", sample().runs))[PART_NAME],
    "another campaign's file, unsealed": lambda: part_unsealed(P_BODY.replace('"campaign": "demo"',
                                                                             '"campaign": "hsc-rc2-w_2026_47"')),
    "a newer layout": lambda: part_unsealed(P_BODY.replace('"schema_version": 1', '"schema_version": 2')),
    "an unknown top-level key": lambda: edited(lambda d: d.update(notes="hello")),
    "a hand edit of a sealed file": lambda: PART.replace('"state": "FAILED"', '"state": "SUCCEEDED"', 1),
    "a sealed file missing its last attempt": lambda: PART[: PART.rindex('\n {"number": 1')],
    "a file from an older commit": lambda: store.files(Ledger("demo", (
        sample().runs[0], RunRecord("step1", "visit1003-1004", "visit IN (1003, 1004)"))))[PART_NAME],
    "a hand repair that lost an attempt": lambda: edited(lambda d: d["runs"][0]["attempts"].pop()),
    "a hand repair that lost a run": lambda: edited(lambda d: d["runs"].pop()),
    "a run of another step": lambda: edited(lambda d: d["runs"][1].update(step="step2")),
}
for key in ("number", "kind", "state", "output_run", "config_hash", "config_path", "launch_dir", "transitions"):
    PART_CASES[f"attempt without {key}"] = lambda key=key: edited(lambda d: d["runs"][0]["attempts"][0].pop(key))
for key in ("step", "group", "data_query", "attempts"):
    PART_CASES[f"run without {key}"] = lambda key=key: edited(lambda d: d["runs"][1].pop(key))
for cut in range(1, 11):
    PART_CASES[f"cut at {cut}/10 of the body"] = (
        lambda cut=cut: PART[: len(P_HEADER) + len(P_SEAL) + 2 + len(P_BODY) * cut // 11])

OLDER = store.files(Ledger("demo", sample().runs[:1]))
FOLDER_CASES: dict[str, Callable[[], dict[str, str | None]]] = {
    "a ledger file lost": lambda: {PART_NAME: None},
    "an extra file the index does not list": lambda: {"step2.000.yaml": PART.replace("step1", "step2")},
    "the index lost": lambda: {store.INDEX_FILE: None},
    "an index from an older commit": lambda: {store.INDEX_FILE: OLDER[store.INDEX_FILE]},
    "another campaign's index": lambda: {
        store.INDEX_FILE: store.files(Ledger("hsc-rc2-w_2026_47", sample().runs))[store.INDEX_FILE]},
    "a hand edit of the index": lambda: {store.INDEX_FILE: INDEX.replace('"runs": 2', '"runs": 1')},
    "the index cut in half": lambda: {store.INDEX_FILE: INDEX[: len(INDEX) // 2]},
    "an unsealed index with other counts": lambda: {store.INDEX_FILE: "\n".join(
        ln for ln in INDEX.replace('"runs": 2', '"runs": 1').split("\n") if not ln.startswith("# seal"))},
    "a merge conflict in the index": lambda: {store.INDEX_FILE: "<<<<<<< HEAD\n" + INDEX + "=======\n>>>>>>> x\n"},
}


def write_folder(campaign_dir: Path, changes: dict[str, str | None]) -> Path:
    folder = campaign_dir / store.LEDGER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FOLDER, **changes}.items():
        if text is not None:
            (folder / name).write_text(text)
    return folder


def test_the_folder_corpus_is_big_and_each_case_really_changes_a_file() -> None:
    assert len(PART_CASES) + len(FOLDER_CASES) >= 40
    assert all(make() != PART for make in PART_CASES.values())
    assert all(make() for make in FOLDER_CASES.values())


@pytest.mark.parametrize("name", sorted(PART_CASES))
def test_a_damaged_ledger_file_is_refused_naming_it_and_how_to_restore_it(name: str, tmp_path: Path) -> None:
    folder = write_folder(tmp_path, {PART_NAME: PART_CASES[name]()})
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    message = str(info.value)
    assert str(folder) in message and "git log -p" in message, message


@pytest.mark.parametrize("name", sorted(FOLDER_CASES))
def test_a_lost_extra_or_mismatched_file_of_the_folder_is_refused(name: str, tmp_path: Path) -> None:
    folder = write_folder(tmp_path, FOLDER_CASES[name]())
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    message = str(info.value)
    assert str(folder) in message and "git" in message, message


def test_the_folder_sample_itself_loads_and_a_file_whose_seal_was_removed_by_hand_is_refused(tmp_path: Path) -> None:
    write_folder(tmp_path, {})
    assert store.load(tmp_path, "demo") == sample()
    folder = write_folder(tmp_path, {PART_NAME: part_unsealed(P_BODY)})  # seal removed, nothing else changed
    with pytest.raises(LedgerError, match="seal line was removed by hand") as info:
        store.load(tmp_path, "demo")
    assert str(folder / PART_NAME) in str(info.value) and "git log -p" in str(info.value)
    index = FOLDER[store.INDEX_FILE]
    write_folder(tmp_path, {store.INDEX_FILE: "\n".join(ln for i, ln in enumerate(index.split("\n")) if i != 1)})
    with pytest.raises(LedgerError, match="seal line was removed by hand"):
        store.load(tmp_path, "demo")


@pytest.mark.parametrize("damage", [("part", "unknown state"), ("part", "a sealed file missing its last attempt"),
                                    ("part", "another campaign's file"), ("part", "cut at 5/10 of the body"),
                                    ("folder", "a ledger file lost"), ("folder", "an index from an older commit")])
def test_the_cli_refuses_a_damaged_folder_and_writes_nothing(damage: tuple[str, str], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", tmp_path / "campaigns" / "demo")
    kind, name = damage
    cdir = tmp_path / "campaigns" / "demo"
    folder = write_folder(cdir, {PART_NAME: PART_CASES[name]()} if kind == "part" else FOLDER_CASES[name]())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for command in (["status", "demo", "--no-pages"], ["reconcile", "demo", "--no-pages"], ["apply", "demo"],
                    ["plan", "demo"]):
        code = main(["--root", str(tmp_path), *command, *(["--workdir", str(tmp_path / "w")]
                                                          if command[0] != "plan" else [])])
        err = capsys.readouterr().err
        assert code == 1, command
        assert "Traceback" not in err and "git" in err, err
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, f"{command[0]} wrote the ledger"
        assert not (cdir / store.LEDGER_FILE).exists()


# ---- bounded, strict reading: no YAML aliases, no file over the size bound, UTF-8 only -----------------

# The "billion laughs": nine levels of nine aliases, 10^9 nodes from a dozen lines.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def test_an_alias_bomb_in_a_single_file_ledger_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "ledger.yaml").write_text(f"{HEADER}\nschema_version: 1\ncampaign: demo\n{ALIAS_BOMB}runs: []\n")
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    message = str(info.value)
    assert str(tmp_path / "ledger.yaml") in message and "anchor or alias" in message and "git" in message


def test_a_harmless_alias_is_refused_too_the_bot_never_writes_one(tmp_path: Path) -> None:
    text = f"{HEADER}\n" + BODY.replace("campaign: demo", "campaign: &c demo", 1)
    (tmp_path / "ledger.yaml").write_text(text)
    with pytest.raises(LedgerError, match="anchor or alias"):
        store.load(tmp_path, "demo")


def test_a_star_or_ampersand_inside_a_value_still_loads(tmp_path: Path) -> None:
    # the characters alone are no alias: the strict (pure Python) loader reads the same ledger
    text = f"{HEADER}\n" + BODY.replace("visit IN (1001, 1002)", "'visit IN (1001, 1002) & band = *r*'", 1)
    (tmp_path / "ledger.yaml").write_text(text)
    assert store.load(tmp_path, "demo").runs[0].data_query == "visit IN (1001, 1002) & band = *r*"


def test_an_alias_in_a_hand_repaired_folder_file_is_refused(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, {})
    part = FOLDER[PART_NAME]
    head, _seal, body = part.split("\n", 2)
    (folder / PART_NAME).write_text(f"{head}\nx: &x 1\ny: *x\n" + body)
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    assert str(folder / PART_NAME) in str(info.value) and "git log -p" in str(info.value)


@pytest.mark.parametrize("where", ["single", "part", "index"])
def test_invalid_utf8_is_refused_naming_the_file_and_line(where: str, tmp_path: Path) -> None:
    if where == "single":
        path = tmp_path / "ledger.yaml"
        path.write_bytes(TEXT.encode().replace(b"visit IN", b"visit \xff\xfeIN", 1))
    else:
        folder = write_folder(tmp_path, {})
        path = folder / (PART_NAME if where == "part" else store.INDEX_FILE)
        raw = path.read_bytes()
        path.write_bytes(raw[:200] + b"\xc3\x28" + raw[200:])
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    message = str(info.value)
    assert f"{path}:" in message and "not UTF-8" in message and f"git log -p -- {path}" in message, message


def test_a_file_over_the_size_bound_is_refused_before_it_is_parsed(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ledger.yaml").write_text(TEXT)
    assert store.load(tmp_path, "demo") == sample()
    monkeypatch.setattr(store, "MAX_FILE_BYTES", len(TEXT.encode()) - 1)  # a real file, a smaller bound
    with pytest.raises(LedgerError) as info:
        store.load(tmp_path, "demo")
    assert str(tmp_path / "ledger.yaml") in str(info.value) and "bytes at most" in str(info.value)


@pytest.mark.parametrize("damage", ["alias bomb", "invalid utf-8"])
def test_the_cli_refuses_a_hostile_ledger_with_exit_1_and_leaves_it_unchanged(
        damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo", tmp_path / "campaigns" / "demo")
    ledger_file = tmp_path / "campaigns" / "demo" / "ledger.yaml"
    raw = (f"{HEADER}\nschema_version: 1\ncampaign: demo\n{ALIAS_BOMB}runs: []\n".encode() if damage == "alias bomb"
           else TEXT.encode().replace(b"visit IN", b"visit \xff IN", 1))
    ledger_file.write_bytes(raw)
    for command in (["status", "demo", "--no-pages"], ["plan", "demo"],
                    ["validate", str(tmp_path / "campaigns" / "demo" / "campaign.yaml")]):
        code = main(["--root", str(tmp_path), *command, *(["--workdir", str(tmp_path / "w")]
                                                          if command[0] == "status" else [])])
        out = capsys.readouterr()
        err = out.out + out.err  # validate reports its problems on stdout
        assert code == 1, (command, err)
        assert "internal error" not in err and "Traceback" not in err, err
        assert "git log -p" in err and "ledger.yaml" in err, (command, err)
        assert ledger_file.read_bytes() == raw, f"{command[0]} rewrote the ledger"


# ---- a look never writes the record: `campaign status` on every damaged variant leaves each byte ---------

def _variants() -> dict[str, dict[str, bytes | None]]:
    """Every damaged ledger of this module as the files of a campaign folder (relative path -> bytes)."""
    folder = {f"{store.LEDGER_DIR}/{n}": t.encode() for n, t in FOLDER.items()}
    out: dict[str, dict[str, bytes | None]] = {}
    for name, make in CASES.items():
        out[f"single: {name}"] = {store.LEDGER_FILE: make().encode()}
    for name, make in PART_CASES.items():
        out[f"part: {name}"] = {**folder, f"{store.LEDGER_DIR}/{PART_NAME}": make().encode()}
    for name, changes in FOLDER_CASES.items():
        out[f"folder: {name}"] = {**folder, **{f"{store.LEDGER_DIR}/{n}": None if t is None else t.encode()
                                               for n, t in changes().items()}}
    stale = store.dumps(Ledger("demo", sample().runs[:1])).encode()  # an older record of the same campaign
    out["a stale ledger.yaml beside a complete folder"] = {**folder, store.LEDGER_FILE: stale}
    pending = FOLDER[store.INDEX_FILE].replace('"sha256":', '"previous": null, "sha256":', 1)
    out["a stale ledger.yaml beside a folder whose save was cut short"] = {
        **folder, store.LEDGER_FILE: stale, f"{store.LEDGER_DIR}/{store.INDEX_FILE}": pending.encode()}
    out["an alias bomb"] = {store.LEDGER_FILE: f"{HEADER}\nschema_version: 1\ncampaign: demo\n{ALIAS_BOMB}runs: []\n"
                            .encode()}
    out["invalid UTF-8 in a folder file"] = {**folder, f"{store.LEDGER_DIR}/{PART_NAME}":
                                             FOLDER[PART_NAME].encode().replace(b"visit", b"vis\xffit", 1)}
    return out


VARIANTS = _variants()


def test_there_are_at_least_50_damaged_variants() -> None:
    assert len(VARIANTS) >= 50


LOOKS = (["status", "demo", "--no-pages"], ["plan", "demo"], ["explain", "demo", "step1/visit1001-1002"],
         ["errors", "demo"], ["history", "demo"])


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_look_on_a_damaged_ledger_exits_1_naming_the_file_and_leaves_every_byte_unchanged(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    cdir = tmp_path / "campaigns" / "demo"
    shutil.copytree(ROOT / "campaigns" / "demo", cdir, ignore=shutil.ignore_patterns("ledger", "ledger.yaml"))
    for rel, data in VARIANTS[name].items():
        if data is not None:
            (cdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (cdir / rel).write_bytes(data)
    damaged = {str(cdir / rel) for rel, data in VARIANTS[name].items() if data is not None}
    named = {*damaged, str(cdir / store.LEDGER_DIR)}  # a file of it, or the folder when a file is missing
    # history reads the record through git: the damaged ledger is what was committed
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm",
                    "damaged"], check=True)

    def ledger_bytes() -> dict[str, bytes]:
        return {str(p.relative_to(cdir)): p.read_bytes() for p in sorted(cdir.rglob("*"))
                if p.is_file() and (p.name == store.LEDGER_FILE or store.LEDGER_DIR in p.relative_to(cdir).parts)}

    before = ledger_bytes()
    for look in LOOKS:
        code = main(["--root", str(tmp_path), *look, *(["--workdir", str(tmp_path / "w")]
                                                       if look[0] == "status" else [])])
        captured = capsys.readouterr()
        err = captured.err
        assert code == 1, (name, look, captured.out, err)
        assert "internal error" not in err and "Traceback" not in err and "git" in err, (look, err)
        assert any(path in err for path in named), (look, err)
        assert ledger_bytes() == before, f"{look[0]} wrote the ledger ({name})"


def test_status_on_a_sound_single_file_ledger_does_not_move_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    cdir = tmp_path / "campaigns" / "demo"
    shutil.copytree(ROOT / "campaigns" / "demo", cdir)
    (cdir / store.LEDGER_FILE).write_text(store.dumps(Ledger("demo")))
    before = (cdir / store.LEDGER_FILE).read_bytes()
    assert main(["--root", str(tmp_path), "status", "demo", "--no-pages", "--workdir", str(tmp_path / "w")]) == 0
    assert (cdir / store.LEDGER_FILE).read_bytes() == before and not (cdir / store.LEDGER_DIR).exists()
    capsys.readouterr()
