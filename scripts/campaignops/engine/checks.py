"""The checks of the output, evaluated: after a step (or the whole campaign) is done, each of its checks reads
its value from the Butler once (one query a check), is judged against its bounds and the previous instance of
the same template, and the evaluation is recorded in the ledger (value, bounds, previous value, verdict).

A check is evaluated again only when the output runs it read change (a rescue, a resubmit), or when its
Butler could not answer (UNKNOWN: the steps after it wait, nothing is called failed). A failed check holds
the steps that require its step (planning/advance.py) and gets one issue (engine/notify.sync_checks) until it
passes or someone runs `campaign accept-check`.
"""

from __future__ import annotations

from pathlib import Path

from ..domain.checks import CAMPAIGN_SCOPE, Check, CheckVerdict, fmt, judge, reduce_values
from ..domain.errors import CampaignError
from ..domain.model import Plan
from ..ledger import store
from ..ledger.records import CheckRecord, Ledger
from ..planning.advance import steps_done
from ..planning.checks import CheckStanding, CheckState, check_states
from ..ports import Measurements
from ..spec.load import all_campaign_paths
from ..spec.pipeline import pipeline_outputs
from ..spec.rules import rooted
from ..spec.template import template_of
from .context import Context


def evaluate(ctx: Context, plan: Plan, ledger: Ledger) -> Ledger:
    """Evaluate every check that is due and record it; returns the ledger (saved when something was recorded)."""
    if not ctx.campaign.all_checks() or ctx.measurements is None:
        return ledger
    due = [s for s in check_states(plan, ledger, steps_done(plan, ledger)) if s.standing == CheckStanding.DUE]
    if not due:
        return ledger
    previous = previous_values(ctx.root, ctx.campaign.name, ctx.campaign.path,
                               {s.check.ref for s in due if s.check.max_change is not None})
    reader = ctx.measurements()
    try:
        for state in due:
            record = _evaluate(ctx, plan, ledger, state, reader, previous.get(state.check.ref))
            ledger = ledger.with_check(record)
            verdict = record.verdict.upper() + (f": {record.why}" if record.why else "")
            ctx.say(f"  check {record.ref}: {state.check.describe()} = {fmt(record.value)} "
                    f"(bounds {record.bounds}) {verdict}")
    finally:
        reader.close()
    ctx.save(ledger)
    return ledger


def _evaluate(ctx: Context, plan: Plan, ledger: Ledger, state: CheckState, reader: Measurements,
              previous: tuple[str, float] | None) -> CheckRecord:
    check = state.check
    expected: float | None = None
    why = ""
    try:
        if check.kind == "metric":
            value = reduce_values(reader.values(check.dataset_type, state.collections, check.key), check.reduce)
            if value is None:
                why = f"no {check.dataset_type} dataset with a number '{check.key}' in the output"
        else:
            count = reader.count(check.dataset_type, state.collections)
            value = float(count)
            if check.kind == "completeness":
                expected = float(expected_datasets(ctx, plan, ledger, check))
                value = count / expected if expected else (1.0 if count == 0 else 0.0)
    except CampaignError as exc:  # the Butler did not answer: UNKNOWN, evaluated again next cycle
        return CheckRecord(check.ref, check.kind, ctx.now(), CheckVerdict.UNKNOWN.value, state.basis,
                           bounds=check.bounds(), why=str(exc).splitlines()[0])
    before = previous[1] if previous is not None else None
    judged = judge(check, value, before)
    verdict = judged.verdict
    if value is None:  # the output holds no such value: a fact about the output, not a flaky service
        verdict = CheckVerdict.FAIL
    return CheckRecord(check.ref, check.kind, ctx.now(), verdict.value, state.basis, value=value,
                       expected=expected, bounds=check.bounds(), previous=before,
                       previous_campaign=previous[0] if previous is not None else "",
                       why=why or judged.why)


def expected_datasets(ctx: Context, plan: Plan, ledger: Ledger, check: Check) -> int:
    """The datasets of the check's type the quanta were to write: the quanta of the tasks that write it, per run
    the largest count any attempt reported (a rescue's graph holds only what it re-runs)."""
    producers = set((pipeline_outputs(str(rooted(ctx.campaign.pipeline, ctx.root)), ctx.root) or {})
                    .get(check.dataset_type, ()))
    if not producers:
        raise CampaignError(f"cannot tell which tasks write {check.dataset_type}: the pipeline "
                            f"{ctx.campaign.pipeline} cannot be read here")
    steps = [s.name for s in ctx.campaign.steps] if check.scope == CAMPAIGN_SCOPE else [check.scope]
    total = 0
    for step in steps:
        for run in plan.runs_of(step):
            record = ledger.run(run.key)
            if record is None:
                continue
            per_label: dict[str, int] = {}
            for attempt in record.attempts:
                for t in attempt.tasks:
                    if t.label in producers:
                        per_label[t.label] = max(per_label.get(t.label, 0), t.total)
            total += sum(per_label.values())
    return total


def previous_values(root: Path, name: str, path: Path | None, refs: set[str]) -> dict[str, tuple[str, float]]:
    """Check ref -> (campaign, value) of the latest evaluation with a value that another instance of the same
    template recorded; empty when the campaign was not made from a template (or nothing asks)."""
    if not refs or path is None:
        return {}
    template = template_of(path.read_text(encoding="utf-8"))
    if template is None:
        return {}
    found: dict[str, tuple[str, str, float]] = {}  # ref -> (at, campaign, value)
    for other in all_campaign_paths(root):
        if other.parent.name == name or template_of(other.read_text(encoding="utf-8")) != template:
            continue
        try:
            ledger = store.load(other.parent, other.parent.name)
        except CampaignError:  # a damaged ledger of another instance is its own problem, reported there
            continue
        for record in ledger.checks:
            usable = record.ref in refs and record.value is not None and record.verdict != CheckVerdict.UNKNOWN
            if usable and (record.ref not in found or record.at > found[record.ref][0]):
                assert record.value is not None
                found[record.ref] = (record.at, ledger.campaign, record.value)
    return {ref: (campaign, value) for ref, (_, campaign, value) in found.items()}


__all__ = ["evaluate", "expected_datasets", "previous_values"]
