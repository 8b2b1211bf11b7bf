"""Two versions of a ledger: the transitions between them (commit messages, the timeline) and the merge of
two jobs' updates after a raced push (pure; publishing through real git is tested in adapters/)."""

from __future__ import annotations

import pytest

from campaignops.domain.errors import LedgerError
from campaignops.domain.states import RunState
from campaignops.ledger.merge import Change, commit_message, diff_ledgers, merge_ledgers
from campaignops.ledger.records import Ledger
from fakes.ledgers import CAMPAIGN, attempt, run


def test_a_failed_run_reads_as_a_transition_with_its_failed_quanta() -> None:
    old = Ledger(CAMPAIGN, (run("g0003", attempt(states=(RunState.RUNNING,))),))
    new = Ledger(CAMPAIGN, (run("g0003", attempt(states=(RunState.RUNNING, RunState.FAILED), failed=12)),))
    [change] = diff_ledgers(old, new)
    assert str(change) == f"{CAMPAIGN}: step1 g0003 RUNNING→FAILED (12 failed in calibrate)"


def test_new_runs_and_new_attempts_are_transitions_unchanged_states_are_not() -> None:
    old = Ledger(CAMPAIGN, (run("g1", attempt(states=(RunState.FAILED,))), run("g2", attempt())))
    new = Ledger(CAMPAIGN, (
        run("g1", attempt(states=(RunState.FAILED,)), attempt(2, kind="retry-memory")),
        run("g2", attempt()),
        run("g3", attempt())))
    assert [c.describe() for c in diff_ledgers(old, new)] == [
        "step1 g1 #2 (retry-memory) NEW→SUBMITTING", "step1 g3 NEW→SUBMITTING"]
    assert [c.describe() for c in diff_ledgers(None, Ledger(CAMPAIGN, (run("g9", attempt()),)))] == [
        "step1 g9 NEW→SUBMITTING"]


def test_commit_message_summarises_on_the_first_line_and_lists_transitions_in_the_body() -> None:
    changes = [Change(CAMPAIGN, "step1", "g1", 1, "submit", RunState.RUNNING, RunState.FAILED, 3, ("isr",)),
               Change(CAMPAIGN, "step1", "g2", 1, "submit", RunState.RUNNING, RunState.SUCCEEDED)]
    subject, blank, *body = commit_message(changes).splitlines()
    assert subject == f"{CAMPAIGN}: 2 transitions (1 FAILED, 1 SUCCEEDED)"
    assert blank == ""
    assert body == [f"{CAMPAIGN}: step1 g1 RUNNING→FAILED (3 failed in isr)",
                    f"{CAMPAIGN}: step1 g2 RUNNING→SUCCEEDED"]
    assert commit_message(changes, "Submit hsc").splitlines()[0] == "Submit hsc"
    assert commit_message([], None, ["ci-hsc-w_2026_47"]).splitlines()[0] == "New campaign ci-hsc-w_2026_47"


def test_merge_keeps_the_union_of_runs_and_attempts() -> None:
    ours = Ledger(CAMPAIGN, (run("g1", attempt(), attempt(2)), run("g2", attempt())),
                  (("step1", (("g1", "q", 1),)),))
    theirs = Ledger(CAMPAIGN, (run("g1", attempt(), attempt(3)), run("g3", attempt())),
                    (("step2", (("t1", "q", 2),)),))
    merged = merge_ledgers(ours, theirs)
    assert [r.key for r in merged.runs] == ["step1/g1", "step1/g2", "step1/g3"]
    g1 = merged.run("step1/g1")
    assert g1 is not None and [a.number for a in g1.attempts] == [1, 2, 3]
    assert [s for s, _ in merged.frozen_groups] == ["step1", "step2"]


def test_merge_keeps_the_attempt_that_saw_more_then_the_one_checked_later() -> None:
    further = attempt(states=(RunState.SUBMITTING, RunState.RUNNING, RunState.FAILED), checked="t1", failed=2)
    behind = attempt(states=(RunState.SUBMITTING, RunState.RUNNING), checked="t2")
    for ours, theirs in ((further, behind), (behind, further)):
        merged = merge_ledgers(Ledger(CAMPAIGN, (run("g", ours),)), Ledger(CAMPAIGN, (run("g", theirs),)))
        assert merged.runs[0].attempts == (further,)
    older = attempt(states=(RunState.RUNNING,), checked="2026-11-20T10:00:00Z")
    newer = attempt(states=(RunState.RUNNING,), checked="2026-11-20T10:15:00Z")
    merged = merge_ledgers(Ledger(CAMPAIGN, (run("g", newer),)), Ledger(CAMPAIGN, (run("g", older),)))
    assert merged.runs[0].attempts == (newer,)
    merged = merge_ledgers(Ledger(CAMPAIGN, (run("g", older),)), Ledger(CAMPAIGN, (run("g", newer),)))
    assert merged.runs[0].attempts == (newer,)


def test_merging_ledgers_of_two_campaigns_is_refused() -> None:
    with pytest.raises(LedgerError, match="different campaigns"):
        merge_ledgers(Ledger("a-campaign"), Ledger("b-campaign"))




def test_two_jobs_controls_and_the_setup_stage_survive_a_merge() -> None:
    from campaignops.domain.states import RunState
    from campaignops.ledger.merge import merge_ledgers
    from campaignops.ledger.records import Control, Ledger, Removal, SetupRecord

    base = Ledger(CAMPAIGN, (run("g0001", attempt()),))
    running = SetupRecord(RunState.RUNNING, "/r", "2026-11-30T10:00:00Z")
    ours = base.with_control(Control("2026-11-30T10:00:00Z", "a", "hold", "campaign", "why not"))
    ours = Ledger(ours.campaign, ours.runs, ours.frozen_groups, ours.controls, running)
    done = SetupRecord(RunState.SUCCEEDED, "/r", "2026-11-30T10:00:00Z", "2026-11-30T10:09:00Z")
    theirs = base.with_control(Control("2026-11-30T10:05:00Z", "b", "skip", "step1/g0002", "bad data"))
    theirs = Ledger(theirs.campaign, theirs.runs, theirs.frozen_groups, theirs.controls, done,
                    (Removal("out/a01", "2026-11-30T10:06:00Z", "expired", 3),))
    merged = merge_ledgers(ours, theirs)
    assert [c.by for c in merged.controls] == ["a", "b"] and merged.setup == done
    assert [r.run for r in merged.removed] == ["out/a01"]
    assert merge_ledgers(theirs, ours).controls == merged.controls
