"""Retention planning: which RUN collections a policy expires, and everything it must never touch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.model import Campaign
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.merge import merge_ledgers
from campaignops.ledger.records import Attempt, Ledger, Removal, RunRecord
from campaignops.planning.retention import Instance, Policy, final_runs, plan_retention

NOW = datetime(2026, 12, 31, tzinfo=UTC)
PROFILE = profile_from_dict({"name": "local-parsl", "description": "d", "site": "local", "wms": "parsl",
                             "bps": {"computeSite": "local"}})


def campaign(name: str, **retention: Any) -> Campaign:
    return campaign_from_dict({
        "name": name, "description": "d", "operator": "op", "profile": "local-parsl", "stack": {"tag": "w"},
        "butler": {"repo": "repo", "inputs": ["in"], "output": "out/{campaign}"}, "pipeline": "p.yaml",
        "steps": [{"name": "step1", "subsets": ["step1"]}], "retention": retention}, PROFILE)


def attempt(n: int, kind: str, state: RunState, at: str, run: str = "", ok: int = 4) -> Attempt:
    tasks = (TaskCounts("isr", (("SUCCEEDED", ok),)),) if ok else ()
    return Attempt(number=n, kind=kind, output_run=run or f"out/step1/g/a{n:02d}", config_hash="h", config_path="c",
                   launch_dir="l", submit_dir=f"/submit/{n}", state=state, tasks=tasks,
                   transitions=(Transition(at, state),))


def done_at(day: str, *attempts: Attempt, group: str = "g") -> RunRecord:
    return RunRecord("step1", group, "", attempts)


def retried(day: str) -> RunRecord:
    """A failed attempt replaced by a resubmission with more memory into a new output run."""
    return done_at(day, attempt(1, "submit", RunState.FAILED, f"{day}T01:00:00+00:00"),
                   attempt(2, "retry-memory", RunState.SUCCEEDED, f"{day}T02:00:00+00:00"))


def test_intermediate_runs_expire_keep_days_after_the_end_and_final_runs_stay() -> None:
    c = campaign("c", keep_days=30)
    ledger = Ledger("c", (retried("2026-11-01"),))
    plan = plan_retention([Instance(c, ledger, complete=True)], NOW)
    assert [(e.run, e.keys, e.chain) for e in plan.expired] == [("out/step1/g/a01", ("step1/g",), "out/c")]
    assert "intermediate" in plan.expired[0].reason
    assert plan.notes == (("c", "keeps its 1 final run(s) and output chain out/c (keep_final)"),)

    young = plan_retention([Instance(c, ledger, complete=True)], datetime(2026, 11, 20, tzinfo=UTC))
    assert young.expired == ()
    assert young.notes == (("c", "kept until 2026-12-01 02:00 UTC (keep_days 30 after its end)"),)


def test_a_campaign_with_a_run_in_progress_is_never_touched() -> None:
    c = campaign("c", keep_days=1, keep_final=False)
    for state in (RunState.RUNNING, RunState.HELD, RunState.UNKNOWN, RunState.SUBMITTING):
        ledger = Ledger("c", (retried("2026-01-01"),
                              done_at("x", attempt(1, "submit", state, "2026-01-01T00:00:00+00:00"), group="h")))
        plan = plan_retention([Instance(c, ledger, complete=True)], NOW)
        assert plan.expired == (), state
        assert "never touched" in plan.notes[0][1]


def test_final_runs_go_only_without_keep_final_and_with_nothing_left_to_submit() -> None:
    c = campaign("c", keep_days=30, keep_final=False)
    ledger = Ledger("c", (retried("2026-11-01"),))
    assert [e.run for e in plan_retention([Instance(c, ledger, complete=True)], NOW).expired] == [
        "out/step1/g/a01", "out/step1/g/a02"]
    # a later step still to submit reads the final runs: they stay
    waiting = plan_retention([Instance(c, ledger, complete=False)], NOW)
    assert [e.run for e in waiting.expired] == ["out/step1/g/a01"]
    assert "runs still to submit" in waiting.notes[0][1]


def test_a_rescue_keeps_the_runs_it_read_and_a_restart_shares_its_run() -> None:
    rescue = done_at("d", attempt(1, "submit", RunState.FAILED, "2026-11-01T01:00:00+00:00"),
                     attempt(2, "rescue", RunState.SUCCEEDED, "2026-11-01T02:00:00+00:00"))
    assert final_runs(rescue) == {"out/step1/g/a01", "out/step1/g/a02"}
    restart = done_at("d", attempt(1, "submit", RunState.FAILED, "2026-11-01T01:00:00+00:00", run="out/r"),
                      attempt(2, "restart", RunState.SUCCEEDED, "2026-11-01T02:00:00+00:00", run="out/r"))
    c = campaign("c", keep_days=30)
    plan = plan_retention([Instance(c, Ledger("c", (rescue, restart)), complete=True)], NOW)
    assert plan.expired == ()


def test_attempts_that_never_made_a_run_and_runs_already_removed_are_not_planned() -> None:
    never = Attempt(number=1, kind="submit", output_run="out/never", config_hash="h", config_path="c",
                    launch_dir="l", state=RunState.FAILED, transitions=(Transition("2026-11-01T00:00:00+00:00",
                                                                                     RunState.FAILED),))
    record = done_at("d", never, attempt(2, "retry-memory", RunState.FAILED, "2026-11-01T01:00:00+00:00"),
                     attempt(3, "retry-memory", RunState.SUCCEEDED, "2026-11-01T02:00:00+00:00"))
    ledger = Ledger("c", (record,), removed=(Removal("out/step1/g/a02", "2026-12-02T00:00:00+00:00", "r", 4),))
    plan = plan_retention([Instance(campaign("c", keep_days=30), ledger, complete=True)], NOW)
    assert plan.expired == ()


def test_keep_last_keeps_the_newest_instances_and_expires_older_ones_whole() -> None:
    instances = [Instance(campaign(f"ci-hsc-w_2026_{week}", keep_last=2), Ledger(f"ci-hsc-w_2026_{week}", (
        done_at("d", attempt(1, "submit", RunState.SUCCEEDED, f"2026-11-{day}T01:00:00+00:00",
                             run=f"u/ci_hsc/w_2026_{week}/step1/g/a01")),)), family="ci-hsc-weekly", complete=True)
        for week, day in (("45", "02"), ("46", "09"), ("47", "16"))]
    instances.append(Instance(campaign("other", keep_last=1), Ledger("other", (
        done_at("d", attempt(1, "submit", RunState.SUCCEEDED, "2026-01-01T01:00:00+00:00")),)), complete=True))
    plan = plan_retention(instances, NOW)
    assert [(e.campaign, e.run, e.drop_chain, e.chain) for e in plan.expired] == [
        ("ci-hsc-w_2026_45", "u/ci_hsc/w_2026_45/step1/g/a01", True, "out/ci-hsc-w_2026_45")]
    assert dict(plan.notes)["ci-hsc-w_2026_47"] == "kept: one of the last 2 instances of ci-hsc-weekly"

    # with keep_days too, an old instance waits for it
    aged = [Instance(campaign(i.campaign.name, keep_last=2, keep_days=60), i.ledger, i.family, True)
            for i in instances[:3]]
    assert plan_retention(aged, NOW).expired == ()
    assert "kept until 2027-01-01" in dict(plan_retention(aged, NOW).notes)["ci-hsc-w_2026_45"]


def test_policy_reads_the_spec_and_only_some_rules_act() -> None:
    p = Policy.of(campaign("c", keep_days=3, protect=["release/DR1"]))
    assert (p.keep_days, p.keep_last, p.keep_final, p.protect, p.acts) == (3, None, True, ("release/DR1",), True)
    assert not Policy.of(campaign("c", keep_final=False)).acts
    assert plan_retention([Instance(campaign("c"), Ledger("c", (retried("2026-01-01"),)))], NOW).notes == ()


def test_removals_survive_the_ledger_file_and_a_merge_of_two_jobs() -> None:
    one = Ledger("c", (retried("2026-11-01"),), removed=(Removal("out/a", "2026-12-02T00:00:00+00:00", "r1", 3),))
    text = store.dumps(one)
    assert "removed_runs:" in text
    assert store.parse(text, "ledger.yaml", "c") == one
    other = Ledger("c", (retried("2026-11-01"),), removed=(Removal("out/b", "2026-12-03T00:00:00+00:00", "r2", 0),))
    assert [r.run for r in merge_ledgers(one, other).removed] == ["out/a", "out/b"]
    assert [r.run for r in merge_ledgers(one, one).removed] == ["out/a"]


def test_an_instance_made_by_campaign_new_knows_its_template() -> None:
    import datetime as dt
    from pathlib import Path

    from campaignops.campaign_spec.template import instantiate, template_of

    root = Path(__file__).resolve().parents[2]
    text = (root / "campaigns" / "templates" / "ci-hsc-weekly.yaml").read_text()
    name, instance = instantiate(text, "ci-hsc-weekly", "w_2026_48", dt.date(2026, 11, 23))
    assert name == "ci-hsc-w_2026_48"
    assert template_of(instance) == "ci-hsc-weekly"
    assert template_of(text) is None  # the template itself, or any hand-made campaign
