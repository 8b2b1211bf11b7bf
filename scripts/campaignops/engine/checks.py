"""The checks of the output, evaluated: after a step (or the whole campaign) is done, each of its checks reads
its value from the Butler once (one query a check), is judged against its bounds and the previous instance of
the same template, and the evaluation is recorded in the ledger (value, bounds, previous value, verdict).

A check is evaluated again only when the output runs it read change (a rescue, a resubmit), or when its
Butler could not answer (UNKNOWN: the steps after it wait, nothing is called failed). A failed check holds
the steps that require its step (planning/advance.py) and gets one issue (engine/notify.sync_checks) until it
passes or someone runs `campaign accept-check`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..campaign_spec.load import all_campaign_paths
from ..campaign_spec.pipeline import pipeline_outputs
from ..campaign_spec.rules import rooted
from ..campaign_spec.template import template_of
from ..domain.checks import CAMPAIGN_SCOPE, EVERY_OUTPUT, Check, CheckVerdict, fmt, judge, reduce_values
from ..domain.errors import CampaignError
from ..domain.model import Plan
from ..ledger import store
from ..ledger.records import CheckRecord, Ledger
from ..planning.advance import steps_done
from ..planning.checks import CheckStanding, CheckState, check_states
from ..ports import Measurements
from . import setup_stage
from .context import Context


def evaluate(ctx: Context, plan: Plan, ledger: Ledger) -> Ledger:
    """Evaluate every check that is due and record it; returns the ledger (saved when something was recorded)."""
    if not ctx.campaign.all_checks() or ctx.measurements is None:
        return ledger
    building = setup_stage.needed(ctx, ledger)  # the preflight asks a repository the set-up stage has built
    due = [s for s in check_states(plan, ledger, steps_done(plan, ledger))
           if (s.standing == CheckStanding.DUE or (s.standing == CheckStanding.FAILED and s.check.kind == "inputs"))
           and not (building and s.check.kind == "inputs")
           and ctx.follows(ctx.campaign.check_site(s.check))]  # a runner per facility reads only its own site's Butler
    if not due:
        return ledger
    previous = previous_values(ctx.root, ctx.campaign.name, ctx.campaign.path,
                               {s.check.ref for s in due if s.check.max_change is not None})
    readers: dict[str, Measurements] = {}  # site -> its Butler, opened when a check there is due
    changed = False
    try:
        for state in due:
            site = ctx.campaign.check_site(state.check)
            if site not in readers:
                readers[site] = ctx.measurements(site)
            record = _evaluate(ctx, plan, ledger, state, readers[site], previous.get(state.check.ref))
            if state.record is not None and _same_answer(record, state.record):
                continue  # the same answer as last time (inputs still missing, a Butler still down): no new line
            ledger, changed = ledger.with_check(record), True
            verdict = record.verdict.upper() + (f": {record.why}" if record.why else "")
            ctx.say(f"  check {record.ref}: {state.check.describe()} = {fmt(record.value)} "
                    f"(bounds {record.bounds}) {verdict}")
    finally:
        for reader in readers.values():
            reader.close()
    if changed:
        ctx.save(ledger)
    return ledger


def _same_answer(new: CheckRecord, last: CheckRecord) -> bool:
    """Nothing new to record: the same evaluation again, or a Butler still not answering for the same output
    (its message may differ from one try to the next — another path, another error text — the answer does not)."""
    if new.verdict == last.verdict == CheckVerdict.UNKNOWN.value and new.basis == last.basis:
        return True
    return replace(new, at=last.at) == last


def _evaluate(ctx: Context, plan: Plan, ledger: Ledger, state: CheckState, reader: Measurements,
              previous: tuple[str, float] | None) -> CheckRecord:
    check = state.check
    expected: float | None = None
    why = ""
    try:
        if check.kind == "inputs":
            return _preflight(ctx, state, reader)
        if check.kind == "metric":
            value = reduce_values(reader.values(check.dataset_type, state.collections, check.key), check.reduce)
            if value is None:
                why = f"no {check.dataset_type} dataset with a number '{check.key}' in the output"
        elif check.kind == "completeness" and check.dataset_type == EVERY_OUTPUT:
            value, expected, why = _every_output(ctx, plan, ledger, check, state, reader)
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
                       why=" — ".join(w for w in (judged.why, why) if w) if check.dataset_type == EVERY_OUTPUT
                       else why or judged.why)


PREFLIGHT_SHOWN = 10  # missing data IDs named on the record and the issue


EXCLUDED_AT_MOST = 1000  # missing: exclude lists every missing data ID in the data query, up to this many


def _preflight(ctx: Context, state: CheckState, reader: Measurements) -> CheckRecord:
    """Every selected data ID has the input: frozen in a TAGGED collection and passed; else the missing ones
    (`missing: exclude`: left out of the runs reading the inputs, recorded, and the rest frozen and passed)."""
    check, campaign = state.check, ctx.campaign
    excluding = check.missing == "exclude"
    census = reader.census(check.dataset_type, state.collections, campaign.data_query,
                           EXCLUDED_AT_MOST + 1 if excluding else PREFLIGHT_SHOWN)
    record = CheckRecord(check.ref, check.kind, ctx.now(), CheckVerdict.PASS.value, state.basis,
                         value=float(census.present), expected=float(census.expected), bounds=check.bounds())
    gone = census.expected - census.present
    at = f" at {check.site}" if check.site else ""
    shown = f"{', '.join(census.missing[:PREFLIGHT_SHOWN])}{' …' if gone > PREFLIGHT_SHOWN else ''}"
    too_many = excluding and gone > EXCLUDED_AT_MOST
    if (gone > 0 and (not excluding or too_many)) or census.expected == 0:
        why = (f"{gone} of {census.expected} data IDs have no {check.dataset_type} in "
               f"{', '.join(campaign.inputs)}{at}: {shown}"
               + (f" (more than {EXCLUDED_AT_MOST}: too many to exclude)" if too_many else "")
               if census.expected else f"the data query selects no data ID of {check.dataset_type}{at}")
        return replace(record, verdict=CheckVerdict.FAIL.value, why=why)
    tagged = f"{campaign.output}/preflight-inputs"
    frozen = 0 if ctx.dry_run else reader.freeze(tagged, check.dataset_type, state.collections, campaign.data_query)
    left_out = (f"{gone} of {census.expected} data IDs have no {check.dataset_type}{at} and are excluded: {shown}"
                if gone else "")
    said = "; ".join(p for p in (left_out, "" if ctx.dry_run else f"{frozen} {check.dataset_type} frozen in {tagged}") if p)
    return replace(record, tagged="" if ctx.dry_run else tagged, why=said, excluded=census.missing if gone else ())


def _every_output(ctx: Context, plan: Plan, ledger: Ledger, check: Check, state: CheckState,
                  reader: Measurements) -> tuple[float, float, str]:
    """`completeness: all`: each output type of the tasks that ran in the step (their `_log` aside: a failed
    quantum writes one too), produced over expected — one Butler count per type. Returns the lowest fraction, the
    expected count of that type, and each type's numbers (worst first), which the record and the issue show."""
    outputs = pipeline_outputs(str(rooted(ctx.campaign.pipeline, ctx.root)), ctx.root)
    if outputs is None:
        raise CampaignError(f"cannot tell what the step's tasks write: the pipeline {ctx.campaign.pipeline} cannot be "
                            "read here")
    steps = [s.name for s in ctx.campaign.steps] if check.scope == CAMPAIGN_SCOPE else [check.scope]
    ran = {t.label for step in steps for run in plan.runs_of(step) for record in (ledger.run(run.key),)
           if record is not None for attempt in record.attempts for t in attempt.tasks}
    rows = []
    for dataset_type, labels in outputs.items():
        if dataset_type.endswith("_log") or not ran.intersection(labels):
            continue
        typed = replace(check, dataset_type=dataset_type)
        expected = float(expected_datasets(ctx, plan, ledger, typed))
        count = reader.count(dataset_type, state.collections)
        rows.append((count / expected if expected else (1.0 if count == 0 else 0.0), dataset_type, count, expected))
    if not rows:
        return 1.0, 0.0, "no output type of the step's tasks has quanta recorded"
    rows.sort()
    worst, _, _, expected = rows[0]
    return worst, expected, "per type: " + ", ".join(f"{t} {c}/{e:g}" for _, t, c, e in rows)


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
