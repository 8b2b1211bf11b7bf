"""Small ledgers for tests: one campaign, attempts that went through given states."""

from __future__ import annotations

from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger.records import Attempt, RunRecord

CAMPAIGN = "hsc-rc2-w_2026_47"


def attempt(number: int = 1, states: tuple[RunState, ...] = (RunState.SUBMITTING,), checked: str = "",
            failed: int = 0, kind: str = "submit") -> Attempt:
    transitions = tuple(Transition(f"2026-11-20T10:{i:02d}:00Z", s) for i, s in enumerate(states))
    tasks = (TaskCounts("calibrate", (("FAILED", failed), ("SUCCEEDED", 10))),
             TaskCounts("isr", (("SUCCEEDED", 22),))) if failed else ()
    return Attempt(number=number, kind=kind, output_run=f"out/a{number:02d}", config_hash="h",
                   config_path="c.yaml", launch_dir="launch", state=states[-1], last_checked=checked,
                   tasks=tasks, transitions=transitions)


def run(group: str, *attempts: Attempt, step: str = "step1") -> RunRecord:
    return RunRecord(step, group, f"visit IN ({group})", attempts)


