"""Failure rules: the file is validated (a rule set that would retry forever is refused), the first
matching rule decides with its bound, memory and wait, and `campaign explain` says which and why."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.campaign_spec.failure_rules import check_rules_file, load_rules
from campaignops.campaign_spec.load import load_campaign
from campaignops.cli.main import main
from campaignops.domain.errors import SpecError
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RuleDecision, RunRecord
from campaignops.planning.failures import Failure, decide

ROOT = Path(__file__).resolve().parents[2]
NAME = "hsc-rc2-w_2026_47"  # requestMemory 4096


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    return tmp_path


def failed(n: int = 1, kind: str = "submit", errors: tuple[str, ...] = (), codes: tuple[int, ...] = (),
           failed_label: str = "calibrate", failed_quanta: int = 2, total_ok: int = 98) -> Attempt:
    tasks = (TaskCounts(failed_label, (("FAILED", failed_quanta), ("SUCCEEDED", total_ok // 2))),
             TaskCounts("isr", (("SUCCEEDED", total_ok - total_ok // 2),)))
    return Attempt(number=n, kind=kind, output_run=f"o/a{n}", config_hash="h", config_path="c", launch_dir="l",
                   submit_dir="/s", state=RunState.FAILED, tasks=tasks,
                   exit_codes=((failed_label, codes),) if codes else (), errors=errors,
                   transitions=(Transition("2026-11-20T10:00:00+00:00", RunState.FAILED),))


def run_of(*attempts: Attempt) -> RunRecord:
    return RunRecord("step1", "visit0-9999", "", attempts)


def rules_file(repo: Path, text: str, where: str = "campaigns/rules.yaml") -> Path:
    path = repo / where
    path.write_text(text)
    return path


def test_the_shared_rules_decide_memory_for_the_failed_task_alone_then_stop_at_the_bound(repo: Path) -> None:
    campaign = load_campaign(repo / "campaigns" / NAME / "campaign.yaml", repo)
    rules = load_rules(repo, repo / "campaigns" / NAME)
    oom = ("MemoryError: unable to allocate 3.2 GiB for an array",)
    first = run_of(failed(errors=oom))
    decision, checks = decide(rules, Failure.of(first.attempts[0]), first, campaign)
    assert (decision.action, decision.flavor, decision.rule) == ("more-memory", "out-of-memory", "out-of-memory")
    assert decision.memory == {"calibrate": 8192}  # the failed task only, not isr
    assert decision.text == "matched rule `out-of-memory`: more memory, calibrate 8 GB, attempt 2 of 4"
    assert checks[-1].rule.name == "out-of-memory" and not any(c.matched for c in checks[:-1])

    # Each attempt records the memory it asked: the next one grows from there, never above the rule's cap
    # nor the profile's largest queue (render puts each task on the queue that holds it).
    second = replace(failed(2, "retry-memory", errors=oom), memory=(("calibrate", 8192),))
    third = run_of(failed(errors=oom), second, replace(failed(3, "retry-memory", errors=oom),
                                                         memory=(("calibrate", 18432),)))
    decision, _ = decide(rules, Failure.of(third.attempts[-1]), third, campaign)
    assert decision.memory == {"calibrate": 36864}
    assert decision.text == "matched rule `out-of-memory`: more memory, calibrate 36 GB, attempt 4 of 4"
    at_cap = run_of(failed(errors=oom), replace(failed(2, "retry-memory", errors=oom), memory=(("calibrate", 225280),)))
    decision, _ = decide(rules, Failure.of(at_cap.attempts[-1]), at_cap, campaign)
    assert decision.action == "review" and "memory is at the limit (220 GB)" in decision.text
    fourth = run_of(*third.attempts, failed(4, "retry-memory", errors=oom))
    decision, _ = decide(rules, Failure.of(fourth.attempts[-1]), fourth, campaign)
    assert decision.action == "review" and "already made 4 of 4 attempts" in decision.text


def test_a_transient_failure_is_restarted_with_backoff_and_an_unknown_one_goes_to_review(repo: Path) -> None:
    campaign = load_campaign(repo / "campaigns" / NAME / "campaign.yaml", repo)
    rules = load_rules(repo)
    record = run_of(failed(errors=("OSError: [Errno 5] Input/output error: '/sdf/data/x.fits'",)))
    decision, _ = decide(rules, Failure.of(record.attempts[0]), record, campaign)
    assert (decision.action, decision.wait_minutes) == ("retry", 10)
    assert decision.text == "matched rule `transient-io`: restart after 10 min, attempt 2 of 3"
    again = run_of(*record.attempts, failed(2, "restart", errors=record.attempts[0].errors))
    assert decide(rules, Failure.of(again.attempts[-1]), again, campaign)[0].wait_minutes == 20

    odd = run_of(failed(errors=("ValueError: PSF model has no stars",)))
    decision, checks = decide(rules, Failure.of(odd.attempts[0]), odd, campaign)
    assert (decision.action, decision.rule) == ("review", None) and len(checks) == len(rules)
    killed = run_of(failed(codes=(137,)))
    assert decide(rules, Failure.of(killed.attempts[0]), killed, campaign)[0].rule == "oom-exit-code"
    # pilot 1305 is PAYLOADEXECUTIONFAILURE (PanDAWMS/pilot3 pilot/common/errorcodes.py): the pipeline failed,
    # a person reviews it with the payload's own line; a lost heartbeat is the PanDA server's dispatcher code 100.
    payload = decide(rules, Failure.of(odd.attempts[0], wms_codes=("pilot:1305",)), odd, campaign)[0]
    assert (payload.rule, payload.action, payload.flavor) == ("pilot-payload-failure", "review", "pipeline")
    assert "the payload said: 'ValueError: PSF model has no stars'" in payload.text
    lost = decide(rules, Failure.of(odd.attempts[0], wms_codes=("jobdispatcher:100",)), odd, campaign)[0]
    assert (lost.rule, lost.action, lost.wait_minutes) == ("panda-lost-heartbeat", "retry", 30)


def test_a_campaign_rule_is_tried_first_and_replaces_the_shared_one_of_its_name(repo: Path) -> None:
    rules_file(repo, """rules:
  - name: transient-io
    match: {error: "Input/output error", tasks: ["calib*"]}
    flavor: infrastructure
    action: {do: rescue, max_attempts: 2}
  - name: tolerate-psf
    match: {error: "PSF model has no stars"}
    flavor: pipeline
    action: {do: accept, max_failed_fraction: 0.05}
