"""A run's lines in a ledger file: JSON that round-trips, and the key and current state read from them
without decoding the rest, whatever the strings hold."""

from __future__ import annotations

import json

import pytest

from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger.codec import StoredRun, decode_attempts, run_text, run_to_dict, split_runs, stored_run
from campaignops.ledger.records import Attempt, RunRecord

TRICKY = ['plain', 'quote " and backslash \\', 'new\nline', '{"number": 1, "kind": "x", "state": "FAILED",',
          '\n {"number": 9, "kind": "submit", "state": "FAILED",', "ünïcode ✓", "tab\tand \u2028 separator"]


def record(text: str, states: tuple[RunState, ...]) -> RunRecord:
    attempts = tuple(
        Attempt(i + 1, "submit" if i == 0 else "restart", f"out/{text}/a{i}", "h", text, text, message=text,
                state=state, errors=(text,), exit_codes=((text, (1, 2)),),
                tasks=tuple(sorted((TaskCounts("number", (("FAILED", 1),)), TaskCounts(text, (("SUCCEEDED", 3),))),
                                   key=lambda t: t.label)),  # in label order, as records hold them
                transitions=(Transition("t", state, text),))
        for i, state in enumerate(states))
    return RunRecord("step1", f"g-{len(text)}", text, attempts)


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("states", [(), (RunState.RUNNING,), (RunState.FAILED, RunState.SUCCEEDED),
                                    (RunState.SUCCEEDED, RunState.HELD, RunState.UNKNOWN)])
def test_a_runs_lines_round_trip_and_its_state_is_read_from_them(text: str, states: tuple[RunState, ...]) -> None:
    run = record(text, states)
    lines = run_text(run)
    assert json.loads(lines) == run_to_dict(run)
    stored = stored_run(lines, decode_attempts)
    assert isinstance(stored, StoredRun)
    assert (stored.step, stored.group, stored.data_query, stored.state) == (
        run.step, run.group, run.data_query, states[-1] if states else None)
    assert "attempts" not in stored.__dict__  # all of that without decoding the attempts
    assert run_text(stored) == lines  # written back as read
    assert stored == run and stored.attempts == run.attempts


def test_runs_are_split_at_their_head_lines_only() -> None:
    runs = [record(t, (RunState.RUNNING,)) for t in TRICKY]
    body = ",\n".join(run_text(r) for r in runs)
    assert [stored_run(b, decode_attempts).data_query for b in split_runs(body)] == TRICKY


def test_a_key_this_version_does_not_know_is_refused_when_decoded_and_kept_when_not() -> None:
    """A newer campaignops may record more of an attempt: an older one must not drop it silently."""
    lines = run_text(record("plain", (RunState.RUNNING,))).replace(
        '"output_run": ', '"cancelled_by": "someone",\n  "output_run": ', 1)
    stored = stored_run(lines, decode_attempts)
    assert stored.state == RunState.RUNNING and run_text(stored) == lines  # untouched: written back whole
    with pytest.raises(ValueError, match=r"unknown keys cancelled_by .*newer campaignops"):
        _ = stored.attempts
