"""Submitting runs: apply (new runs), retry and rescue, with the intent recorded before every launch."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..domain.errors import PlanError, SubmitError, WmsError
from ..domain.model import Plan, PlannedRun
from ..domain.states import RunState
from ..ledger.records import Attempt, Control, Ledger, RunRecord, with_state
from ..planning import render
from ..planning.advance import Decision, Verdict, decide
from ..ports import Submission
from . import stacks
from .context import Context


def _render(ctx: Context, run: PlannedRun, attempt: int, *, memory_multiplier: float = 1.0,
            rescue_from: tuple[str, ...] = (), memory: tuple[tuple[str, int], ...] = ()) -> tuple[str, str]:
    text = render.render_run(ctx.campaign, run, attempt, root=ctx.root, memory_multiplier=memory_multiplier,
                             rescue_from=rescue_from, memory=dict(memory))
    return text, render.output_run(ctx.campaign, run, attempt)


def _adopt_existing_launch(ctx: Context, launch_dir: Path) -> Submission | bool | None:
    """A launch directory from an earlier apply whose ledger entry was lost: adopt, never relaunch.

    Returns the submission if bps got that far, True if a launch is there but has no run yet,
    None when the directory holds no launch at all.
    """
    if not ctx.wms_of(launch_dir).launched(launch_dir):
        return None
    found = ctx.wms_of(launch_dir).find_submission(launch_dir)
    return found if found is not None else True


def refuse_elsewhere(ctx: Context, key: str) -> None:
    """A runner per facility launches only the runs placed at its own site: the others' launch directories,
    WMS and Butler are at their own runners."""
    step, _, group = key.partition("/")
    if not ctx.follows_run(step, group):
        site = ctx.site_of(step, group)
        raise SubmitError(f"{key} runs at {site}; this job follows {ctx.scope.describe()} only: run it on the "
                          f"{site} runner (`--site {site}`), whose work directory holds its launches")


def launch_attempt(ctx: Context, ledger: Ledger, run: PlannedRun, number: int, kind: str, *,
                   memory_multiplier: float = 1.0, rescue_from: tuple[str, ...] = (),
                   memory: tuple[tuple[str, int], ...] = ()) -> Ledger:
    """Record the intent, launch bps detached, record the launch. Returns the new ledger.

    `memory`: per-task requestMemory (MB) overrides, recorded on the attempt so a later retry keeps them."""
    refuse_elsewhere(ctx, run.key)
    launch_dir = ctx.launch_dir(run.key, number)
    text, output_run = _render(ctx, run, number, memory_multiplier=memory_multiplier, rescue_from=rescue_from,
                               memory=memory)
    config_path = launch_dir / f"{run.step}__{run.group}.yaml"
    record = ledger.run(run.key) or RunRecord(run.step, run.group, run.data_query)
    record = replace(record, data_query=run.data_query)  # what this attempt is rendered with
    now = ctx.now()
    attempt = Attempt(number=number, kind=kind, output_run=output_run, config_hash=render.config_hash(text),
                      spec_hash=render.spec_fingerprint(ctx.campaign, run),
                      config_path=str(config_path), launch_dir=str(launch_dir), memory_multiplier=memory_multiplier,
                      memory=memory)
    if ctx.dry_run:
        ctx.say(f"  would submit {run.key} attempt {number} ({kind}) -> {output_run}")
        return ledger
    existing = _adopt_existing_launch(ctx, launch_dir)
    if existing is not None:
        # Crash recovery: bps was already started for this attempt; record it, never submit twice.
        attempt = with_state(attempt, RunState.PENDING, now, "adopted an earlier launch",
                                        submitted_at=now)
        if isinstance(existing, Submission):
            attempt = replace(attempt, submit_dir=existing.submit_dir, wms_id=existing.wms_id)
        ledger = ledger.with_run(record.with_attempt(attempt))
        ctx.save(ledger)
        ctx.say(f"  {run.key}: adopted the launch already in {launch_dir} (no second submission)")
        return ledger
    launch_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text, encoding="utf-8")
    attempt = with_state(attempt, RunState.SUBMITTING, now, f"{kind}: launching bps")
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)  # the intent is on disk before bps starts
    _failpoint("after-intent")
    try:
        ctx.wms_of(launch_dir).launch(config_path, launch_dir, ctx.campaign.setup_command())
    except WmsError as exc:
        # Nothing reached the WMS: the attempt ends here, with the reason, and the others go on.
        attempt = with_state(attempt, RunState.FAILED, ctx.now(), "bps could not be started",
                             message=f"bps could not be started: {exc}", last_checked=ctx.now())
        ledger = ledger.with_run(record.with_attempt(attempt))
        ctx.save(ledger)
        ctx.say(f"  {run.key} attempt {number}: bps could not be started: {exc}")
        return ledger
    _failpoint("after-launch")
    attempt = with_state(attempt, RunState.PENDING, ctx.now(), "bps submit started",
                                    submitted_at=ctx.now())
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)
    _failpoint("after-record")
    ctx.say(f"  submitted {run.key} attempt {number} -> {output_run}")
    return ledger


def _failpoint(name: str) -> None:
    """Test hook: CAMPAIGNOPS_FAILPOINT=<name> dies right here, as a killed job would (no cleanup)."""
    if os.environ.get("CAMPAIGNOPS_FAILPOINT") == name:
        os._exit(99)


def apply(ctx: Context, plan: Plan, ledger: Ledger) -> tuple[Ledger, list[Decision]]:
    """Submit every run that is ready and not in the ledger (a runner per facility: those placed at its site);
    returns the ledger and all decisions."""
    decisions = decide(plan, ledger)
    ready = [d.run for d in decisions if d.verdict == Verdict.SUBMIT and ctx.follows(d.run.site)]
    if ready:
        stacks.refuse_unpublished(ctx, (run.site for run in ready))
    for run in ready:
        ledger = launch_attempt(ctx, ledger, run, 1, "submit")
    return ledger, decisions


def refuse_on_hold(ctx: Context, ledger: Ledger, action: str) -> None:
    """A campaign on hold launches nothing new: not a retry, a rescue or a resubmission either."""
    if ledger.hold is not None:
        raise SubmitError(f"campaign {ctx.campaign.name} is on hold ({ledger.hold.describe()}): nothing new is "
                          f"launched, {action} included; `campaign resume {ctx.campaign.name}` first")


def _planned(plan: Plan, key: str) -> PlannedRun:
    for run in plan.runs:
        if run.key == key:
            return run
    known = ", ".join(r.key for r in plan.runs[:20])
    raise PlanError(f"no run {key!r} in campaign {plan.campaign.name}; runs are STEP/GROUP, e.g. {known}")


def _failed_record(plan: Plan, ledger: Ledger, key: str, action: str) -> tuple[PlannedRun, RunRecord, Attempt]:
    run = _planned(plan, key)
    record = ledger.run(key)
    if record is None or record.current is None:
        raise SubmitError(f"{key} was never submitted: nothing to {action} (`campaign apply` submits it)")
    current = record.current
    if current.state not in (RunState.FAILED, RunState.HELD, RunState.CANCELLED):
        raise SubmitError(f"{key} attempt {current.number} is {current.state}: only a FAILED, HELD or CANCELLED "
                        f"run can be {action}d (see `campaign status {plan.campaign.name}`)")
    return run, record, current


def asked_by(ctx: Context, ledger: Ledger, action: str, key: str, by: str, reason: str) -> Ledger:
    """A retry, more-memory or rescue a person asked for goes into the control log (who and why) before it
    acts, as every operator control does; the failure rules' own are recorded as their decision (by: '')."""
    if not by or ctx.dry_run:
        return ledger
    ledger = ledger.with_control(Control(ctx.now(), by, action, key, reason.strip()))
    ctx.save(ledger)
    return ledger


