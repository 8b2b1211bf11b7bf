"""A change of the failure rules is reviewed with evidence: the old and the new rules replayed on every failure
the ledgers record, counted per rule, with the runs whose decision changes — in memory, from a real git base,
and as the plan comment's section."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from campaignops.adapters.git.repo import Git
from campaignops.adapters.git.rules import rules_at
from campaignops.campaign_spec.failure_rules import load_rules
from campaignops.campaign_spec.load import load_campaign
from campaignops.cli.main import main
from campaignops.domain.errors import GitError, SpecError
from campaignops.domain.states import FailedJob, RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.planning.replay import NO_RULE, RuleCount, recorded_failures, replay
from campaignops.views.replay import replay_markdown

ROOT = Path(__file__).resolve().parents[2]
NAME = "hsc-rc2-w_2026_47"


def failed(n: int, *errors: str, label: str = "calibrate") -> Attempt:
    jobs = tuple(FailedJob(label, f"{n}{i}", errors=(e,)) for i, e in enumerate(errors) if e.startswith("pilot "))
    return Attempt(n, "submit" if n == 1 else "restart", f"o/a{n}", "h", "c", "l", submit_dir="/s",
                   state=RunState.FAILED, tasks=(TaskCounts(label, (("FAILED", 2), ("SUCCEEDED", 8))),),
                   errors=errors, failed_jobs=jobs, transitions=(Transition("2026-11-20T10:00:00+00:00",
                                                                            RunState.FAILED),))


def ledger() -> Ledger:
    ok = Attempt(2, "restart", "o/a2", "h", "c", "l", state=RunState.SUCCEEDED)
    return Ledger(NAME, (
        RunRecord("step1", "g1", "", (failed(1, "pilot 1212: Payload ran out of memory"),)),
        RunRecord("step1", "g2", "", (failed(1, "OSError: [Errno 5] Input/output error"), ok)),
        RunRecord("step1", "g3", "", (failed(1, "pilot 1305: Failed to execute payload", "ValueError: bad"),)),
    ))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    store.save(tmp_path / "campaigns" / NAME, ledger())
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    return tmp_path


def _without(text: str, rule: str) -> str:
    """The rules file with rule `rule` cut out (up to the next rule)."""
    start = text.index(f"  - name: {rule}\n")
    end = text.index("  - name: ", start + 1)
    return text[:start] + text[end:]


def test_the_replay_counts_each_rule_old_and_new_and_lists_only_the_runs_whose_decision_changes(repo: Path) -> None:
    campaign = load_campaign(repo / "campaigns" / NAME / "campaign.yaml", repo)
    found = list(recorded_failures(campaign, ledger()))
    assert [(f.record.key, f.attempt) for f in found] == [("step1/g1", 1), ("step1/g2", 1), ("step1/g3", 1)]
    old = load_rules(repo, repo / "campaigns" / NAME)
    new = tuple(r for r in old if r.name != "pilot-out-of-memory")
    result = replay(found, {NAME: old}, {NAME: new})
    assert result.failures == 3 and result.campaigns == 1
    # the pilot's own diagnostic still matches the text rule: same action, but another rule decides
    assert set(result.counts) == {RuleCount("pilot-out-of-memory", 1, 0), RuleCount("transient-io", 1, 1),
                                  RuleCount("pilot-payload-failure", 1, 1), RuleCount("out-of-memory", 0, 1)}
    [change] = result.changes
    assert (change.run, change.old.rule, change.old.action, change.new.rule, change.new.action) == \
        ("step1/g1", "pilot-out-of-memory", "more-memory", "out-of-memory", "more-memory")
    strict = tuple(r for r in old if r.name != "pilot-payload-failure")
    [review] = replay(found, {NAME: old}, {NAME: strict}).changes
    assert (review.run, review.new.rule, review.new.action) == ("step1/g3", None, "review")
    assert RuleCount(NO_RULE, 0, 1) in replay(found, {NAME: old}, {NAME: strict}).counts
    same = replay(found, {NAME: old}, {NAME: old})
    assert same.changes == () and all(c.old == c.new for c in same.counts)


def test_the_base_rules_are_read_from_git_and_a_campaigns_own_file_comes_first(repo: Path) -> None:
    shared = repo / "campaigns" / "rules.yaml"
    shared.write_text(_without(shared.read_text(), "pilot-out-of-memory"))  # the working tree, not the base
    at_base = rules_at(Git(repo), "main", NAME)
    assert "pilot-out-of-memory" in [r.name for r in at_base]
    first = rules_at(Git(repo), "main", "demo")[0]  # the demo's own rule comes first
    assert first.name == "transient-io" and first.source.endswith("campaigns/demo/rules.yaml")
    with pytest.raises(GitError, match="unknown-rev"):
        rules_at(Git(repo), "unknown-rev", NAME)


def test_a_base_whose_rules_did_not_validate_is_named_with_its_location(repo: Path) -> None:
    shared = repo / "campaigns" / "rules.yaml"
    shared.write_text(shared.read_text().replace("max_attempts: 4", "max_attempts: 400", 1))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "bad"], cwd=repo, check=True)
    with pytest.raises(SpecError) as err:
        rules_at(Git(repo), "HEAD", NAME)
    assert any("campaigns/rules.yaml" in p.file for p in err.value.problems)


def test_replay_rules_prints_the_plan_comment_section_for_a_rules_change_and_nothing_otherwise(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "replay-rules", "--base", "main", "--format", "markdown"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no failure rules file changed" in err
    shared = repo / "campaigns" / "rules.yaml"
    shared.write_text(_without(shared.read_text(), "pilot-out-of-memory"))
    assert main(["--root", str(repo), "replay-rules", "--base", "main", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Failure rules replay")
    assert "`campaigns/rules.yaml` changed" in out and "**1 decision(s) change**" in out
    assert "| `pilot-out-of-memory` | 1 → 0 ⚠ |" in out
    assert f"| {NAME} | step1/g1 | 1 | pilot-out-of-memory → more-memory (calibrate 8192 MB) | " \
           "out-of-memory → more-memory (calibrate 8192 MB) |" in out
    assert "step1/g2" not in out  # its decision does not change


def test_the_markdown_section_says_when_no_ledger_records_a_failure() -> None:
    from campaignops.planning.replay import Replay
    lines = replay_markdown(Replay(0, 0, (), ()), ["campaigns/rules.yaml"], "abcdef1234567890")
    assert "No ledger records a failure yet: nothing to replay." in lines
