"""A damaged ledger is refused with how to restore it, never read as something else, never rewritten.

The corpus is made from a real ledger: wrong values, missing keys, wrong types, another campaign's
ledger, a hand edit, and the file cut at many points (a cut that still parses would lose records: the
seal in the header catches it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

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