def retry(ctx: Context, plan: Plan, ledger: Ledger, key: str, memory_multiplier: float | None = None, *,
          by: str = "", reason: str = "") -> Ledger:
    """`bps restart` the failed run in place, or with a memory multiplier resubmit it with more memory."""
    run, record, current = _failed_record(plan, ledger, key, "retry")
    refuse_elsewhere(ctx, key)
    refuse_on_hold(ctx, ledger, "retry")
    if memory_multiplier is not None and memory_multiplier <= 1:
        raise SubmitError("--memory-multiplier must be above 1 (e.g. 2 doubles every memory request)")
    if memory_multiplier is None and not current.submit_dir:
        raise SubmitError(f"{key} attempt {current.number} never reached the WMS (no submit directory): "
                          f"use `campaign rescue {ctx.campaign.name} {key}` to submit it again")
    ledger = asked_by(ctx, ledger, "retry" if memory_multiplier is None else "more-memory", key, by, reason)
    number = current.number + 1
    if memory_multiplier is not None:
        if memory_multiplier <= 1:
            raise SubmitError("--memory-multiplier must be above 1 (e.g. 2 doubles every memory request)")
        # Overrides from a failure rule are final values: they grow with the multiplier too.
        return launch_attempt(ctx, ledger, run, number, "retry-memory",
                              memory_multiplier=current.memory_multiplier * memory_multiplier,
                              memory=tuple((label, round(mb * memory_multiplier)) for label, mb in current.memory))
    if not current.submit_dir:
        raise SubmitError(f"{key} attempt {current.number} never reached the WMS (no submit directory): "
                        f"use `campaign rescue {ctx.campaign.name} {key}` to submit it again")
    # bps restart re-runs only what failed, in the same submit directory and output run, from the
    # same working directory (parsl keeps its checkpoints in ./runinfo there).
    attempt = replace(current, number=number, kind="restart", state=RunState.SUBMITTING, tasks=(), errors=(),
                      exit_codes=(), message="", transitions=(), submitted_at="", last_checked="",
                      decision=None)
    if ctx.dry_run:
        ctx.say(f"  would restart {key} as attempt {number} (bps restart --id {current.wms_id or current.submit_dir})")
        return ledger
    now = ctx.now()
    attempt = with_state(attempt, RunState.SUBMITTING, now, f"bps restart of attempt {current.number}")
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)
    ctx.wms_of(current.launch_dir).restart(Submission(current.submit_dir, current.wms_id), Path(current.launch_dir),
                    ctx.campaign.setup_command())
    attempt = with_state(attempt, RunState.PENDING, ctx.now(), "bps restart started", submitted_at=ctx.now())
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)
    ctx.say(f"  restarted {key} as attempt {number}")
    return ledger


def rescue_sources(record: RunRecord) -> tuple[str, ...]:
    """The earlier output runs a rescue skips what exists in, newest first. Only runs that hold outputs:
    --skip-existing-in a collection that was never made fails for good."""
    return tuple(dict.fromkeys(a.output_run for a in reversed(record.attempts) if a.wrote_outputs))


def rescue(ctx: Context, plan: Plan, ledger: Ledger, key: str, *, by: str = "", reason: str = "") -> Ledger:
    """Re-run only what failed into a new output run, skipping what earlier attempts produced."""
    run, record, current = _failed_record(plan, ledger, key, "rescue")
    refuse_elsewhere(ctx, key)
    refuse_on_hold(ctx, ledger, "rescue")
    ledger = asked_by(ctx, ledger, "rescue", key, by, reason)
    earlier = rescue_sources(record)
    return launch_attempt(ctx, ledger, run, current.number + 1, "rescue",
                          memory_multiplier=current.memory_multiplier, rescue_from=earlier, memory=current.memory)
