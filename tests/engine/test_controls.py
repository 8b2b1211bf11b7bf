"""Operator controls (cancel, hold / resume, skip / accept / reopen, resubmit, supersede) against the
in-memory WMS: each is recorded in the ledger with who and why, and the engine obeys it afterwards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.domain.errors import SubmitError
from campaignops.domain.model import Resources
from campaignops.domain.states import RunState
from campaignops.engine import controls, observe, submit
from campaignops.planning.advance import Verdict, decide
from campaignops.planning.changes import Change, compare
from campaignops.planning.render import spec_fingerprint
from fakes.engine_site import Site, make_site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def _step1(site: Site, **changes: object) -> None:
    """Edit step1 of the spec, as a merged pull request would."""
    steps = tuple(replace(s, **changes) if s.name == "step1" else s for s in site.campaign.steps)  # type: ignore[arg-type]
    site.campaign = replace(site.campaign, steps=steps)


def _finish_step1(site: Site, state: RunState = RunState.SUCCEEDED, failed: int = 0) -> None:
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    site.wms.finish("step1/visit2", state, failed=failed)
    observe.refresh(site.job(), site.ledger())


def test_cancel_a_run_stops_it_through_the_wms_and_records_who_and_why(site: Site) -> None:
    site.apply()
    ledger = controls.cancel(site.job(), site.plan, site.ledger(), "step1/visit1", by="alice", reason="wrong config")
    assert site.wms.run_for("step1/visit1").cancels == 1 and site.wms.run_for("step1/visit2").cancels == 0
    record = ledger.run("step1/visit1")
    assert record is not None and record.state == RunState.CANCELLED
    assert "cancelled by alice: wrong config" in record.current.message  # type: ignore[union-attr]
    [control] = site.ledger().controls
    assert (control.action, control.target, control.by, control.reason) == ("cancel", "step1/visit1", "alice",
                                                                            "wrong config")
    # Cancelled is final: a later look does not bring it back, and a second cancel has nothing to do.
    site.status()
    assert site.state("step1/visit1") == RunState.CANCELLED
    controls.cancel(site.job(), site.plan, site.ledger(), "step1/visit1", by="alice", reason="again")
    assert site.wms.run_for("step1/visit1").cancels == 1


def test_cancel_a_step_or_the_campaign_stops_every_active_run_of_it(site: Site) -> None:
    site.apply()
    controls.cancel(site.job(), site.plan, site.ledger(), "step1", by="bob", reason="stack is broken")
    assert {site.state("step1/visit1"), site.state("step1/visit2")} == {RunState.CANCELLED}
    with pytest.raises(Exception, match="no step or run 'step9'"):
        controls.cancel(site.job(), site.plan, site.ledger(), "step9", by="bob", reason="typo")


def test_a_cancel_the_wms_cannot_do_leaves_the_run_as_it_was_and_says_so(site: Site) -> None:
    site.apply()
    site.wms.unreachable = True
    with pytest.raises(SubmitError, match="could not be cancelled"):
        controls.cancel(site.job(), site.plan, site.ledger(), "campaign", by="bob", reason="stop all")
    assert site.state("step1/visit1") == RunState.PENDING  # never recorded CANCELLED while still running


def test_hold_submits_nothing_new_but_still_observes_and_resume_goes_on(site: Site) -> None:
    site.apply()
    controls.hold(site.job(), site.ledger(), by="carol", reason="butler maintenance")
    _finish_step1(site)
    site.status()  # observes; would submit step2, but the campaign is on hold
    assert site.state("step1/visit1") == RunState.SUCCEEDED and site.ledger().run("step2/all") is None
    [held] = [d for d in decide(site.plan, site.ledger()) if d.run.key == "step2/all"]
    assert held.verdict == Verdict.ON_HOLD and "butler maintenance" in held.reason and "carol" in held.reason
    with pytest.raises(SubmitError, match="on hold"):
        controls.resubmit(site.job(), site.plan, site.ledger(), "step1/visit1", by="carol", reason="again")
    controls.resume(site.job(), site.ledger(), by="carol")
    site.status()
    assert site.wms.submissions("step2/all") == 1
    assert [c.action for c in site.ledger().controls] == ["hold", "resume"]


def test_a_retry_is_refused_while_the_campaign_is_on_hold(site: Site) -> None:
    site.apply()
    _finish_step1(site, RunState.FAILED, failed=3)
    controls.hold(site.job(), site.ledger(), by="carol", reason="investigating")
    with pytest.raises(SubmitError, match="on hold"):
        submit.retry(site.job(), site.plan, site.ledger(), "step1/visit2")
    assert site.wms.run_for("step1/visit2").restarts == 0


def test_skip_an_unsubmitted_run_never_submits_it_and_later_steps_proceed(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    controls.settle(site.job(), site.plan, site.ledger(), "step1/visit2", "skip", by="dan", reason="bad visit")
    site.apply()
    assert site.wms.submissions("step1/visit2") == 0
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    site.status()
    assert site.wms.submissions("step2/all") == 1
    [d] = [d for d in decide(site.plan, site.ledger()) if d.run.key == "step1/visit2"]
    assert d.verdict == Verdict.SKIPPED and "dan" in d.reason


def test_accept_a_failed_run_unblocks_the_next_step_and_reopen_blocks_it_again(site: Site) -> None:
    site.apply()
    _finish_step1(site, RunState.FAILED, failed=2)
    [blocked] = [d for d in decide(site.plan, site.ledger()) if d.run.key == "step2/all"]
    assert blocked.verdict == Verdict.BLOCKED
    controls.settle(site.job(), site.plan, site.ledger(), "step1/visit2", "accept", by="eve", reason="known bad CCD")
    assert [d.verdict for d in decide(site.plan, site.ledger()) if d.run.key == "step2/all"] == [Verdict.SUBMIT]
    controls.settle(site.job(), site.plan, site.ledger(), "step1/visit2", "reopen", by="eve", reason="")
    assert [d.verdict for d in decide(site.plan, site.ledger()) if d.run.key == "step2/all"] == [Verdict.BLOCKED]


def test_settling_refuses_what_cannot_be_meant(site: Site) -> None:
    with pytest.raises(SubmitError, match="never submitted: there is nothing to accept; skip it instead"):
        controls.settle(site.job(), site.plan, site.ledger(), "step1/visit1", "accept", by="x", reason="why not")
    site.apply()
    with pytest.raises(SubmitError, match="cancel it first"):
        controls.settle(site.job(), site.plan, site.ledger(), "step1/visit1", "skip", by="x", reason="stop it")
    with pytest.raises(SubmitError, match="say why with --reason"):
        controls.hold(site.job(), site.ledger(), by="x", reason=" ")


def test_resubmit_makes_a_fresh_attempt_with_a_new_output_run(site: Site) -> None:
    site.apply()
    with pytest.raises(SubmitError, match="cancel it first"):
        controls.resubmit(site.job(), site.plan, site.ledger(), "step1/visit2", by="fay", reason="fixed config")
    _finish_step1(site, RunState.FAILED, failed=10)
    ledger = controls.resubmit(site.job(), site.plan, site.ledger(), "step1/visit2", by="fay", reason="fixed config")
    record = ledger.run("step1/visit2")
    assert record is not None and [a.kind for a in record.attempts] == ["submit", "resubmit"]
    assert record.attempts[0].output_run != record.attempts[1].output_run
    assert record.attempts[1].output_run.endswith("/a02") and site.wms.submissions("step1/visit2") == 2


def test_a_spec_hold_is_recorded_with_the_commit_author_and_lifted_when_removed(site: Site) -> None:
    site.apply()
    site.campaign = replace(site.campaign, hold="waiting for DM-12345")
    ledger = controls.from_spec(site.job(), site.plan, site.ledger(), by="Gil <gil@example.org>")
    assert ledger.hold is not None and ledger.hold.by == "Gil <gil@example.org>" and ledger.hold.source == "spec"
    controls.from_spec(site.job(), site.plan, site.ledger(), by="Gil <gil@example.org>")
    assert len(site.ledger().controls) == 1  # recorded once, not on every look
    with pytest.raises(SubmitError, match="remove it from"):
        controls.resume(site.job(), site.ledger(), by="someone")
    site.campaign = replace(site.campaign, hold=None)
    ledger = controls.from_spec(site.job(), site.plan, site.ledger(), by="Hal")
    assert ledger.hold is None and ledger.controls[-1].action == "resume"


def test_spec_skip_and_accept_are_recorded_once_and_reopened_when_removed(site: Site) -> None:
    _step1(site, skip=(("visit2", "detector dead"),))
    ledger = controls.from_spec(site.job(), site.plan, site.ledger(), by="Ida")
    assert ledger.disposition("step1/visit2") is not None
    site.apply()
    assert site.wms.submissions("step1/visit2") == 0
    controls.from_spec(site.job(), site.plan, site.ledger(), by="Ida")
    assert len(site.ledger().controls) == 1
    _step1(site, skip=())
    ledger = controls.from_spec(site.job(), site.plan, site.ledger(), by="Ida")
    assert ledger.disposition("step1/visit2") is None and ledger.controls[-1].action == "reopen"


def test_supersede_starts_a_new_attempt_with_the_changed_spec_once_the_run_has_ended(site: Site) -> None:
    site.apply()
    more = Resources((("requestMemory", 8192),))
    _step1(site, resources=more)
    changes = compare(site.plan, site.ledger(), lambda r: spec_fingerprint(site.campaign, r))
    assert {c.key: c.change for c in changes}["step1/visit1"] == Change.CHANGED
    _step1(site, resources=more, supersede=(("visit1", "raise memory after OOM"),))
    ctx = site.job()
    controls.from_spec(ctx, site.plan, site.ledger(), by="Jo")
    assert site.wms.submissions("step1/visit1") == 1  # still running: it waits for its end
    site.wms.finish("step1/visit1", RunState.FAILED, failed=1)
    observe.refresh(site.job(), site.ledger())
    ledger = controls.from_spec(site.job(), site.plan, site.ledger(), by="Jo")
    record = ledger.run("step1/visit1")
    assert record is not None and [a.kind for a in record.attempts] == ["submit", "supersede"]
    assert ledger.controls[-1].action == "supersede" and "raise memory" in ledger.controls[-1].reason
    changes = compare(site.plan, ledger, lambda r: spec_fingerprint(site.campaign, r))
    assert {c.key: c.change for c in changes}["step1/visit1"] == Change.UNCHANGED
    controls.from_spec(site.job(), site.plan, site.ledger(), by="Jo")
    assert site.wms.submissions("step1/visit1") == 2  # the supersede is done once


def test_a_look_records_spec_controls_but_never_launches_a_supersede(site: Site) -> None:
    site.apply()
    _finish_step1(site, RunState.FAILED, failed=1)
    _step1(site, resources=Resources((("requestMemory", 8192),)), supersede=(("*", "more memory"),))
    ctx = site.job()
    ctx.may_launch = False
    controls.from_spec(ctx, site.plan, site.ledger(), by="Kim")
    assert site.wms.submissions("step1/visit1") == 1 and site.wms.submissions("step1/visit2") == 1


def test_a_retry_asked_by_a_person_is_in_the_control_log_with_who_and_why_and_a_rules_retry_is_not(
        site: Site) -> None:
    site.apply()
    _finish_step1(site, RunState.FAILED, failed=10)
    submit.retry(site.job(), site.plan, site.ledger(), "step1/visit2")  # as the failure rules do: no `by`
    site.wms.finish("step1/visit2", RunState.FAILED, failed=10)
    observe.refresh(site.job(), site.ledger())
    submit.retry(site.job(), site.plan, site.ledger(), "step1/visit2", 2.0, by="gus", reason="out of memory")
    ledger = site.ledger()  # read back from its files: the schema takes the new actions
    assert [(c.action, c.target, c.by, c.reason) for c in ledger.controls] == [
        ("more-memory", "step1/visit2", "gus", "out of memory")]
    record = ledger.run("step1/visit2")
    assert record is not None and [a.kind for a in record.attempts] == ["submit", "restart", "retry-memory"]
    assert ledger.disposition("step1/visit2") is None, "a retry settles nothing"
