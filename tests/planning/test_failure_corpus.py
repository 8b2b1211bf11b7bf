"""The shared failure rules against real production failures: each case of tests/fixtures/failure_corpus.yaml
(PanDA pilot and server codes, HTCondor hold reasons, Slurm states, with the texts those systems print) is a
failed attempt as the ledger records it, and the shared rules must decide the expected rule, flavor and action."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.campaign_spec.failure_rules import load_rules
from campaignops.campaign_spec.load import load_campaign
from campaignops.domain.states import FailedJob, RunState, TaskCounts, Transition
from campaignops.ledger.records import Attempt, RunRecord
from campaignops.planning.failures import Failure, decide

ROOT = Path(__file__).resolve().parents[2]
CORPUS = yaml.safe_load((ROOT / "tests" / "fixtures" / "failure_corpus.yaml").read_text())["cases"]
NAME = "hsc-rc2-w_2026_47"


def attempt_of(case: dict[str, Any]) -> Attempt:
    """The failed attempt a WMS report of this case leaves in the ledger: the job's error lines as the PanDA
    adapter writes them ("<kind> <code>: <diag>"), then the payload's own line."""
    lines: list[str] = []
    if case.get("code"):
        kind, code = case["code"].split(":")
        lines.append(f"{kind} {code}: {case['text']}")
    elif case["text"]:
        lines.append(case["text"])
    if case.get("payload"):
        lines.append(case["payload"])
    exits = (case["exit"],) if "exit" in case else ()
    job = FailedJob("calibrate", "6012345678", exit_code=exits[0] if exits else 0, errors=tuple(lines))
    return Attempt(1, "submit", "o/a1", "h", "c", "l", "/s", state=RunState.FAILED,
                   tasks=(TaskCounts("calibrate", (("FAILED", 1), ("SUCCEEDED", 9))),),
                   exit_codes=(("calibrate", exits),) if exits else (), errors=tuple(lines), failed_jobs=(job,),
                   transitions=(Transition("2026-11-20T10:00:00+00:00", RunState.FAILED),))


def test_the_corpus_covers_every_wms_the_rules_speak_for() -> None:
    kinds = Counter(c["code"].split(":")[0] for c in CORPUS if c.get("code"))
    assert len(CORPUS) >= 40
    assert kinds["pilot"] >= 15 and kinds["jobdispatcher"] >= 3 and kinds["hold"] >= 8 and kinds["slurm"] >= 6
    assert all(c["source"] for c in CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c.get('code') or 'text'}-{c['text'][:40]}" for c in CORPUS])
def test_the_shared_rules_decide_each_real_failure_as_production_needs(case: dict[str, Any]) -> None:
    campaign = load_campaign(ROOT / "campaigns" / NAME / "campaign.yaml", ROOT)
    rules = load_rules(ROOT)  # the shared rules alone
    attempt = attempt_of(case)
    record = RunRecord("step1", "g0001", "", (attempt,))
    failure = Failure.of(attempt)
    if case.get("code"):
        assert failure.wms_codes == (case["code"],)  # the code is read back from the error line
    decision, _ = decide(rules, failure, record, campaign)
    assert (decision.rule, decision.flavor, decision.action) == (case["rule"], case["flavor"], case["action"]), \
        decision.text
    if decision.action == "more-memory":
        assert decision.memory == {"calibrate": 8192}  # 4 GB in this campaign, doubled for the failed task
    if decision.action == "review" and case.get("payload"):
        assert case["payload"][:60] in decision.text  # the review names the payload's own error line


def test_a_wall_time_kill_never_asks_for_more_memory() -> None:
    campaign = load_campaign(ROOT / "campaigns" / NAME / "campaign.yaml", ROOT)
    rules = load_rules(ROOT)
    walltime = [c for c in CORPUS if c["flavor"] == "walltime"]
    assert len(walltime) >= 8
    for case in walltime:
        attempt = attempt_of(case)
        decision, checks = decide(rules, Failure.of(attempt), RunRecord("step1", "g", "", (attempt,)), campaign)
        assert decision.action == "review" and not decision.memory
        assert all(c.rule.action != "more-memory" for c in checks if c.matched)
