"""A runner per facility, in memory: a job scoped to one site (`--site`) launches, follows, retries and transfers
only what is its own site's; each site has its own owner; the ledger merges the runners' per-site records; a
facility whose runner stopped shows as silent on its page, its runs not followed (never FAILED).
The three runners on one machine, each seeing only its site's Butler: tests/demo/test_three_site_runners.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.domain.errors import SubmitError
from campaignops.domain.model import Plan, Profile
from campaignops.domain.scope import Scope, scope_of
from campaignops.domain.states import RunState
from campaignops.engine import cycle, submit
from campaignops.engine.context import Context
from campaignops.engine.ownership import NotOwner, claim, take_over
from campaignops.ledger import store
from campaignops.ledger.merge import merge_ledgers
from campaignops.ledger.records import Control, Ledger
from campaignops.planning.grouping import frozen_of, site_part
from campaignops.planning.plan import make_plan
from campaignops.views.status_page import campaign_view, site_view
from fakes.engine_site import USDF, Clock, two_site_campaign
from fakes.memory_transfer import MemoryTransfer


class TwoSites:
    """step1 at FrDF (two groups), step2 at the central USDF (a transfer from FrDF before it), step3 at FrDF."""

    def __init__(self, root: Path, usdf: Profile = USDF) -> None:
        self.campaign = two_site_campaign(root, usdf)
        self.root = root
        self.wms = InMemoryWms()
        self.clock = Clock()
        self.service = MemoryTransfer()

    @property
    def plan(self) -> Plan:
        return make_plan(self.campaign)

    def job(self, site: str) -> Context:
        """A status job of the runner of `site` ("" : the one runner of every site), its own work directory."""
        return Context(root=self.root, campaign=self.campaign, wms=self.wms, workdir=self.root / f"work-{site}",
                       now=self.clock, say=lambda _: None, scope=Scope(site), runner=f"host:{site or 'all'}",
                       transfer_for=lambda source, destination: self.service)

    def ledger(self) -> Ledger:
        return store.load(self.root / "campaigns" / "camp", "camp")

    def cycle(self, site: str) -> cycle.Cycle:
        return cycle.run(self.job(site), self.plan, self.ledger(), act=True, by="op")


@pytest.fixture
def sites(tmp_path: Path) -> TwoSites:
    return TwoSites(tmp_path)


def test_each_runner_launches_and_follows_only_the_runs_placed_at_its_site(sites: TwoSites) -> None:
    assert sites.cycle("local-usdf").submitted == 0  # step1 is FrDF's
    assert sites.wms.log == []
    done = sites.cycle("FrDF")  # a facility name serves as well as its profile's
    assert done.submitted == 2
    assert sorted(d.parent.name for _, d in sites.wms.log) == ["visit1", "visit2"]
    assert all(d.is_relative_to(sites.root / "work-FrDF") for _, d in sites.wms.log)
    for key in ("step1/visit1", "step1/visit2"):
        sites.wms.finish(key, RunState.SUCCEEDED)
    sites.cycle("local-usdf")
    assert sites.wms.observed == 0 and {r.state for r in sites.ledger().runs} == {RunState.PENDING}
    sites.cycle("local-frdf")
    assert sites.wms.observed == 2 and {r.state for r in sites.ledger().runs} == {RunState.SUCCEEDED}


def test_a_transfer_is_started_by_its_destinations_runner_only_when_that_runner_reaches_the_source(
        tmp_path: Path) -> None:
    sites = TwoSites(tmp_path)
    sites.cycle("local-frdf")
    for key in ("step1/visit1", "step1/visit2"):
        sites.wms.finish(key, RunState.SUCCEEDED)
    sites.cycle("local-frdf")
    sites.cycle("local-usdf")
    assert sites.service.started == [] and sites.ledger().transfers == ()  # USDF's profile reaches no other Butler
    reaching = TwoSites(tmp_path, replace(USDF, reaches=("local-frdf",)))
    reaching.cycle("local-frdf")
    assert reaching.service.started == []  # the source's runner never starts it
    done = reaching.cycle("local-usdf")
    [request] = reaching.service.started
    assert (request.source_site, request.destination_site) == ("local-frdf", "local-usdf")
    assert done.submitted == 1 and reaching.wms.submissions("step2/all") == 1  # the transfer verified: step2 runs


def test_retrying_a_run_of_another_site_is_refused_naming_its_runner(sites: TwoSites) -> None:
    sites.cycle("local-frdf")
    sites.wms.finish("step1/visit1", RunState.FAILED)
    sites.cycle("local-frdf")
    with pytest.raises(SubmitError, match=r"step1/visit1 runs at local-frdf; this job follows site local-usdf only: "
                                          r"run it on the local-frdf runner \(`--site local-frdf`\)"):
        submit.retry(sites.job("local-usdf"), sites.plan, sites.ledger(), "step1/visit1", 2.0)


def test_site_scope_comes_from_the_flag_else_the_runner_variable_else_every_site() -> None:
    assert scope_of("FrDF", {"CAMPAIGNOPS_SITE": "USDF"}) == Scope("FrDF")
    assert scope_of(None, {"CAMPAIGNOPS_SITE": "USDF"}) == Scope("USDF")
    assert scope_of(None, {}).everywhere


def test_each_site_has_its_own_owner_and_a_whole_campaign_runner_and_a_site_runner_refuse_each_other() -> None:
    ledger = Ledger("camp")
    ledger = claim(ledger, "a:/w", by="x", now="t1", sites=("local-usdf",))
    ledger = claim(ledger, "b:/w", by="x", now="t2", sites=("local-frdf",))
    assert claim(ledger, "b:/w", by="x", now="t3", sites=("local-frdf",)) is ledger  # already its owner
    assert {t: c.runner for t, c in ledger.site_owners().items()} == {"site:local-usdf": "a:/w",
                                                                       "site:local-frdf": "b:/w"}
    with pytest.raises(NotOwner, match=r"its runs at local-frdf are launched from b:/w .*"
                                       r"`campaign ledger takeover camp --site local-frdf"):
        claim(ledger, "c:/w", by="x", now="t4", sites=("local-frdf",))
    with pytest.raises(NotOwner, match=r"the runs at local-frdf are launched from b:/w .* give it `--site`"):
        claim(ledger, "a:/w", by="x", now="t4")  # one runner for every site would launch FrDF's runs too
    whole = claim(Ledger("camp"), "a:/w", by="x", now="t1")
    with pytest.raises(NotOwner, match=r"its runs \(every site, local-frdf included\) are launched from a:/w"):
        claim(whole, "b:/w", by="x", now="t2", sites=("local-frdf",))
    moved = take_over(whole, "b:/w", by="op", reason="FrDF gets its own runner", now="t3", sites=("local-frdf",))
    assert claim(moved, "b:/w", by="x", now="t4", sites=("local-frdf",)) is moved
    assert moved.owner_of("site:local-frdf") is not None and "launched from a:/w until now" in \
        moved.owner_of("site:local-frdf").reason  # type: ignore[union-attr]


def test_the_runners_per_site_records_merge_without_loss() -> None:
    usdf = (Ledger("camp").with_frozen_groups(site_part("step1", "local-usdf"), (("local-usdf", "visit IN (1)", 1),))
            .with_control(Control("t1", "bot", "seen", "site:USDF", "alive", runner="a:/w"))
            .with_control(Control("t3", "bot", "seen", "site:USDF", "alive", runner="a:/w")))
    frdf = (Ledger("camp").with_frozen_groups(site_part("step1", "local-frdf"), ())  # FrDF holds none of it
            .with_control(Control("t2", "bot", "seen", "site:FrDF", "alive", runner="b:/w")))
    merged = merge_ledgers(usdf, frdf)
    assert dict(merged.frozen_groups) == {"step1@local-frdf": (), "step1@local-usdf": (("local-usdf", "visit IN (1)", 1),)}
    assert [(c.target, c.at) for c in merged.controls] == [("site:FrDF", "t2"), ("site:USDF", "t3")]  # latest each
    assert merged == merge_ledgers(frdf, usdf)


def test_a_residency_step_waits_for_the_sites_whose_runner_has_not_frozen_its_share(tmp_path: Path) -> None:
    sites = TwoSites(tmp_path)
    step = replace(sites.campaign.step("step1"), site=None,
                   split=replace(sites.campaign.step("step1").split, by="residency"))
    shares = {"step1@local-frdf": (("local-frdf", "visit IN (3, 4)", 2),)}
    assert frozen_of(sites.campaign, step, shares) == (("pending-query.local-usdf", "", 0),
                                                       ("local-frdf", "visit IN (3, 4)", 2))
    assert frozen_of(sites.campaign, step, {}) is None


def test_a_silent_runner_shows_on_its_site_page_with_its_runs_not_followed_never_failed(sites: TwoSites) -> None:
    sites.cycle("local-frdf")  # FrDF's runner submits step1 at 10:00, then stops
    ledger = sites.ledger()
    view = [campaign_view(sites.campaign, ledger)]
    later = site_view("FrDF", view, open_issues={}, now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    assert "silent" not in later  # two hours: not yet
    silent = site_view("FrDF", view, open_issues={}, now=datetime(2026, 11, 30, 13, 0, tzinfo=UTC))
    assert "**Runner silent since 2026-11-30 10:00 UTC**" in silent
    assert "| `step1/visit1` | not followed (runner silent since 2026-11-30 10:00 UTC; last seen" in silent
    assert "FAILED" not in silent and "failed" not in silent.split("## Failing runs")[1].split("##")[0].lower().replace(
        "none.", "")


def test_each_facilitys_notify_keeps_the_issues_of_its_own_runs_only(sites: TwoSites, tmp_path: Path) -> None:
    """Every facility's status job runs `campaign notify`: only the runner of the failed run's site reports it,
    so two facilities' jobs never race to open the same issue."""
    from campaignops.adapters.folder_tracker import FolderTracker
    from campaignops.engine.notify import sync

    sites.cycle("local-frdf")
    sites.wms.finish("step1/visit1", RunState.FAILED, failed=2)
    sites.cycle("local-frdf")
    tracker = FolderTracker(tmp_path / "issues")
    assert sync(sites.campaign, sites.ledger(), tracker, scope=Scope("USDF")) == []  # not USDF's run
    [opened] = sync(sites.campaign, sites.ledger(), tracker, scope=Scope("FrDF"))
    assert opened.startswith("camp step1/visit1: opened")
    assert sync(sites.campaign, sites.ledger(), tracker, scope=Scope("FrDF")) == []  # once
    assert len(sync(sites.campaign, sites.ledger(), FolderTracker(tmp_path / "all"))) == 1  # one runner: all sites
