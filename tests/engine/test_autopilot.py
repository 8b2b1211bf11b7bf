"""Failure rules that act: `campaign reconcile` restarts, raises memory for the matched tasks alone, rescues,
accepts, holds or sends to review, with backoff and bounds; each decision in the ledger and in the issue, and a
job killed between deciding and launching acts once. In-memory WMS, milliseconds each."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
import yaml

from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.adapters.memory_wms import Crash
from campaignops.cli.main import main
from campaignops.domain.errors import SubmitError
from campaignops.domain.model import QueueMap
from campaignops.domain.states import RunState
from campaignops.engine import autopilot, controls
from campaignops.engine.notify import sync
from campaignops.ledger.records import Attempt, RunRecord
from campaignops.planning import render
from campaignops.views import status_page
from campaignops.views.reading import read_run
from fakes.engine_site import Site, make_site

ROOT = Path(__file__).resolve().parents[2]
KEY = "step1/visit1"
OOM = ("lsst.ctrl.mpexec: MemoryError: Unable to allocate 1.9 GiB for an array",)
IO = ("OSError: [Errno 5] Input/output error: '/sdf/data/rubin/x.fits'",)

RULES = """
rules:
  - name: out-of-memory
    match: {error: "MemoryError"}
    flavor: out-of-memory
    action: {do: more-memory, factor: 2, cap_mb: 6000, max_attempts: 4}
  - name: transient-io
    match: {error: "Input/output error"}
    flavor: infrastructure
    action: {do: retry, backoff_minutes: %(backoff)s, max_attempts: 3}
  - name: tolerate-psf
    match: {error: "PSF fit failed"}
    flavor: pipeline
    action: {do: accept, max_failed_fraction: 0.2}
  - name: quota
    match: {error: "Disk quota exceeded"}
    flavor: infrastructure
    action: {do: hold}
