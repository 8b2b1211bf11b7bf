"""Failure rules that act (the reconcile job): each failed run's decision recorded in the ledger, then acted on
once: restart, more memory for the matched tasks, rescue, accept, hold the campaign, or review (an issue only).

`planning/failures.py` decides; this module records and acts. The decision is saved on the failed attempt
before anything is launched, and each action goes through `submit` (intent before launch), so a job killed
at any point acts once on the next cycle: a launching action is done once a later attempt exists, accept
and hold once `acted_at` is set in the same save as their control. Only a job that may launch acts
(`campaign reconcile`, never the look of `campaign status`); a held campaign launches nothing, a closed
step gate keeps its runs waiting, and `autopilot: false` in the spec leaves every failure to people. With
`autopilot: confirm-new-rules`, a decision by a rule this campaign has never acted on is recorded and waits for a
`confirm` control (`campaign control confirm`); once a rule has acted in the campaign it acts without asking.
"""

from __future__ import annotations

from dataclasses import replace

from ..campaign_spec.failure_rules import Rule, load_rules
from ..domain.actions import LAUNCHING
from ..domain.clock import parse_utc
from ..domain.errors import CampaignError
from ..domain.model import Plan, PlannedRun
from ..domain.states import RunState
from ..ledger.records import AWAITS_CONFIRMATION, Attempt, Control, Ledger, RuleDecision, RunRecord
from ..planning import failures
from ..views.reading import confirm_command
from . import submit
from .context import Context

COULD_NOT_ACT = "could not act"


def decided_by(rule: str) -> str:
    """Who a control made by a rule is recorded as (the ledger's control log says who settled what)."""
    return f"failure rule {rule}" if rule else "failure rules"


def record_decision(ctx: Context, rules: tuple[Rule, ...], record: RunRecord) -> RuleDecision:
    """What the rules decide for the run's failed current attempt, as the ledger records it."""
    current = record.current
    assert current is not None
    now = ctx.now()
    if not rules:
        return RuleDecision(now, "review", "no failure rules (campaigns/rules.yaml): sent to review", acted_at=now)
    decision, _ = failures.decide(rules, failures.Failure.of(current), record, ctx.campaign)
    due = failures.due_at(decision, failures.failed_at(current), now) if decision.action in LAUNCHING else ""
    return RuleDecision(now, decision.action, decision.text, rule=decision.rule or "", flavor=decision.flavor,
                        due_at=due, acted_at="" if decision.action in (*LAUNCHING, "accept", "hold") else now,
                        memory=tuple(sorted(decision.memory.items())))


def _with_decision(ledger: Ledger, record: RunRecord, attempt: Attempt, decision: RuleDecision) -> Ledger:
    return ledger.with_run(record.with_attempt(replace(attempt, decision=decision)))


def _planned(plan: Plan, key: str) -> PlannedRun | None:
    return next((r for r in plan.runs if r.key == key), None)


def rules_acted(ledger: Ledger) -> set[str]:
    """The rules whose decision has acted in this campaign (a restart, more memory, rescue, accept or hold done)."""
    return {a.decision.rule for r in ledger.runs for a in r.attempts
            if a.decision is not None and a.decision.rule and a.decision.done and a.decision.action != "review"
            and not a.decision.note.startswith(COULD_NOT_ACT)}


def confirmed(ledger: Ledger, key: str, decision: RuleDecision) -> bool:
    """Whether someone confirmed run `key`'s decision: a `confirm` control of the run made after it was decided."""
    decided = parse_utc(decision.at)
    for c in reversed(ledger.controls):
        if c.action == "confirm" and c.target == key:
            at = parse_utc(c.at)
            return decided is None or at is None or at >= decided
    return False


def unconfirmed(ctx: Context, ledger: Ledger, key: str, decision: RuleDecision, acted: set[str]) -> str:
    """Why a decision waits for a person under `autopilot: confirm-new-rules` ("" when it may act)."""
    if not ctx.campaign.confirm_new_rules or not decision.rule or decision.rule in acted:
        return ""
    if confirmed(ledger, key, decision):
        return ""
    return (f"{AWAITS_CONFIRMATION}: rule `{decision.rule}` has never acted in this campaign (autopilot: "
            f"confirm-new-rules); let it act with `{confirm_command(ctx.campaign.name, key)}`, or the retry "
            "workflow's confirm")


def _waits(ctx: Context, plan: Plan, ledger: Ledger, key: str, decision: RuleDecision, acted: set[str]) -> str:
    """Why a launching action may not act now ("" when it may)."""
    asked = unconfirmed(ctx, ledger, key, decision, acted)
    if asked:
        return asked
    if ledger.hold is not None:
        return f"waits: the campaign is on hold ({ledger.hold.describe()})"
    run = _planned(plan, key)
    if run is None:
        return "waits: the run is no longer in the plan (its step or group left the spec)"
    if not run.gate_open:
        return f"waits: the gate of step {run.step} is closed"
    if not failures.is_due(decision.due_at, ctx.now()):
        return f"due {decision.due_at}"
    return ""


