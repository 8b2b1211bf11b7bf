"""Which runs may be submitted now: prerequisites, manual gates and acceptance rules (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..domain.checks import PREFLIGHT_SCOPE
from ..domain.model import Campaign, Plan, PlannedRun, Step
from ..domain.states import RunState, StateCounts, TransferState
from ..ledger.records import Attempt, Ledger
from .checks import CheckState, holding


class Verdict(StrEnum):
    SUBMIT = "submit"  # ready: prerequisites met, gate open, never submitted
    RECORDED = "recorded"  # the ledger already holds it: never submitted twice
    WAITING = "waiting"  # a prerequisite step is not done yet
    GATED = "gated"  # a manual gate without approval
    BLOCKED = "blocked"  # a prerequisite step ended and was not accepted: needs an operator
    PENDING_GROUPS = "pending-groups"  # groups come from a Butler query not run yet
    SKIPPED = "skipped"  # an operator skipped it (spec `skip:` or `campaign skip`): never submitted
    ON_HOLD = "on-hold"  # ready, but the campaign is on hold: nothing new is submitted


@dataclass(frozen=True)
class Decision:
    run: PlannedRun
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class StepProgress:
    step: str
    total: int
    succeeded: int
    failed: int  # ended badly and not settled (accepted or skipped runs are not failed ones)
    active: int
    unsubmitted: int
    accepted: bool
    cancelled: int = 0


def attempt_accepted(attempt: Attempt | None, step: Step) -> bool:
    """Succeeded, or failed with no more failed quanta than the step tolerates."""
    if attempt is None:
        return False
    if attempt.state == RunState.SUCCEEDED:
        return True
    if attempt.state != RunState.FAILED or step.max_failed_fraction <= 0:
        return False
    total = attempt.total_quanta()
    # A run with no quanta counted failed before anything ran (e.g. pipetaskInit): never accepted.
    return total > 0 and attempt.failed_quanta() / total <= step.max_failed_fraction


def step_progress(plan: Plan, ledger: Ledger, step: Step) -> StepProgress:
    runs = plan.runs_of(step.name)
    currents = [record.current if record else None for record in (ledger.run(run.key) for run in runs)]
    counts = StateCounts.of(a.state if a else None for a in currents)
    # A run an operator skipped or accepted (ledger.disposition) no longer holds its step back.
    settled = [attempt_accepted(a, step) or ledger.disposition(run.key) is not None
               for run, a in zip(runs, currents, strict=True)]
    open_ = [a.state for a, done in zip(currents, settled, strict=True) if a is not None and not done]
    return StepProgress(step.name, len(runs), counts.succeeded, open_.count(RunState.FAILED), counts.active,
                        counts.unsubmitted, bool(runs) and all(settled), open_.count(RunState.CANCELLED))


def steps_done(plan: Plan, ledger: Ledger) -> dict[str, bool]:
    """Step name -> every run of it succeeded or was settled (its acceptance rule included): its checks are due."""
    return {s.name: step_progress(plan, ledger, s).accepted for s in plan.campaign.steps}


def _ended(progress: StepProgress) -> str:
    parts = [f"{n} {what} group(s)" for n, what in ((progress.failed, "failed"), (progress.cancelled, "cancelled"))
             if n]
    return " and ".join(parts) or "groups not done"


def decide(plan: Plan, ledger: Ledger) -> list[Decision]:
    """One decision per planned run, in plan order."""
    campaign: Campaign = plan.campaign
    progress = {s.name: step_progress(plan, ledger, s) for s in campaign.steps}
    decisions = []
    hold = ledger.hold
    held_by: dict[str, tuple[list[CheckState], list[CheckState]]] = {}
    for run in plan.runs:
        step = campaign.step(run.step)
        record = ledger.run(run.key)
        settled = ledger.disposition(run.key)
        if settled is not None and settled.action == "skip" and (record is None or not record.attempts):
            decisions.append(Decision(run, Verdict.SKIPPED, f"skipped: {settled.describe()}"))
            continue
        if record is not None and record.attempts:
            decisions.append(Decision(run, Verdict.RECORDED, f"attempt {record.current.number if record.current else 0} "
                                      f"is {record.state}"))
            continue
        if run.pending:
            decisions.append(Decision(run, Verdict.PENDING_GROUPS,
                                      "groups are decided by a Butler query when the step is submitted"))
            continue
        not_done = [p for p in run.requires if not progress[p].accepted]
        if not not_done and campaign.all_checks():
            # A done step's checks hold the steps that require it until they passed (or were accepted); the
            # preflight (inputs there before step 1) holds the steps that require none.
            gates = run.requires or ((PREFLIGHT_SCOPE,) if campaign.preflight else ())
            for p in gates:
                if p not in held_by:  # once per step, not per run: a step may have thousands of runs
                    held_by[p] = holding(plan, ledger, {n: g.accepted for n, g in progress.items()}, p)
            # A multi-site preflight holds only the runs at its own site: one site missing inputs does not stop
            # the others.
            held = [tuple([s for s in states if s.check.site in ("", run.site)] for states in held_by[p])
                    for p in gates]
            missing = [s for _, bad in held for s in bad if s.check.scope == PREFLIGHT_SCOPE]
            if missing:
                decisions.append(Decision(run, Verdict.WAITING, "; ".join(
                    f"preflight: {s.record.why if s.record else ''} (checked again each cycle; or `campaign "
                    f"accept-check {campaign.name} {s.check.ref} --reason ...`)" for s in missing)))
                continue
            failed = [s for _, bad in held for s in bad]
            if failed:
                decisions.append(Decision(run, Verdict.BLOCKED, "; ".join(
                    f"check {s.check.ref} failed ({s.record.why if s.record else ''}): fix and rerun the step, or "
                    f"`campaign accept-check {campaign.name} {s.check.ref} --reason ...`" for s in failed)))
                continue
            due = [s for pending, _ in held for s in pending]
            if due:
                decisions.append(Decision(run, Verdict.WAITING, "checks not evaluated yet (the runner's `campaign "
                                          "reconcile` reads them from the Butler): " + ", ".join(
                    s.check.ref + (f" ({s.record.why})" if s.record and s.record.why else "") for s in due)))
                continue
        if not_done:
            blocked = [p for p in not_done if progress[p].unsubmitted == 0 and progress[p].active == 0]
            if blocked:
                decisions.append(Decision(run, Verdict.BLOCKED, "; ".join(
                    f"{p} ended with {_ended(progress[p])}: retry them (`campaign retry "
                    f"{campaign.name} {p}/GROUP`), or resubmit, skip or accept them (`campaign resubmit|skip|accept "
                    f"{campaign.name} {p}/GROUP --reason ...`)"
                    for p in blocked)))
            else:
                decisions.append(Decision(run, Verdict.WAITING, "; ".join(
                    f"{p}: {progress[p].succeeded}/{progress[p].total} groups succeeded" for p in not_done)))
            continue
        moving = [(t, ledger.transfer(t.key)) for t in plan.transfers_into(run)]
        moving = [(t, r) for t, r in moving if r is None or r.state != TransferState.DONE]
        if moving:
            decisions.append(Decision(run, Verdict.WAITING, "; ".join(
                f"transfer of {', '.join(t.dataset_types)} from {t.source} "
                + (f"{r.state.value} ({r.arrived}/{r.datasets} datasets)" if r else "not started")
                for t, r in moving)))
            continue
        if campaign.butler_setup and (ledger.setup is None or ledger.setup.state != RunState.SUCCEEDED):
            state = ledger.setup.state.value if ledger.setup else "not started"
            decisions.append(Decision(run, Verdict.WAITING, f"the set-up stage builds the fresh repository "
                                      f"{campaign.butler_repo} first ({state})"))
            continue
        if not step.gate_open:
            decisions.append(Decision(run, Verdict.GATED,
                                      f"manual gate: review, then set `approved_by: <you>` on step {step.name} in "
                                      f"campaigns/{campaign.name}/campaign.yaml and merge it"))
            continue
        if hold is not None:
            decisions.append(Decision(run, Verdict.ON_HOLD, f"campaign on hold ({hold.describe()}): "
                                      f"`campaign resume {campaign.name}` or remove `hold:` from the spec"))
            continue
        decisions.append(Decision(run, Verdict.SUBMIT, "prerequisites met" if run.requires else "no prerequisites"))
    return decisions
