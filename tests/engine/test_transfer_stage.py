"""Transfer stages of a multi-site campaign, in memory: started once the runs they move succeeded, by a job
that may act (never by a look); verified before the next step runs; a failure retried with backoff, then left
to an operator; a job killed inside a start is seen and started again; an unreachable service is UNKNOWN."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Plan
from campaignops.domain.states import RunState, TransferState
from campaignops.engine import observe, submit, transfers
from campaignops.engine.context import Context
from campaignops.ledger import store
from campaignops.ledger.records import Ledger
from campaignops.planning.advance import Verdict, decide
from campaignops.planning.plan import make_plan
from campaignops.ports import TransferProgress
from fakes.engine_site import FRDF, USDF, Clock, two_site_campaign
from fakes.memory_transfer import Crash, MemoryTransfer


class MultiSite:
    """A three-step campaign: step1 at FrDF (two groups), step2 at the central USDF, step3 back at FrDF."""

    def __init__(self, root: Path) -> None:
        self.campaign = two_site_campaign(root)
        self.root = root
        self.wms = InMemoryWms()
        self.clock = Clock()
        self.service = MemoryTransfer()

    @property
    def plan(self) -> Plan:
        return make_plan(self.campaign)

    def job(self, *, look: bool = False) -> Context:
        ctx = Context(root=self.root, campaign=self.campaign, wms=self.wms, workdir=self.root / "work",
                      now=self.clock, say=lambda _: None, transfer_for=lambda source, destination: self.service)
        ctx.may_launch = not look
        return ctx

    def ledger(self) -> Ledger:
        return store.load(self.root / "campaigns" / "camp", "camp")

    def cycle(self, *, look: bool = False) -> Ledger:
        """One status job: refresh, transfers, submit what is ready (a look only refreshes)."""
        ctx = self.job(look=look)
        ledger, _ = observe.refresh(ctx, self.ledger())
        ledger, _ = transfers.advance(ctx, self.plan, ledger, start=not look)
        if not look:
            ledger, _ = submit.apply(ctx, self.plan, ledger)
        return ledger

    def step1_succeeds(self) -> None:
        self.cycle()
        for key in ("step1/visit1", "step1/visit2"):
            self.wms.finish(key, RunState.SUCCEEDED)


@pytest.fixture
def sites(tmp_path: Path) -> MultiSite:
    return MultiSite(tmp_path)


def test_the_plan_places_runs_and_puts_a_transfer_before_each_step_that_needs_another_sites_outputs(
        sites: MultiSite) -> None:
    plan = sites.plan
    assert [(r.key, r.site) for r in plan.runs] == [("step1/visit1", "local-frdf"), ("step1/visit2", "local-frdf"),
                                                    ("step2/all", "local-usdf"), ("step3/all", "local-frdf")]
    assert [(t.key, t.dataset_types, t.sources) for t in plan.transfers] == [
        ("step2@local-usdf<step1@local-frdf", ("visit_summary",), ("step1/visit1", "step1/visit2")),
        ("step3@local-frdf<step2@local-usdf", ("global_calib",), ("step2/all",))]
    # only what the destination's runs read moves: here the campaign's data query
    assert plan.transfers[0].where == "(instrument='X')"


def test_a_transfer_starts_once_its_runs_succeeded_and_the_next_step_waits_for_it(sites: MultiSite) -> None:
    sites.cycle()
    assert sites.service.started == [], "nothing moves before step1 ran"
    sites.wms.finish("step1/visit1", RunState.SUCCEEDED)
    sites.cycle()
    assert sites.service.started == [], "one of step1's runs is still running"
    sites.service.outcomes = [TransferProgress(TransferState.RUNNING, datasets=8, bytes=800, handle="rule-1",
                                               message="rule REPLICATING")]
    sites.wms.finish("step1/visit2", RunState.SUCCEEDED)
    ledger = sites.cycle()
    [request] = sites.service.started
    assert request.source_repo == "/sites/frdf" and request.destination_repo == "/sites/usdf"
    assert request.collections == ("out/camp/step1/visit1/a01", "out/camp/step1/visit2/a01")
    assert request.chain == "out/camp" and request.inputs == ("in",)
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.state == TransferState.RUNNING and record.handle == "rule-1"
    [step2] = [d for d in decide(sites.plan, ledger) if d.run.key == "step2/all"]
    assert step2.verdict == Verdict.WAITING and "transfer of visit_summary from local-frdf RUNNING" in step2.reason
    assert sites.wms.submissions("step2/all") == 0
    sites.service.polls = [TransferProgress(TransferState.DONE, datasets=8, arrived=8, bytes=800, handle="rule-1")]
    ledger = sites.cycle()
    assert sites.service.polled == ["rule-1"]
    done = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert done is not None and done.state == TransferState.DONE and (done.arrived, done.datasets) == (8, 8)
    assert sites.wms.submissions("step2/all") == 1, "step2 runs at the central site once its inputs arrived"
    assert len(sites.service.started) == 1, "a transfer is started once"


def test_a_look_follows_transfers_but_never_starts_one(sites: MultiSite) -> None:
    sites.step1_succeeds()
    sites.cycle(look=True)
    assert sites.service.started == []
    assert sites.ledger().transfers == ()


def test_a_failed_transfer_is_retried_after_its_backoff_then_left_to_an_operator(sites: MultiSite) -> None:
    sites.step1_succeeds()
    failed = TransferProgress(TransferState.FAILED, datasets=8, arrived=7, message="visit_summary: 8 sent, 7 found")
    sites.service.outcomes = [failed, failed, failed]
    ledger = sites.cycle()
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.state == TransferState.FAILED and record.attempt == 1
    assert record.next_try_at == "2026-11-30T10:05:00Z" and "attempt 1 of 3" in record.message
    sites.clock.advance(4)
    sites.cycle()
    assert len(sites.service.started) == 1, "not before its backoff"
    sites.clock.advance(1)
    ledger = sites.cycle()
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert len(sites.service.started) == 2 and record is not None and record.attempt == 2
    assert record.next_try_at == "2026-11-30T10:15:00Z", "the backoff doubles"
    sites.clock.advance(10)
    ledger = sites.cycle()
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.attempt == 3 and record.next_try_at == ""
    assert "gave up after 3 attempts" in record.message
    sites.clock.advance(600)
    sites.cycle()
    assert len(sites.service.started) == 3 and sites.wms.submissions("step2/all") == 0


def test_a_job_killed_inside_a_start_is_seen_and_the_transfer_started_again_once(sites: MultiSite) -> None:
    sites.step1_succeeds()
    sites.service.crash_in_start = True
    with pytest.raises(Crash):
        sites.cycle()
    record = sites.ledger().transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.state == TransferState.RUNNING and not record.handle, "the intent is on disk"
    ledger = sites.cycle()
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.state == TransferState.DONE and record.attempt == 1
    assert len(sites.service.started) == 2
    sites.cycle()
    assert len(sites.service.started) == 2


def test_an_unreachable_transfer_service_is_unknown_never_failed(sites: MultiSite) -> None:
    sites.step1_succeeds()
    sites.service.outcomes = [TransferProgress(TransferState.RUNNING, datasets=8, handle="rule-9")]
    sites.cycle()
    sites.service.polls = [TransferProgress(TransferState.UNKNOWN, message="Rucio answered 503")]
    ledger = sites.cycle()
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.state == TransferState.UNKNOWN and record.handle == "rule-9"
    assert "503" in record.message and record.datasets == 8
    sites.service.polls = [TransferProgress(TransferState.DONE, datasets=8, arrived=8, handle="rule-9")]
    ledger = sites.cycle()
    record = ledger.transfer("step2@local-usdf<step1@local-frdf")
    assert record is not None and record.state == TransferState.DONE and len(sites.service.started) == 1


def test_the_fan_out_back_waits_for_the_central_step_and_moves_to_the_site(sites: MultiSite) -> None:
    sites.step1_succeeds()
    sites.cycle()  # transfer 1 done, step2 submitted
    sites.wms.finish("step2/all", RunState.SUCCEEDED)
    sites.cycle()
    [_, back] = sites.service.started
    assert (back.source_repo, back.destination_repo) == ("/sites/usdf", "/sites/frdf")
    assert back.dataset_types == ("global_calib",) and back.collections == ("out/camp/step2/all/a01",)
    assert sites.wms.submissions("step3/all") == 1


def test_transfers_survive_the_ledger_round_trip_and_a_merge_of_two_jobs(sites: MultiSite) -> None:
    from campaignops.ledger.merge import merge_ledgers

    sites.step1_succeeds()
    ledger = sites.cycle()
    again = store.load(sites.root / "campaigns" / "camp", "camp")
    assert again.transfers == ledger.transfers and ledger.transfers
    older = replace(ledger, transfers=(replace(ledger.transfers[0], state=TransferState.RUNNING, ended_at=""),))
    assert merge_ledgers(older, ledger).transfers == ledger.transfers


def test_a_site_whose_wms_is_unreachable_makes_only_its_runs_unknown(tmp_path: Path) -> None:
    data = {
        "name": "camp", "description": "d", "operator": "op", "profile": "local-usdf",
        "sites": ["local-usdf", "local-frdf"],
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/repo", "inputs": ["in"], "output": "out/{campaign}"},
        "pipeline": "pipelines/p.yaml",
        "steps": [
            {"name": "french", "subsets": ["step1"], "site": "local-frdf"},
            {"name": "central", "subsets": ["step1"], "requires": []},
            {"name": "after", "subsets": ["step2"], "requires": ["central"]},
        ],
    }
    path = tmp_path / "campaigns" / "camp" / "campaign.yaml"
    path.parent.mkdir(parents=True)
    campaign = campaign_from_dict(data, USDF, path=path, site_profiles=(USDF, FRDF))
    us, fr = InMemoryWms(), InMemoryWms()

    def cycle() -> Ledger:
        ctx = Context(root=tmp_path, campaign=campaign, wms=us, workdir=tmp_path / "work", now=Clock(),
                      say=lambda _: None, site_wms={"local-usdf": us, "local-frdf": fr})
        ledger, _ = observe.refresh(ctx, store.load(path.parent, "camp"))
        ledger, _ = submit.apply(ctx, make_plan(campaign), ledger)
        return ledger

    cycle()
    assert fr.submissions("french/all") == 1 and us.submissions("central/all") == 1, "each site's own WMS"
    assert us.submissions("french/all") == 0
    fr.finish("french/all", RunState.RUNNING)
    fr.unreachable = True
    us.finish("central/all", RunState.SUCCEEDED)
    ledger = cycle()
    assert ledger.run("french/all").state == RunState.UNKNOWN  # type: ignore[union-attr]
    assert ledger.run("central/all").state == RunState.SUCCEEDED  # type: ignore[union-attr]
    assert us.submissions("after/all") == 1, "the central site goes on while FrDF cannot be asked"


def test_a_transfer_that_gave_up_opens_one_issue_naming_what_moved_and_closes_it_when_done(
        sites: MultiSite, tmp_path: Path) -> None:
    from campaignops.adapters.folder_tracker import FolderTracker
    from campaignops.engine.notify import sync

    sites.step1_succeeds()
    failed = TransferProgress(TransferState.STUCK, datasets=8, arrived=5, handle="rule-7",
                              message="rule rule-7 STUCK: 3 replicas cannot reach USDF_BUTLER_DISK")
    sites.service.outcomes = [failed, failed, failed]
    tracker = FolderTracker(tmp_path / "issues")
    for _ in range(3):
        ledger = sites.cycle()
        assert sync(sites.campaign, ledger, tracker) == [] or ledger.transfers[0].next_try_at == ""
        sites.clock.advance(30)
    record = ledger.transfers[0]
    assert record.attempt == 3 and record.state == TransferState.STUCK and not record.next_try_at
    [issue] = tracker.issues("camp")
    assert issue.open and "local-frdf → local-usdf" in issue.title
    for fact in ("`visit_summary`", "5 / 8", "/sites/frdf", "/sites/usdf", "rule-7", "USDF_BUTLER_DISK"):
        assert fact in issue.body, fact
    assert sync(sites.campaign, ledger, tracker) == [], "reported once"
    done = replace(record, state=TransferState.DONE, arrived=8, next_try_at="")
    actions = sync(sites.campaign, ledger.with_transfer(done), tracker)
    assert len(actions) == 1 and "closed" in actions[0]
    assert not tracker.issues("camp")[0].open


def test_a_site_butler_that_cannot_be_opened_makes_the_transfer_unknown_and_spends_no_attempt(
        sites: MultiSite) -> None:
    # issue 18.7, with the real Butler-to-Butler adapter: /sites/frdf and /sites/usdf do not exist here
    from campaignops.adapters.transfer.butler import ButlerTransfer

    real = ButlerTransfer()
    sites.step1_succeeds()
    ctx = sites.job()
    ctx.transfer_for = lambda source, destination: real
    ledger, _ = observe.refresh(ctx, sites.ledger())
    for _ in range(2):  # two cycles: asked again each time, never FAILED, never a second attempt
        ledger, _ = transfers.advance(ctx, sites.plan, ledger, start=True)
        record = ledger.transfer("step2@local-usdf<step1@local-frdf")
        assert record is not None and record.state == TransferState.UNKNOWN and record.attempt == 1
        assert "cannot open the source local-frdf (/sites/frdf)" in record.message and not record.next_try_at
    assert sites.ledger().transfer("step2@local-usdf<step1@local-frdf") == record, "recorded as it is"
    [step2] = [d for d in decide(sites.plan, ledger) if d.run.key == "step2/all"]
    assert step2.verdict == Verdict.WAITING and "UNKNOWN" in step2.reason
