"""Operator controls: cancel, hold / resume, skip / accept / reopen, fresh resubmit and supersede.

Each is recorded in the ledger's control log with who and why before (or, for a cancel, right after)
it acts, so the git history of the ledger says who stopped or settled what. The same controls come from
two places: a command on the runner (`campaign cancel ...`, `--by`) and an edit of the spec merged by
pull request (`hold:`, `skip:`, `accept:`, `supersede:`), recorded with the commit's author.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..domain.errors import PlanError, SubmitError, WmsError
from ..domain.model import Plan, PlannedRun
from ..domain.states import RunState
from ..ledger.records import Control, Ledger, with_state
from ..planning import controls as planned
from ..planning.changes import Change, compare
from ..planning.render import spec_fingerprint
from ..ports import Submission
from .context import Context
from .submit import launch_attempt, refuse_on_hold


def _planned(plan: Plan, key: str) -> PlannedRun:
    for run in plan.runs:
        if run.key == key:
            return run
    raise PlanError(f"no run {key!r} in campaign {plan.campaign.name}; runs are STEP/GROUP, e.g. "
                    f"{', '.join(r.key for r in plan.runs[:5])}")


def targets(plan: Plan, ledger: Ledger, target: str) -> list[str]:
    """Run keys named by `target`: a run STEP/GROUP, a step, or `campaign` (every recorded or planned run)."""
    if target == "campaign":
        return list(dict.fromkeys([*(r.key for r in ledger.runs), *(r.key for r in plan.runs)]))
    if "/" in target:
        if ledger.run(target) is None:
            _planned(plan, target)
        return [target]
    steps = {s.name for s in plan.campaign.steps} | {r.step for r in ledger.runs}
    if target not in steps:
        raise PlanError(f"no step or run {target!r} in campaign {plan.campaign.name}: give `campaign`, a step "
                        f"({', '.join(sorted(steps))}) or a run STEP/GROUP")
    return list(dict.fromkeys([*(r.key for r in ledger.runs if r.step == target),
                               *(r.key for r in plan.runs if r.step == target)]))


def _need_reason(action: str, reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 3:
        raise SubmitError(f"say why with --reason (it goes into the ledger): {action} needs a reason")
    return reason


def cancel(ctx: Context, plan: Plan, ledger: Ledger, target: str, *, by: str, reason: str) -> Ledger:
    """Stop every active run `target` names through its WMS and record it CANCELLED."""
    reason = _need_reason("cancel", reason)
    keys = targets(plan, ledger, target)
    active = [r for r in (ledger.run(k) for k in keys)
              if r is not None and r.current is not None and not r.current.state.finished]
    elsewhere = [r.key for r in active if not ctx.follows_run(r.step, r.group)]
    if elsewhere:  # a runner per facility stops only its own site's runs: the others' bps are at their runners
        ctx.say(f"  left to their own site's runner (`--site`): {', '.join(elsewhere)}")
        active = [r for r in active if r.key not in elsewhere]
    if not active:
        ctx.say(f"  nothing to cancel: no run of {target} is active")
        return ledger
    if ctx.dry_run:
        for record in active:
            ctx.say(f"  would cancel {record.key} attempt {record.current.number if record.current else 0}")
        return ledger
    ledger = ledger.with_control(Control(ctx.now(), by, "cancel", target, reason))
    ctx.save(ledger)
    failed: list[str] = []
    for record in active:
        attempt = record.current
        assert attempt is not None
        submission = Submission(attempt.submit_dir, attempt.wms_id) if attempt.submit_dir or attempt.wms_id else None
        try:
            said = ctx.wms_of(attempt.launch_dir).cancel(submission, Path(attempt.launch_dir), ctx.campaign.setup_command())
        except WmsError as exc:
            failed.append(f"{record.key}: {exc}")
            continue
        note = f"cancelled by {by}: {reason}"
        ledger = ledger.with_run(record.with_attempt(with_state(
            attempt, RunState.CANCELLED, ctx.now(), note, message=f"{note} ({said})", last_checked=ctx.now())))
        ctx.save(ledger)
        ctx.say(f"  cancelled {record.key} attempt {attempt.number}: {said}")
    if failed:
        raise SubmitError(f"{len(failed)} run(s) could not be cancelled (they stay as they were; try again): "
                          + "; ".join(failed))
    return ledger


def hold(ctx: Context, ledger: Ledger, *, by: str, reason: str) -> Ledger:
    reason = _need_reason("hold", reason)
    if ledger.hold is not None:
        ctx.say(f"  already on hold: {ledger.hold.describe()}")
        return ledger
    ledger = ledger.with_control(Control(ctx.now(), by, "hold", "campaign", reason))
    ctx.save(ledger)
    ctx.say(f"  {ctx.campaign.name} is on hold: nothing new is submitted; runs are still followed")
    return ledger


def resume(ctx: Context, ledger: Ledger, *, by: str, reason: str = "") -> Ledger:
    hold_now = ledger.hold
    if hold_now is None:
        ctx.say("  not on hold: nothing to resume")
        return ledger
    if hold_now.source == "spec" and ctx.campaign.hold:
        raise SubmitError(f"the hold comes from the spec (`hold: {ctx.campaign.hold}`): remove it from "
                          f"campaigns/{ctx.campaign.name}/campaign.yaml by pull request to resume")
    ledger = ledger.with_control(Control(ctx.now(), by, "resume", "campaign", reason.strip() or "resumed"))
    ctx.save(ledger)
    ctx.say(f"  {ctx.campaign.name} resumed: the next reconcile submits what is ready")
    return ledger


def settle(ctx: Context, plan: Plan, ledger: Ledger, key: str, action: str, *, by: str, reason: str) -> Ledger:
    """Skip, accept or reopen one run (`action`); skipped and accepted runs no longer block their step."""
    record = ledger.run(key)
    if record is None:
        _planned(plan, key)
    current = record.current if record else None
    if action == "reopen":
        if ledger.disposition(key) is None:
            ctx.say(f"  {key} is neither skipped nor accepted: nothing to reopen")
            return ledger
        reason = reason.strip() or "reopened"
    else:
        reason = _need_reason(action, reason)
        if current is not None and not current.state.finished:
            raise SubmitError(f"{key} attempt {current.number} is {current.state}: cancel it first "
                              f"(`campaign cancel {ctx.campaign.name} {key} --reason ...`)")
        if action == "accept" and current is None:
            raise SubmitError(f"{key} was never submitted: there is nothing to accept; skip it instead "
                              f"(`campaign skip {ctx.campaign.name} {key} --reason ...`)")
    ledger = ledger.with_control(Control(ctx.now(), by, action, key, reason))
    ctx.save(ledger)
    ctx.say(f"  {key}: {action} recorded ({reason})")
    return ledger


def confirm(ctx: Context, plan: Plan, ledger: Ledger, key: str, *, by: str, reason: str) -> Ledger:
    """Let the failure rules' decision for run `key` act (`autopilot: confirm-new-rules`: the first decision of a
    rule in the campaign waits for this), recorded with who and why. The next reconcile cycle acts on it (the
    status job, or `campaign reconcile` now): the failure rules act in engine/cycle.py only."""
    record = ledger.run(key)
    if record is None:
        _planned(plan, key)
    current = record.current if record else None
    decision = current.decision if current is not None else None
    if decision is None or not decision.awaits_confirmation:
        said = ("the failure rules decided nothing for it" if decision is None else
                f"its decision does not wait for confirmation: {decision.text}"
                + (f" ({decision.note})" if decision.note else "") + ("; done" if decision.done else ""))
        raise SubmitError(f"{key}: nothing to confirm: {said}. `campaign explain {ctx.campaign.name} {key}` shows "
                          "the run's decisions")
    reason = _need_reason("confirm", reason)
    ledger = ledger.with_control(Control(ctx.now(), by, "confirm", key, reason))
    ctx.save(ledger)
    ctx.say(f"  {key}: confirm recorded ({reason}); rule `{decision.rule}` acts at the next reconcile "
            f"(the status job, or now: campaign reconcile {ctx.campaign.name})")
    return ledger


def accept_check(ctx: Context, ledger: Ledger, ref: str, *, by: str, reason: str) -> Ledger:
    """Accept the failed evaluation of check `ref` (SCOPE/NAME): the steps waiting for it may start, its issue
    closes. It holds for that evaluation only: a new output (a rescue, a resubmit) is judged again."""
    reason = _need_reason("accept-check", reason)
    refs = [c.ref for c in ctx.campaign.all_checks()]
    if ref not in refs:
        raise SubmitError(f"{ctx.campaign.name} has no check {ref!r}: its checks are "
                          f"{', '.join(refs) or 'none'} (SCOPE/NAME, as `campaign status` shows them)")
    record = ledger.check(ref)
    if record is None or record.verdict != "fail":
        state = "not evaluated yet" if record is None else f"{record.verdict} ({record.at})"
        raise SubmitError(f"check {ref} is {state}: only a failed check can be accepted")
    accepted = ledger.check_accepted(ref)
    if accepted is not None:
        ctx.say(f"  check {ref}: already accepted ({accepted.describe()})")
        return ledger
    ledger = ledger.with_control(Control(ctx.now(), by, "accept-check", f"check:{ref}", reason))
    ctx.save(ledger)
    ctx.say(f"  check {ref}: accepted ({reason}); the steps waiting for it may start at the next reconcile")
    return ledger


def resubmit(ctx: Context, plan: Plan, ledger: Ledger, key: str, *, by: str, reason: str,
             kind: str = "resubmit") -> Ledger:
    """A fresh attempt (new output run, config rendered from today's spec) of an ended run."""
    reason = _need_reason(kind, reason)
    run = _planned(plan, key)
    refuse_on_hold(ctx, ledger, kind)
    record = ledger.run(key)
    current = record.current if record else None
    if current is None:
        raise SubmitError(f"{key} was never submitted: `campaign apply` submits it")
    if not current.state.finished:
        raise SubmitError(f"{key} attempt {current.number} is {current.state}: cancel it first "
                          f"(`campaign cancel {ctx.campaign.name} {key} --reason ...`), then {kind}")
    if ctx.dry_run:
        ctx.say(f"  would {kind} {key} as attempt {current.number + 1}")
        return ledger
    ledger = ledger.with_control(Control(ctx.now(), by, kind, key, reason))
    ctx.save(ledger)
    return launch_attempt(ctx, ledger, run, current.number + 1, kind)


def from_spec(ctx: Context, plan: Plan, ledger: Ledger, *, by: str) -> Ledger:
    """Record what the spec's hold / skip / accept say (with `by`, the spec's commit author) and start the
    new attempts its `supersede:` asks for, once each superseded run has ended."""
    for control in planned.due(plan, ledger, by=by, at=ctx.now()):
        ledger = ledger.with_control(control)
        ctx.say(f"  {control.target}: {control.action} from the spec ({control.reason})")
    changes = compare(plan, ledger, partial(spec_fingerprint, plan.campaign))
    for rc in changes:
        if rc.change == Change.CHANGED and plan.campaign.step(rc.key.split("/")[0]).reason(
                "supersede", rc.key.split("/", 1)[1]) is None:
            ctx.say(f"  {rc.key}: the spec changed its {' and '.join(rc.what)} after it was submitted; that has no "
                    "effect on it (revert, or add `supersede:` for a new attempt; `campaign validate` says how)")
    if ledger.hold is None and ctx.may_launch:
        ready, waiting = planned.superseded(plan, changes)
        for rc in waiting:
            ctx.say(f"  {rc.key}: superseded in the spec; waits for attempt in state {rc.state} to end "
                    f"(or `campaign cancel {ctx.campaign.name} {rc.key}`)")
        for item in ready:
            if not ctx.follows(item.run.site):
                continue  # its own site's runner supersedes it
            record = ledger.run(item.run.key)
            assert record is not None and record.current is not None
            ledger = ledger.with_control(Control(ctx.now(), by, "supersede", item.run.key,
                                                 f"{item.reason} (changed: {', '.join(item.what)})", "spec"))
            ctx.save(ledger)
            ledger = launch_attempt(ctx, ledger, item.run, record.current.number + 1, "supersede")
    ctx.save(ledger)
    return ledger


__all__ = ["cancel", "from_spec", "hold", "resubmit", "resume", "settle", "targets"]