""", f"campaigns/{NAME}/rules.yaml")
    campaign = load_campaign(repo / "campaigns" / NAME / "campaign.yaml", repo)
    rules = load_rules(repo, repo / "campaigns" / NAME)
    assert [r.name for r in rules][:3] == ["transient-io", "tolerate-psf", "pilot-walltime"]
    assert [r.name for r in rules].count("transient-io") == 1
    io = run_of(failed(errors=("OSError: Input/output error",)))
    assert decide(rules, Failure.of(io.attempts[0]), io, campaign)[0].action == "rescue"
    psf = run_of(failed(errors=("PSF model has no stars",)))
    decision, _ = decide(rules, Failure.of(psf.attempts[0]), psf, campaign)
    assert decision.action == "accept" and "2 of 100 quanta failed (2.0% ≤ 5.0%)" in decision.text
    many = run_of(failed(errors=("PSF model has no stars",), failed_quanta=20, total_ok=80))
    assert decide(rules, Failure.of(many.attempts[0]), many, campaign)[0].action == "review"


@pytest.mark.parametrize(("rule", "message"), [
    ("action: {do: retry}", "action retry without max_attempts would retry forever"),
    ("action: {do: more-memory, max_attempts: 3}", "more-memory without cap_mb would grow memory without end"),
    ("action: {do: accept}", "accept needs max_failed_fraction"),
    ("action: {do: review, max_attempts: 3}", "max_attempts has no effect on action review"),
    ("action: {do: retry, max_attempts: 100}", "100 is above th"),
])
def test_validation_refuses_rules_that_would_loop_or_mean_nothing(repo: Path, rule: str, message: str) -> None:
    path = rules_file(repo, f"rules:\n  - name: r\n    match: {{error: x}}\n    flavor: unknown\n    {rule}\n")
    problems, rules = check_rules_file(path, repo)
    assert rules == () and any(message in str(p) for p in problems), problems
    assert all(p.line == 5 for p in problems if message in str(p))
    with pytest.raises(SpecError):
        load_rules(repo)


def test_validation_refuses_a_bad_regex_and_a_repeated_name_at_their_lines(repo: Path) -> None:
    path = rules_file(repo, """rules:
  - name: a
    match: {error: "(unclosed"}
    flavor: pipeline
    action: {do: review}
  - name: a
    match: {tasks: [isr]}
    flavor: pipeline
    action: {do: hold}
