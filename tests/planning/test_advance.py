"""Which runs `apply` / `status` submit: prerequisites, manual gates, acceptance, never twice."""

from __future__ import annotations

from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign, Plan, PlannedRun, Profile, Resources
from campaignops.domain.states import RunState, TaskCounts
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.planning.advance import Verdict, decide

PROFILE = Profile("local-parsl", "test", "local", "parsl", "", (("wmsServiceClass", "x.Y"),))


def campaign(**step3: object) -> Campaign:
    data = {
        "name": "camp", "description": "d", "operator": "op", "profile": "local-parsl",
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/r", "inputs": ["in"], "output": "out/{campaign}"},
        "pipeline": "p.yaml",
        "steps": [
            {"name": "step1", "subsets": ["step1"]},
            {"name": "step2", "subsets": ["step2"]},
            {"name": "step3", "subsets": ["step3"], **step3},
        ],
    }
    return campaign_from_dict(data, PROFILE)


def plan_of(c: Campaign, groups: dict[str, list[str]]) -> Plan:
    runs = []
    for step in c.steps:
        for g in groups.get(step.name, ["all"]):
            runs.append(PlannedRun(c.name, step.name, g, step.subsets, "", step.requires, step.gate,
                                   step.gate_open, Resources()))
    return Plan(c, tuple(runs))


def attempt(state: RunState, failed: int = 0, ok: int = 10) -> Attempt:
    return Attempt(1, "submit", "out/run", "h", "c.yaml", "/l", state=state,
                   tasks=(TaskCounts("t", (("FAILED", failed), ("SUCCEEDED", ok))),))


def with_runs(c: Campaign, **states: Attempt) -> Ledger:
    ledger = Ledger(c.name)
    for key, a in states.items():
        step, group = key.split("__")
        ledger = ledger.with_run(RunRecord(step, group, "", (a,)))
    return ledger


def verdicts(plan: Plan, ledger: Ledger) -> dict[str, Verdict]:
    return {d.run.key: d.verdict for d in decide(plan, ledger)}


def test_first_step_is_submitted_and_later_steps_wait_for_it() -> None:
    c = campaign()
    v = verdicts(plan_of(c, {"step1": ["g0", "g1"]}), Ledger(c.name))
    assert v == {"step1/g0": Verdict.SUBMIT, "step1/g1": Verdict.SUBMIT,
                 "step2/all": Verdict.WAITING, "step3/all": Verdict.WAITING}


def test_a_run_in_the_ledger_is_never_submitted_again_whatever_its_state() -> None:
    c = campaign()
    for state in RunState:
        ledger = with_runs(c, step1__all=attempt(state))
        assert verdicts(plan_of(c, {}), ledger)["step1/all"] == Verdict.RECORDED


def test_next_step_starts_only_when_every_group_succeeded() -> None:
    c = campaign()
    plan = plan_of(c, {"step1": ["g0", "g1"]})
    half = with_runs(c, step1__g0=attempt(RunState.SUCCEEDED), step1__g1=attempt(RunState.RUNNING))
    assert verdicts(plan, half)["step2/all"] == Verdict.WAITING
    done = with_runs(c, step1__g0=attempt(RunState.SUCCEEDED), step1__g1=attempt(RunState.SUCCEEDED))
    assert verdicts(plan, done)["step2/all"] == Verdict.SUBMIT


def test_a_failed_prerequisite_blocks_and_says_how_to_retry() -> None:
    c = campaign()
    ledger = with_runs(c, step1__all=attempt(RunState.FAILED, failed=1))
    d = {x.run.key: x for x in decide(plan_of(c, {}), ledger)}["step2/all"]
    assert d.verdict == Verdict.BLOCKED
    assert "campaign retry camp step1/GROUP" in d.reason


def test_manual_gate_waits_for_approval_recorded_in_the_spec() -> None:
    ledger_c = campaign(gate="manual")
    ledger = with_runs(ledger_c, step1__all=attempt(RunState.SUCCEEDED), step2__all=attempt(RunState.SUCCEEDED))
    d = {x.run.key: x for x in decide(plan_of(ledger_c, {}), ledger)}["step3/all"]
    assert d.verdict == Verdict.GATED and "approved_by" in d.reason
    approved = campaign(gate="manual", approved_by="jdoe")
    assert verdicts(plan_of(approved, {}), ledger)["step3/all"] == Verdict.SUBMIT


def test_tolerated_failure_fraction_accepts_a_mostly_good_step() -> None:
    c = campaign_from_dict({
        "name": "camp", "description": "d", "operator": "op", "profile": "local-parsl",
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/r", "inputs": ["in"], "output": "o"},
        "pipeline": "p.yaml",
        "steps": [{"name": "step1", "subsets": ["s1"], "acceptance": {"max_failed_fraction": 0.1}},
                  {"name": "step2", "subsets": ["s2"]}]}, PROFILE)
    plan = plan_of(c, {})
    assert verdicts(plan, with_runs(c, step1__all=attempt(RunState.FAILED, failed=1, ok=19)))["step2/all"] == Verdict.SUBMIT
    assert verdicts(plan, with_runs(c, step1__all=attempt(RunState.FAILED, failed=5, ok=15)))["step2/all"] == Verdict.BLOCKED
    # A run that failed before any quantum ran (pipetaskInit) is never accepted.
    init_failed = Attempt(1, "submit", "o", "h", "c", "/l", state=RunState.FAILED)
    assert verdicts(plan, with_runs(c, step1__all=init_failed))["step2/all"] == Verdict.BLOCKED


def test_explicit_empty_requires_lets_steps_run_in_parallel() -> None:
    c = campaign(requires=[])
    assert verdicts(plan_of(c, {}), Ledger(c.name))["step3/all"] == Verdict.SUBMIT