"""


def site_with_rules(tmp_path: Path, backoff: float = 0, **campaign: object) -> Site:
    resources = {"requestMemory": 1024, "tasks": {"calibrate": {"requestMemory": 2048},
                                                  "isr": {"requestMemory": 1536}}}
    site = make_site(tmp_path, {"resources": resources, **campaign})
    site.campaign = replace(site.campaign, profile=replace(
        site.campaign.profile, queues=QueueMap((("small", 4096), ("big", 8192)))))
    (tmp_path / "campaigns" / "rules.yaml").write_text(RULES % {"backoff": backoff})
    return site


def fail(site: Site, errors: tuple[str, ...], attempt: int = 1, failed: int = 1, key: str = KEY) -> None:
    site.wms.finish(key, RunState.FAILED, attempt=attempt, succeeded=9, failed=failed, label="calibrate",
                    errors=errors)


def record(site: Site, key: str = KEY) -> RunRecord:
    found = site.ledger().run(key)
    assert found is not None
    return found


def attempt(site: Site, number: int, key: str = KEY) -> Attempt:
    return record(site, key).attempts[number - 1]


def test_a_transient_failure_is_restarted_by_reconcile_once_with_no_command_typed(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, IO)
    site.reconcile()
    first, second = record(site).attempts
    assert first.decision is not None and first.decision.rule == "transient-io"
    assert first.decision.text == "matched rule `transient-io`: restart, attempt 2 of 3"
    assert first.decision.acted_at == site.clock()
    assert (second.number, second.kind, second.state) == (2, "restart", RunState.PENDING)
    assert second.decision is None
    for _ in range(3):
        site.reconcile()
    assert site.wms.run_for(KEY).restarts == 1 and site.wms.submissions(KEY) == 1


def test_the_backoff_waits_after_the_failure_then_doubles(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path, backoff=10)
    site.apply()
    fail(site, IO)
    site.reconcile()  # the failure is seen at 10:00: due at 10:10
    decision = attempt(site, 1).decision
    assert decision is not None and decision.due_at == "2026-11-30T10:10:00Z" and not decision.done
    assert "after 10 min" in decision.text and site.wms.run_for(KEY).restarts == 0
    site.clock.advance(9)
    site.reconcile()
    assert site.wms.run_for(KEY).restarts == 0 and len(record(site).attempts) == 1
    site.clock.advance(1)
    site.reconcile()
    assert site.wms.run_for(KEY).restarts == 1 and attempt(site, 2).kind == "restart"
    fail(site, IO)  # the restart fails the same way
    site.reconcile()
    second = attempt(site, 2).decision
    assert second is not None and "after 20 min, attempt 3 of 3" in second.text
    assert second.due_at == "2026-11-30T10:30:00Z"


def test_more_memory_raises_only_the_matched_task_and_the_render_keeps_it(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, OOM)
    site.reconcile()
    first, second = record(site).attempts
    assert first.decision is not None
    assert first.decision.text == "matched rule `out-of-memory`: more memory, calibrate 4 GB, attempt 2 of 4"
    # A rescue: its own output run, skipping what the first attempt made, so only the failed quanta run again.
    assert (second.kind, second.memory, second.output_run) == ("rescue", (("calibrate", 4096),),
                                                               "out/camp/step1/visit1/a02")
    assert first.decision.note == ""
    config = yaml.safe_load(Path(second.config_path).read_text())
    assert config["pipetask"]["calibrate"] == {"requestMemory": 4096, "queue": "small"}
    assert config["pipetask"]["isr"] == {"requestMemory": 1536, "queue": "small"}  # untouched
    assert config["requestMemory"] == 1024
    assert "--skip-existing-in out/camp/step1/visit1/a01" in config["extraQgraphOptions"]
    # The ledger holds all it takes to render the same bytes again.
    planned = next(r for r in site.plan.runs if r.key == KEY)
    again = render.render_run(site.campaign, planned, 2, root=site.root, memory=dict(second.memory),
                              rescue_from=(first.output_run,))
    assert render.config_hash(again) == second.config_hash


def test_more_memory_falls_back_to_a_full_attempt_when_no_quantum_succeeded_and_says_so(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    site.wms.finish(KEY, RunState.FAILED, attempt=1, succeeded=0, failed=10, label="calibrate", errors=OOM)
    site.reconcile()
    first, second = record(site).attempts
    assert second.kind == "retry-memory" and second.memory == (("calibrate", 4096),)
    assert first.decision is not None and first.decision.note.startswith("a full attempt: no earlier attempt")
    config = yaml.safe_load(Path(second.config_path).read_text())
    assert "extraQgraphOptions" not in config or "--skip-existing-in" not in config["extraQgraphOptions"]


def test_more_memory_is_capped_by_the_rule_and_the_largest_queue_then_goes_to_review(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, OOM)
    site.reconcile()
    fail(site, OOM, attempt=2)
    site.reconcile()
    third = attempt(site, 3)
    assert third.memory == (("calibrate", 6000),)  # 8192 asked, capped by cap_mb 6000
    config = yaml.safe_load(Path(third.config_path).read_text())
    assert config["pipetask"]["calibrate"] == {"requestMemory": 6000, "queue": "big"}
    fail(site, OOM, attempt=3)
    site.reconcile()
    decision = attempt(site, 3).decision
    assert decision is not None and decision.action == "review" and "memory is at the limit" in decision.text
    assert len(record(site).attempts) == 3 and site.wms.submissions(KEY) == 3


def test_the_largest_queue_caps_memory_below_the_rules_cap(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.campaign = replace(site.campaign, profile=replace(site.campaign.profile,
                                                           queues=QueueMap((("only", 3000),))))
    site.campaign = replace(site.campaign, resources=replace(site.campaign.resources, tasks=(
        ("calibrate", (("requestMemory", 2000),)),)))
    site.apply()
    fail(site, OOM)
    site.reconcile()
    assert attempt(site, 2).memory == (("calibrate", 3000),)


def test_spent_attempts_go_to_review_and_nothing_is_launched(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    for _ in (1, 2):
        fail(site, IO)
        site.reconcile()
    fail(site, IO)
    site.reconcile()
    last = record(site).current
    assert last is not None and last.number == 3 and last.decision is not None
    assert last.decision.action == "review" and last.decision.done
    assert "already made 3 of 3 attempts: sent to review" in last.decision.text
    site.reconcile()
    assert site.wms.run_for(KEY).restarts == 2


def test_an_unmatched_failure_goes_to_review_and_its_issue_says_so(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, ("ValueError: something nobody foresaw",))
    ledger = site.reconcile()
    decision = attempt(site, 1).decision
    assert decision is not None and (decision.action, decision.rule) == ("review", "")
    assert decision.text == "no rule matched: sent to review (an issue, nothing automatic)"
    assert len(record(site).attempts) == 1 and site.wms.run_for(KEY).restarts == 0
    sync(site.campaign, ledger, FolderTracker(tmp_path / "issues"))
    body = next((tmp_path / "issues").glob("*.md")).read_text()
    assert "### Failure rules" in body and "no rule matched: sent to review" in body


def test_a_hold_rule_holds_the_campaign_and_a_retry_waits_until_resumed(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, ("OSError: [Errno 122] Disk quota exceeded",))
    fail(site, IO, key="step1/visit2")
    site.reconcile()
    ledger = site.ledger()
    assert ledger.hold is not None and ledger.hold.by == "failure rule quota"
    waiting = attempt(site, 1, "step1/visit2").decision
    assert waiting is not None and not waiting.done and "on hold" in waiting.note
    assert site.wms.run_for("step1/visit2").restarts == 0
    controls.resume(site.job(), site.ledger(), by="ops", reason="quota raised")
    site.reconcile()
    assert site.wms.run_for("step1/visit2").restarts == 1
    assert site.ledger().hold is None, "a resumed campaign is not held again by the same decision"


def test_a_tolerated_failure_is_accepted_and_the_next_step_starts(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, ("lsst.meas: PSF fit failed for 1 source",))
    site.wms.finish("step1/visit2", RunState.SUCCEEDED)
    ledger = site.reconcile()
    accepted = ledger.disposition(KEY)
    assert accepted is not None and accepted.by == "failure rule tolerate-psf"
    assert "accepted, 1 of 10 quanta failed (10.0% ≤ 20.0%)" in accepted.reason
    assert ledger.run("step2/all") is not None, "the next step started in the same reconcile"


def test_a_look_decides_nothing_and_launches_nothing(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, IO)
    ctx = site.job()
    ctx.may_launch = False  # `campaign status`
    from campaignops.engine import observe

    ledger, _ = observe.refresh(ctx, site.ledger())
    assert autopilot.apply_rules(ctx, site.plan, ledger) is ledger
    assert attempt(site, 1).decision is None and site.wms.run_for(KEY).restarts == 0


def test_autopilot_false_leaves_every_failure_to_people(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path, autopilot=False)
    site.apply()
    fail(site, IO)
    site.reconcile()
    assert attempt(site, 1).decision is None and site.wms.run_for(KEY).restarts == 0


def test_a_job_killed_between_the_decision_and_the_launch_acts_once_next_time(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, OOM)

    def killed(*_: object) -> None:
        raise Crash("killed after the decision was saved")

    monkeypatch.setattr(autopilot, "_act", killed)
    with pytest.raises(Crash):
        site.reconcile()
    decision = attempt(site, 1).decision
    assert decision is not None and decision.action == "more-memory" and not decision.done  # on disk
    monkeypatch.undo()
    for _ in range(3):
        site.reconcile()
    assert site.wms.submissions(KEY) == 2 and len(record(site).attempts) == 2


@pytest.mark.parametrize("crash", ["crash_before_launch", "crash_after_launch"])
def test_a_job_killed_while_launching_more_memory_never_submits_twice(tmp_path: Path, crash: str) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, OOM)
    setattr(site.wms, crash, True)
    with pytest.raises(Crash):
        site.reconcile()
    second = attempt(site, 2)
    assert second.state == RunState.SUBMITTING and attempt(site, 1).decision is not None
    for _ in range(3):
        site.reconcile()
    assert site.wms.submissions(KEY) == 2, "attempt 1 and the one launch of attempt 2"
    assert attempt(site, 2).memory == (("calibrate", 4096),)


def test_the_decision_is_in_the_issue_and_the_status_page_and_the_issue_closes_on_success(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, OOM)
    ledger = site.reconcile()
    tracker = FolderTracker(tmp_path / "issues")
    said = sync(site.campaign, ledger, tracker)
    assert len(said) == 1 and "opened" in said[0] and "attempt 1 failed" in said[0]
    body = next((tmp_path / "issues").glob("*.md")).read_text()
    assert "matched rule `out-of-memory`: more memory, calibrate 4 GB, attempt 2 of 4 (done" in body
    assert "with no command typed" in body
    assert sync(site.campaign, site.ledger(), tracker) == [], "said once"
    ledger = site.ledger()
    view = status_page.campaign_view(site.campaign, ledger, site.plan)
    page = status_page.campaign_page(view, open_issues={})
    assert "more memory, calibrate 4 GB, attempt 2 of 4" in page
    site.wms.finish(KEY, RunState.SUCCEEDED, attempt=2)
    ledger = site.reconcile()
    assert any("closed" in line for line in sync(site.campaign, ledger, tracker))


def test_a_failure_waiting_for_its_backoff_gets_its_issue_then_a_comment_when_the_rules_act(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path, backoff=10)
    site.apply()
    fail(site, IO)
    tracker = FolderTracker(tmp_path / "issues")
    sync(site.campaign, site.reconcile(), tracker)
    body = next((tmp_path / "issues").glob("*.md")).read_text()
    assert "restart after 10 min, attempt 2 of 3 (due 2026-11-30T10:10:00Z)" in body
    site.clock.advance(10)
    said = sync(site.campaign, site.reconcile(), tracker)
    assert said and "failure rules acted on attempt 1" in said[0]
    assert sync(site.campaign, site.ledger(), tracker) == []


def test_a_ledger_with_decisions_round_trips_and_one_without_still_reads(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path)
    site.apply()
    fail(site, OOM)
    ledger = site.reconcile()
    from campaignops.ledger import store

    assert store.load(site.root / "campaigns" / "camp", "camp") == ledger
    text = next((site.root / "campaigns" / "camp" / "ledger").glob("step1.*.yaml")).read_text()
    assert '"decision": {' in text and '"memory": {' in text
    schema = json.loads((ROOT / "schemas" / "ledger.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(text))  # a file whose seal a person removed


def test_two_jobs_merged_keep_the_decision_and_its_action(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path, backoff=10)
    site.apply()
    fail(site, IO)
    from campaignops.engine import observe
    from campaignops.ledger.merge import merge_ledgers

    seen, _ = observe.refresh(site.job(), site.ledger())  # another job saw the failure, decided nothing
    decided = site.reconcile()
    for ours, theirs in ((seen, decided), (decided, seen)):
        merged = merge_ledgers(ours, theirs).run(KEY)
        assert merged is not None and merged.attempts[0].decision == decided.run(KEY).attempts[0].decision  # type: ignore[union-attr]


# ---- autopilot: confirm-new-rules ----------------------------------------------------------------

def test_confirm_new_rules_waits_on_a_rules_first_use_acts_once_confirmed_then_acts_unasked(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path, autopilot="confirm-new-rules")
    assert site.campaign.autopilot and site.campaign.confirm_new_rules
    site.apply()
    fail(site, IO)
    for _ in range(2):  # decided and recorded, not acted, however often reconcile runs
        site.reconcile()
    decision = attempt(site, 1).decision
    assert decision is not None and decision.rule == "transient-io" and not decision.done
    assert decision.awaits_confirmation and "rule `transient-io` has never acted in this campaign" in decision.note
    assert site.wms.run_for(KEY).restarts == 0 and len(record(site).attempts) == 1
    reading = read_run(site.campaign, KEY, record(site), site.ledger())
    assert reading.hint.startswith(f'campaign control confirm camp {KEY} --reason "..." --by <you>')
    page = status_page.campaign_page(status_page.campaign_view(site.campaign, site.ledger(), site.plan), open_issues={})
    assert f"campaign control confirm camp {KEY}" in page and "waits for confirmation" in page
    # a person confirms: recorded in the control log; the next reconcile restarts the run, once
    controls.confirm(site.job(), site.plan, site.ledger(), KEY, by="ana", reason="I/O errors are known today")
    [control] = [c for c in site.ledger().controls if c.action == "confirm"]
    assert (control.by, control.target, control.reason) == ("ana", KEY, "I/O errors are known today")
    assert site.wms.run_for(KEY).restarts == 0
    for _ in range(2):
        site.reconcile()
    first = attempt(site, 1).decision
    assert first is not None and first.done and first.note == ""
    assert site.wms.run_for(KEY).restarts == 1 and len(record(site).attempts) == 2
    with pytest.raises(SubmitError, match="nothing to confirm"):
        controls.confirm(site.job(), site.plan, site.ledger(), KEY, by="ana", reason="again")
    # the other run's failure under the same rule, now used here, acts with nobody asked
    other = "step1/visit2"
    fail(site, IO, key=other)
    site.reconcile()
    assert site.wms.run_for(other).restarts == 1
    assert [c.target for c in site.ledger().controls if c.action == "confirm"] == [KEY]


def test_confirm_new_rules_asks_again_for_another_rule_and_the_default_never_asks(tmp_path: Path) -> None:
    site = site_with_rules(tmp_path / "a", autopilot="confirm-new-rules")
    site.apply()
    fail(site, IO)
    site.reconcile()
    controls.confirm(site.job(), site.plan, site.ledger(), KEY, by="ana", reason="known I/O trouble")
    site.reconcile()
    assert site.wms.run_for(KEY).restarts == 1
    fail(site, OOM, key="step1/visit2")
    site.reconcile()
    waiting = attempt(site, 1, "step1/visit2").decision
    assert waiting is not None and waiting.rule == "out-of-memory" and waiting.awaits_confirmation
    assert site.wms.submissions("step1/visit2") == 1
    default = site_with_rules(tmp_path / "b")
    assert not default.campaign.confirm_new_rules
    default.apply()
    fail(default, IO)
    default.reconcile()
    assert default.wms.run_for(KEY).restarts == 1


def test_a_bad_autopilot_value_is_refused_at_its_line_naming_the_choices(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    spec = tmp_path / "campaigns" / "demo" / "campaign.yaml"
    spec.write_text(spec.read_text() + "autopilot: confirm\n")
    assert main(["--root", str(tmp_path), "validate", str(spec)]) == 1
    out = capsys.readouterr()
    said = out.out + out.err
    line = len(spec.read_text().splitlines())
    assert f"campaigns/demo/campaign.yaml:{line}:" in said and "confirm-new-rules" in said, said
    spec.write_text(spec.read_text().replace("autopilot: confirm\n", "autopilot: confirm-new-rules\n"))
    assert main(["--root", str(tmp_path), "validate", str(spec)]) == 0