""")
    problems = [str(p) for p in check_rules_file(path, repo)[0]]
    assert any(p.startswith("campaigns/rules.yaml:3:") and "not a regular expression" in p for p in problems)
    assert any(p.startswith("campaigns/rules.yaml:6:") and "used twice" in p for p in problems)
    assert main(["--root", str(repo), "validate"]) == 1


def test_explain_says_which_rule_matched_and_why(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.save(repo / "campaigns" / NAME, Ledger(NAME, (run_of(
        failed(errors=("lsst.pipe.base: MemoryError: unable to allocate",), codes=(1,))),)))
    assert main(["--root", str(repo), "explain", NAME, "step1/visit0-9999"]) == 0
    out = capsys.readouterr().out
    assert "failed tasks: calibrate (2)" in out
    assert "MATCH out-of-memory [out-of-memory -> more-memory] (campaigns/rules.yaml)" in out
    assert "error /(?i)(\\bMemoryError" in out and "matches 'lsst.pipe.base: MemoryError" in out
    assert "decision: more-memory (out-of-memory): matched rule `out-of-memory`: more memory, calibrate 8 GB" in out
    assert "not decided yet" in out and "`campaign control more-memory " + NAME + " step1/visit0-9999 " in out
    assert main(["--root", str(repo), "explain", NAME, "step9/x"]) == 1
    assert "has no submitted run step9/x" in capsys.readouterr().err


def test_explain_of_a_restarted_run_lists_every_attempt_with_the_rule_that_decided_and_what_it_did(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    io = ("OSError: [Errno 5] Input/output error: '/sdf/data/x.fits'",)
    decided = RuleDecision("2026-11-20T10:00:05+00:00", "retry", "matched rule `transient-io`: restart after 10 min, "
                           "attempt 2 of 3", rule="transient-io", flavor="infrastructure",
                           acted_at="2026-11-20T10:10:07+00:00")
    first = replace(failed(errors=io), decision=decided)
    second = replace(failed(2, "restart"), state=RunState.SUCCEEDED, tasks=(), errors=(), transitions=())
    store.save(repo / "campaigns" / NAME, Ledger(NAME, (run_of(first, second),)))
    assert main(["--root", str(repo), "explain", NAME, "step1/visit0-9999"]) == 0
    out = capsys.readouterr().out
    assert "attempt 1 (submit, made by the campaign's apply): FAILED" in out
    assert "first error: OSError: [Errno 5] Input/output error" in out
    assert "rule transient-io [infrastructure] decided retry at 2026-11-20T10:00:05+00:00" in out
    assert "done at 2026-11-20T10:10:07+00:00: attempt 2 (restart)" in out
    assert "attempt 2 (restart, made by failure rule transient-io): SUCCEEDED" in out
    assert "no rule applies" not in out and "the rules decide only for a FAILED attempt" in out


def test_explain_never_says_done_before_it_is_and_hints_the_command_that_raises_memory(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = repo / "campaigns" / NAME / "campaign.yaml"
    spec.write_text(spec.read_text() + "autopilot: false\n")
    store.save(repo / "campaigns" / NAME, Ledger(NAME, (run_of(failed(errors=("MemoryError: unable to allocate",))),)))
    assert main(["--root", str(repo), "explain", NAME, "step1/visit0-9999"]) == 0
    out = capsys.readouterr().out
    assert "decision: more-memory (out-of-memory): matched rule `out-of-memory`: more memory, calibrate 8 GB" in out
    assert f"autopilot: false in the spec: the rules do not act; `campaign control more-memory {NAME} " \
           "step1/visit0-9999 --memory-multiplier 2` does it" in out
    assert "campaign retry" not in out and "retried" not in out and "done at" not in out

    # A decision recorded but waiting for its backoff: not done, and the command that does it now.
    waiting = RuleDecision("2026-11-20T10:00:05+00:00", "retry", "matched rule `transient-io`: restart after 10 min, "
                           "attempt 2 of 3", rule="transient-io", due_at="2026-11-20T10:10:00+00:00")
    store.save(repo / "campaigns" / NAME, Ledger(NAME, (run_of(replace(failed(), decision=waiting)),)))
    assert main(["--root", str(repo), "explain", NAME, "step1/visit0-9999"]) == 0
    out = capsys.readouterr().out
    assert f"not done yet (due 2026-11-20T10:10:00+00:00); `campaign control retry {NAME} step1/visit0-9999` " \
           "does it now" in out
    assert "done at" not in out
