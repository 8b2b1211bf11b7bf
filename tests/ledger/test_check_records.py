"""Check evaluations in the ledger: written to the index one a line, read back the same, schema-valid, and the
later evaluation kept when two jobs' updates are merged; an accept-check is a control like the others."""

from __future__ import annotations

from pathlib import Path

from campaignops.ledger import store
from campaignops.ledger.merge import merge_ledgers
from campaignops.ledger.records import CheckRecord, Control, Ledger

FAILED = CheckRecord("step4/tract-flux", "metric", "2026-11-30T10:10:00Z", "fail", "abc", value=1500.0,
                     bounds="≥ 1; change ≤ 10 % from the last instance", previous=1000.0,
                     previous_campaign="demo-w01", why="changed 50 % from 1000 (the last instance), more than 10 %")
PASSED = CheckRecord("step3/coadds-complete", "completeness", "2026-11-30T10:05:00Z", "pass", "def", value=1.0,
                     expected=4.0, bounds="≥ 1")


def test_check_records_and_their_acceptance_survive_a_save_and_a_load(tmp_path: Path) -> None:
    ledger = Ledger("demo-w02").with_check(PASSED).with_check(FAILED)
    assert ledger.check_accepted(FAILED.ref) is None
    ledger = ledger.with_control(Control("2026-11-30T10:20:00Z", "alice", "accept-check", f"check:{FAILED.ref}",
                                         "new flux calibration"))
    store.save(tmp_path, ledger)
    back = store.load(tmp_path, "demo-w02")
    assert back.checks == (PASSED, FAILED)
    accepted = back.check_accepted(FAILED.ref)
    assert accepted is not None and accepted.by == "alice"
    index = (tmp_path / "ledger" / "index.yaml").read_text()
    assert sum('"ref": "step' in line for line in index.splitlines()) == 2, "one line per check: small diffs"


def test_an_acceptance_holds_for_the_evaluation_it_was_made_for_only() -> None:
    ledger = Ledger("c").with_check(FAILED).with_control(
        Control("2026-11-30T10:20:00Z", "alice", "accept-check", f"check:{FAILED.ref}", "ok"))
    again = ledger.with_check(CheckRecord(FAILED.ref, "metric", "2026-11-30T11:00:00Z", "fail", "new", value=2000.0))
    assert ledger.check_accepted(FAILED.ref) is not None and again.check_accepted(FAILED.ref) is None


def test_a_merge_keeps_the_later_evaluation_of_each_check() -> None:
    later = CheckRecord(FAILED.ref, "metric", "2026-11-30T11:00:00Z", "pass", "new", value=1010.0)
    merged = merge_ledgers(Ledger("c").with_check(FAILED).with_check(PASSED), Ledger("c").with_check(later))
    assert merged.check(FAILED.ref) == later and merged.check(PASSED.ref) == PASSED
