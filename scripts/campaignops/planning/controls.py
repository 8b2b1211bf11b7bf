"""Operator controls written in the spec (hold, skip, accept, supersede) against the ledger (pure).

The spec says what the operator wants; the ledger's control log says what is in force. `due` gives the
controls to record so the two agree (each with the commit author as `by`); `superseded` gives the runs
that need a new attempt; `drift_problems` is what `campaign validate` refuses: a change to a run that
was already submitted, with no `supersede` saying it is meant, or a re-split that loses recorded runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..domain.model import Plan, PlannedRun
from ..domain.problems import Problem
from ..ledger.records import Control, Ledger
from .changes import Change, RunChange


def due(plan: Plan, ledger: Ledger, *, by: str, at: str) -> list[Control]:
    """The controls the spec asks for that the ledger does not hold yet (or spec ones it dropped)."""
    campaign = plan.campaign
    out: list[Control] = []
    hold = ledger.hold
    if campaign.hold and (hold is None or hold.reason != campaign.hold):
        out.append(Control(at, by, "hold", "campaign", campaign.hold, "spec"))
    elif not campaign.hold and hold is not None and hold.source == "spec":
        out.append(Control(at, by, "resume", "campaign", "hold removed from the spec", "spec"))
    for run in plan.runs:
        step = campaign.step(run.step)
        now = ledger.disposition(run.key)
        wanted = [(action, step.reason(action, run.group)) for action in ("skip", "accept")]
        action, reason = next(((a, r) for a, r in wanted if r), ("", None))
        if reason is not None and (now is None or (now.action, now.reason) != (action, reason)):
            out.append(Control(at, by, action, run.key, reason, "spec"))
        elif reason is None and now is not None and now.source == "spec":
            out.append(Control(at, by, "reopen", run.key, f"{now.action} removed from the spec", "spec"))
    return out


@dataclass(frozen=True)
class Supersede:
    run: PlannedRun
    reason: str
    what: tuple[str, ...]


def superseded(plan: Plan, changes: tuple[RunChange, ...]) -> tuple[list[Supersede], list[RunChange]]:
    """Changed runs the spec supersedes: (ready for a new attempt, still active: they wait for their end)."""
    by_key = {r.key: r for r in plan.runs}
    ready: list[Supersede] = []
    waiting: list[RunChange] = []
    for rc in changes:
        run = by_key.get(rc.key)
        if rc.change != Change.CHANGED or run is None:
            continue
        reason = plan.campaign.step(run.step).reason("supersede", run.group)
        if reason is None:
            continue
        if rc.state is not None and not rc.state.finished:
            waiting.append(rc)
        else:
            ready.append(Supersede(run, reason, rc.what))
    return ready, waiting


def drift_problems(plan: Plan, ledger: Ledger, changes: tuple[RunChange, ...],
                   problem: Callable[[str, str, str], Problem]) -> Iterator[Problem]:
    """What validation refuses once runs are recorded: `problem(step, message, fix)` locates each."""
    campaign = plan.campaign
    for rc in changes:
        step_name, _, group = rc.key.partition("/")
        if rc.change == Change.CHANGED:
            step = campaign.step(step_name)
            record = ledger.run(rc.key)
            number = record.current.number if record and record.current else 0
            state = rc.state.value if rc.state else "recorded"
            if step.reason("supersede", group) is None:
                yield problem(step_name,
                              f"run {rc.key} was submitted (attempt {number}, {state}) and the spec now changes its "
                              f"{' and '.join(rc.what)}: the change would have no effect on it",
                              f"revert the change, or start a new attempt with it: add `supersede: {{{group}: "
                              f"\"<why>\"}}` to step {step_name}")
        elif rc.change == Change.ORPHANED:
            record = ledger.run(rc.key)
            if record is None or not record.attempts or ledger.disposition(rc.key) is not None:
                continue
            if not any(s.name == step_name for s in campaign.steps):
                where = f"step {step_name} is gone from the spec"
                fix = f"put step {step_name} back (mark its groups `skip:` to stop them counting)"
            else:
                where = f"group {group} is no longer in step {step_name}'s split"
                fix = ("keep the groups that were submitted as they were and put new data IDs in new groups; "
                       f"to drop {group}, keep it and mark it `skip: {{{group}: \"<why>\"}}`")
            yield problem(step_name,
                          f"recorded run {rc.key} (attempt {record.current.number if record.current else 0}, "
                          f"{record.state}, data query {record.data_query!r}) would be orphaned: {where}", fix)


__all__ = ["Supersede", "drift_problems", "due", "superseded"]