def _launch(ctx: Context, plan: Plan, ledger: Ledger, key: str, decision: RuleDecision) -> Ledger:
    """The new attempt the decision asks for; `ledger` already holds the decision marked acted (saved with the
    intent of the new attempt, in one write)."""
    if decision.action == "retry":
        return submit.retry(ctx, plan, ledger, key)
    if decision.action == "rescue":
        return submit.rescue(ctx, plan, ledger, key)
    record = ledger.run(key)
    run = _planned(plan, key)
    assert record is not None and record.current is not None and run is not None
    current = record.current
    # More memory for the matched tasks alone, on top of what this attempt already asked. bps restart cannot
    # change memory, so it is a new attempt reading the earlier ones (--skip-existing-in, as `campaign rescue`):
    # only the failed quanta and those they blocked run again. Where no earlier attempt wrote an output there
    # is nothing to skip, so a full attempt (the decision's note says so). The overrides are recorded on the
    # attempt, so a later retry keeps them and its render is reproducible.
    memory = tuple(sorted((dict(current.memory) | dict(decision.memory)).items()))
    earlier = submit.rescue_sources(record)
    return submit.launch_attempt(ctx, ledger, run, current.number + 1, "rescue" if earlier else "retry-memory",
                                 memory_multiplier=current.memory_multiplier, rescue_from=earlier, memory=memory)


def full_attempt_note(record: RunRecord) -> str:
    """Why more memory re-runs every quantum of the run ("" when a rescue of the failed quanta works)."""
    if submit.rescue_sources(record):
        return ""
    return "a full attempt: no earlier attempt wrote an output, so there is nothing for a rescue to skip"


def _noted(ctx: Context, ledger: Ledger, record: RunRecord, why: str) -> Ledger:
    """The decision, not acted, with why it waits (saved and said once, when the reason changes)."""
    attempt = record.current
    assert attempt is not None and attempt.decision is not None
    if why != attempt.decision.note:
        ledger = _with_decision(ledger, record, attempt, replace(attempt.decision, note=why))
        ctx.save(ledger)
        ctx.say(f"  {record.key}: {attempt.decision.text} ({why})")
    return ledger


def _act(ctx: Context, plan: Plan, ledger: Ledger, record: RunRecord, acted: set[str]) -> Ledger:
    attempt = record.current
    assert attempt is not None and attempt.decision is not None
    decision = attempt.decision
    key = record.key
    if decision.action in LAUNCHING:
        why = _waits(ctx, plan, ledger, key, decision, acted)
        if why:
            return _noted(ctx, ledger, record, why)
        launched = replace(decision, acted_at=ctx.now(),
                           note=full_attempt_note(record) if decision.action == "more-memory" else "")
        try:
            ledger = _launch(ctx, plan, _with_decision(ledger, record, attempt, launched), key, launched)
        except CampaignError as exc:
            # Nothing was launched (the refusal comes before the intent): a person decides.
            ledger = _with_decision(ledger, record, attempt, replace(launched, note=f"{COULD_NOT_ACT}: {exc}; sent "
                                                                            "to review"))
            ctx.save(ledger)
            ctx.say(f"  {key}: {decision.text}, but could not act: {exc}")
            return ledger
        acted.add(decision.rule)
        ctx.say(f"  {key}: {decision.text}")
        return ledger
    asked = unconfirmed(ctx, ledger, key, decision, acted)
    if asked:
        return _noted(ctx, ledger, record, asked)
    acted.add(decision.rule)
    done = replace(decision, acted_at=ctx.now(), note="")
    if decision.action == "accept":
        ledger = ledger.with_control(Control(done.acted_at, decided_by(decision.rule), "accept", key, decision.text))
    elif decision.action == "hold" and ledger.hold is None:
        ledger = ledger.with_control(Control(done.acted_at, decided_by(decision.rule), "hold", "campaign",
                                             f"{key}: {decision.text}"))
    ledger = _with_decision(ledger, record, attempt, done)
    ctx.save(ledger)  # the control and the decision marked acted, in one write
    ctx.say(f"  {key}: {decision.text}")
    return ledger


def apply_rules(ctx: Context, plan: Plan, ledger: Ledger, rules: tuple[Rule, ...] | None = None) -> Ledger:
    """Decide (and record) for every failed run not settled by a person, then act where the decision may.

    Looks (`ctx.may_launch` false), dry runs and campaigns with `autopilot: false` change nothing."""
    if not ctx.may_launch or not ctx.campaign.autopilot:
        return ledger
    failed = [r.key for r in ledger.runs if r.state == RunState.FAILED and ledger.disposition(r.key) is None
              and ctx.follows_run(r.step, r.group)]
    if not failed:
        return ledger  # the rules files are read only when there is something to decide
    if rules is None:
        rules = load_rules(ctx.root, ctx.campaign_dir)
    acted = rules_acted(ledger) if ctx.campaign.confirm_new_rules else set()
    for key in failed:
        record = ledger.run(key)
        assert record is not None and record.current is not None
        attempt = record.current
        if attempt.decision is None:
            decision = record_decision(ctx, rules, record)
            if ctx.dry_run:
                ctx.say(f"  {key}: would decide: {decision.text}")
                continue
            ledger = _with_decision(ledger, record, attempt, decision)
            ctx.save(ledger)  # the decision is on disk before anything acts on it
            if decision.done:
                ctx.say(f"  {key}: {decision.text}")
                continue
            record = ledger.run(key)
            assert record is not None
        elif attempt.decision.done or ctx.dry_run:
            continue
        ledger = _act(ctx, plan, ledger, record, acted)
    return ledger


__all__ = ["LAUNCHING", "apply_rules", "confirmed", "decided_by", "record_decision", "rules_acted",
           "unconfirmed"]
