"""Submitting runs: apply (new runs), retry and rescue, with the intent recorded before every launch."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from . import ledger as ledger_mod
from .advance import Decision, Verdict, decide
from .ledger import Attempt, Ledger, RunRecord, RunState
from .model import Campaign, Plan, PlannedRun
from .spec import SpecError
from .wms.base import Submission, Wms


def utcnow() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def default_workdir(root: Path) -> Path:
    """Where launch directories live. On a runner this must outlive the checkout (CAMPAIGNOPS_WORKDIR)."""
    return Path(os.environ.get("CAMPAIGNOPS_WORKDIR") or root / ".work").resolve()


@dataclass
class Context:
    """What the submit and observe stages need from the world."""

    root: Path
    campaign: Campaign
    wms: Wms
    workdir: Path
    now: Callable[[], str] = utcnow
    say: Callable[[str], None] = print
    dry_run: bool = False
    saved: list[str] = field(default_factory=list)

    @property
    def campaign_dir(self) -> Path:
        assert self.campaign.path is not None
        return self.campaign.path.parent

    def save(self, ledger: Ledger) -> None:
        if not self.dry_run and ledger_mod.save(self.campaign_dir, ledger):
            self.saved.append(self.now())

    def launch_dir(self, run_key: str, attempt: int) -> Path:
        return self.workdir / self.campaign.name / run_key / f"a{attempt:02d}"


def _render(ctx: Context, run: PlannedRun, attempt: int, *, memory_multiplier: float = 1.0,
            rescue_from: tuple[str, ...] = ()) -> tuple[str, str]:
    from . import render

    text = render.render_run(ctx.campaign, run, attempt, root=ctx.root, memory_multiplier=memory_multiplier,
                             rescue_from=rescue_from)
    return text, render.output_run(ctx.campaign, run, attempt)


def _adopt_existing_launch(ctx: Context, launch_dir: Path) -> Submission | bool | None:
    """A launch directory from an earlier apply whose ledger entry was lost: adopt, never relaunch.

    Returns the submission if bps got that far, True if a launch is there but has no run yet,
    None when the directory holds no launch at all.
    """
    if not launch_dir.exists() or not any(launch_dir.glob("bps*")):
        return None
    found = ctx.wms.find_submission(launch_dir)
    return found if found is not None else True


def launch_attempt(ctx: Context, ledger: Ledger, run: PlannedRun, number: int, kind: str, *,
                   memory_multiplier: float = 1.0, rescue_from: tuple[str, ...] = ()) -> Ledger:
    """Record the intent, launch bps detached, record the launch. Returns the new ledger."""
    launch_dir = ctx.launch_dir(run.key, number)
    text, output_run = _render(ctx, run, number, memory_multiplier=memory_multiplier, rescue_from=rescue_from)
    from .render import config_hash

    config_path = launch_dir / f"{run.step}__{run.group}.yaml"
    record = ledger.run(run.key) or RunRecord(run.step, run.group, run.data_query)
    now = ctx.now()
    attempt = Attempt(number=number, kind=kind, output_run=output_run, config_hash=config_hash(text),
                      config_path=str(config_path), launch_dir=str(launch_dir), memory_multiplier=memory_multiplier)
    if ctx.dry_run:
        ctx.say(f"  would submit {run.key} attempt {number} ({kind}) -> {output_run}")
        return ledger
    existing = _adopt_existing_launch(ctx, launch_dir)
    if existing is not None:
        # Crash recovery: bps was already started for this attempt; record it, never submit twice.
        attempt = ledger_mod.with_state(attempt, RunState.PENDING, now, "adopted an earlier launch",
                                        submitted_at=now)
        if isinstance(existing, Submission):
            attempt = replace(attempt, submit_dir=existing.submit_dir, wms_id=existing.wms_id)
        ledger = ledger.with_run(record.with_attempt(attempt))
        ctx.save(ledger)
        ctx.say(f"  {run.key}: adopted the launch already in {launch_dir} (no second submission)")
        return ledger
    launch_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text, encoding="utf-8")
    attempt = ledger_mod.with_state(attempt, RunState.SUBMITTING, now, f"{kind}: launching bps")
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)  # the intent is on disk before bps starts
    ctx.wms.launch(config_path, launch_dir, ctx.campaign.setup_command())
    if os.environ.get("CAMPAIGNOPS_FAILPOINT") == "after-launch":
        # Test hook: die exactly between starting bps and recording it, as a killed job would.
        os._exit(99)
    attempt = ledger_mod.with_state(attempt, RunState.PENDING, ctx.now(), "bps submit started",
                                    submitted_at=ctx.now())
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)
    ctx.say(f"  submitted {run.key} attempt {number} -> {output_run}")
    return ledger


def apply(ctx: Context, plan: Plan, ledger: Ledger) -> tuple[Ledger, list[Decision]]:
    """Submit every run that is ready and not in the ledger; returns the ledger and all decisions."""
    decisions = decide(plan, ledger)
    for d in decisions:
        if d.verdict == Verdict.SUBMIT:
            ledger = launch_attempt(ctx, ledger, d.run, 1, "submit")
    return ledger, decisions


def _planned(plan: Plan, key: str) -> PlannedRun:
    for run in plan.runs:
        if run.key == key:
            return run
    known = ", ".join(r.key for r in plan.runs[:20])
    raise SpecError(f"no run {key!r} in campaign {plan.campaign.name}; runs are STEP/GROUP, e.g. {known}")


def _failed_record(plan: Plan, ledger: Ledger, key: str, action: str) -> tuple[PlannedRun, RunRecord, Attempt]:
    run = _planned(plan, key)
    record = ledger.run(key)
    if record is None or record.current is None:
        raise SpecError(f"{key} was never submitted: nothing to {action} (`campaign apply` submits it)")
    current = record.current
    if current.state not in (RunState.FAILED, RunState.HELD, RunState.CANCELLED):
        raise SpecError(f"{key} attempt {current.number} is {current.state}: only a FAILED, HELD or CANCELLED "
                        f"run can be {action}d (see `campaign status {plan.campaign.name}`)")
    return run, record, current


def retry(ctx: Context, plan: Plan, ledger: Ledger, key: str, memory_multiplier: float | None = None) -> Ledger:
    """`bps restart` the failed run in place, or with a memory multiplier resubmit it with more memory."""
    run, record, current = _failed_record(plan, ledger, key, "retry")
    number = current.number + 1
    if memory_multiplier is not None:
        if memory_multiplier <= 1:
            raise SpecError("--memory-multiplier must be above 1 (e.g. 2 doubles every memory request)")
        return launch_attempt(ctx, ledger, run, number, "retry-memory",
                              memory_multiplier=current.memory_multiplier * memory_multiplier)
    if not current.submit_dir:
        raise SpecError(f"{key} attempt {current.number} never reached the WMS (no submit directory): "
                        f"use `campaign rescue {ctx.campaign.name} {key}` to submit it again")
    # bps restart re-runs only what failed, in the same submit directory and output run, from the
    # same working directory (parsl keeps its checkpoints in ./runinfo there).
    attempt = replace(current, number=number, kind="restart", state=RunState.SUBMITTING, tasks=(), errors=(),
                      exit_codes=(), message="", transitions=(), submitted_at="", last_checked="")
    if ctx.dry_run:
        ctx.say(f"  would restart {key} as attempt {number} (bps restart --id {current.wms_id or current.submit_dir})")
        return ledger
    now = ctx.now()
    attempt = ledger_mod.with_state(attempt, RunState.SUBMITTING, now, f"bps restart of attempt {current.number}")
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)
    ctx.wms.restart(Submission(current.submit_dir, current.wms_id), Path(current.launch_dir),
                    ctx.campaign.setup_command())
    attempt = ledger_mod.with_state(attempt, RunState.PENDING, ctx.now(), "bps restart started", submitted_at=ctx.now())
    ledger = ledger.with_run(record.with_attempt(attempt))
    ctx.save(ledger)
    ctx.say(f"  restarted {key} as attempt {number}")
    return ledger


def rescue(ctx: Context, plan: Plan, ledger: Ledger, key: str) -> Ledger:
    """Re-run only what failed into a new output run, skipping what earlier attempts produced."""
    run, record, current = _failed_record(plan, ledger, key, "rescue")
    earlier = tuple(dict.fromkeys(a.output_run for a in reversed(record.attempts)))
    return launch_attempt(ctx, ledger, run, current.number + 1, "rescue",
                          memory_multiplier=current.memory_multiplier, rescue_from=earlier)
