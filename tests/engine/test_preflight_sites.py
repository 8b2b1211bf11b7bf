"""The preflight of a multi-site campaign on the 3×3 demo's real site Butlers (runs through the in-memory WMS, no
bps): a raw removed from FrDF's Butler is named, with its site, on the check and its issue; FrDF's share of
step 1 waits while the other sites start; with `missing: exclude` FrDF starts without that data ID, recorded in
the ledger and on the campaign page, and its run's data query leaves it out (the Butler agrees)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.adapters.butler import ButlerDataIds, ButlerMeasurements
from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.engine import cycle
from campaignops.engine.context import Context
from campaignops.engine.notify import sync
from campaignops.ledger import store
from campaignops.planning.plan import make_plan
from campaignops.views.checks import page_section
from fakes.engine_site import PROFILE, Clock

pytestmark = [pytest.mark.lsst]

MISSING = "detector=1 instrument=DemoCam visit=1201"  # the raw removed from FrDF's Butler


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three site Butlers of the 3×3 demo, FrDF's without the raw of visit 1201, detector 1."""
    from lsst.daf.butler import Butler

    from campaignops.demo import DEFAULTS_COLLECTION
    from campaignops.demo.sites import build_sites

    root = tmp_path_factory.mktemp("sites")
    build_sites(root)
    butler = Butler.from_config(str(root / "frdf" / "repo"), writeable=True)
    try:
        ref = butler.find_dataset("demo_raw", collections=DEFAULTS_COLLECTION, instrument="DemoCam", visit=1201,
                                  detector=1)
        butler.pruneDatasets([ref], disassociate=True, unstore=True, purge=True)
    finally:
        butler.close()
    return root


class ThreeSites:
    """demo-3x3's first two steps: step1 split by residency (one run per site, on its own visits), step2 after."""

    def __init__(self, root: Path, sites: Path, name: str, **preflight: Any) -> None:
        profiles = tuple(replace(PROFILE, name=f"local-{s}", site=s.upper(), butler_repo=str(sites / s / "repo"))
                         for s in ("usdf", "frdf", "ukdf"))
        data = {
            "name": name, "description": "d", "operator": "op", "profile": "local-usdf",
            "sites": [p.name for p in profiles], "stack": {"tag": "local"},
            "butler": {"repo": str(sites / "usdf" / "repo"), "inputs": ["DemoCam/defaults"], "output": "demo/{campaign}"},
            "pipeline": "scripts/campaignops/demo/pipeline_sites.yaml", "data_query": "instrument='DemoCam'",
            "preflight": {"inputs": ["demo_raw"], **preflight},
            "steps": [{"name": "step1", "subsets": ["step1"],
                       "split": {"by": "residency", "dimension": "visit", "datasets": ["demo_raw"]}},
                      {"name": "step2", "subsets": ["step2"]}],
        }
        path = root / "campaigns" / name / "campaign.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        self.root, self.wms, self.clock, self.said = root, InMemoryWms(), Clock(), list[str]()
        self.campaign = campaign_from_dict(data, profiles[0], path=path, site_profiles=profiles)
        ids = ButlerDataIds(sites / "usdf" / "repo")
        try:
            self.plan = make_plan(self.campaign, ids_source=ids)  # each site's resident visits, asked once
        finally:
            ids.close()

    def reconcile(self) -> Any:
        self.clock.advance(5)
        ctx = Context(root=self.root, campaign=self.campaign, wms=self.wms, workdir=self.root / "work",
                      now=self.clock, say=self.said.append,
                      measurements=lambda site: ButlerMeasurements(self.campaign.repo_at(site)))
        ledger = store.load(self.root / "campaigns" / self.campaign.name, self.campaign.name)
        return cycle.run(ctx, self.plan, ledger, act=True, by="the spec")


def test_a_raw_missing_at_one_site_is_named_with_its_site_and_only_that_sites_runs_wait(
        tmp_path: Path, sites: Path) -> None:
    camp = ThreeSites(tmp_path, sites, "demo-3x3")
    assert [c.ref for c in camp.campaign.preflight] == [
        "preflight/demo_raw@local-usdf", "preflight/demo_raw@local-frdf", "preflight/demo_raw@local-ukdf"]

    done = camp.reconcile()
    frdf = done.ledger.check("preflight/demo_raw@local-frdf")
    assert frdf.verdict == "fail" and (frdf.value, frdf.expected) == (7.0, 8.0)
    assert frdf.why == f"1 of 8 data IDs have no demo_raw in DemoCam/defaults at local-frdf: {MISSING}"
    for other in ("usdf", "ukdf"):  # the other sites hold all of theirs: passed and frozen there
        record = done.ledger.check(f"preflight/demo_raw@local-{other}")
        assert (record.verdict, record.value, record.tagged) == ("pass", 8.0, "demo/demo-3x3/preflight-inputs")

    assert done.ledger.run("step1/local-frdf") is None, "nothing is launched at the site missing an input"
    assert done.ledger.run("step1/local-usdf") is not None and done.ledger.run("step1/local-ukdf") is not None
    waiting = next(d for d in done.decisions if d.run.key == "step1/local-frdf")
    assert waiting.verdict.value == "waiting" and MISSING in waiting.reason and "local-frdf" in waiting.reason

    issues = FolderTracker(tmp_path / "issues")
    sync(camp.campaign, done.ledger, issues, plan=camp.plan)
    [issue] = [i for i in issues.issues("demo-3x3") if "check:" in i.key]
    assert "preflight/demo_raw@local-frdf" in issue.title and MISSING in issue.body
    assert "Step 1 waits at local-frdf" in issue.body

    again = camp.reconcile()  # still missing: still waiting, the same record
    assert again.ledger.run("step1/local-frdf") is None
    assert again.ledger.check("preflight/demo_raw@local-frdf") == frdf


def test_with_missing_exclude_the_site_starts_without_the_missing_data_id_recorded(
        tmp_path: Path, sites: Path) -> None:
    from lsst.daf.butler import Butler

    camp = ThreeSites(tmp_path, sites, "demo-3x3-x", missing="exclude")
    done = camp.reconcile()
    frdf = done.ledger.check("preflight/demo_raw@local-frdf")
    assert frdf.verdict == "pass" and frdf.excluded == (MISSING,) and frdf.at == camp.clock()
    assert f"are excluded: {MISSING}" in frdf.why
    stored = store.load(tmp_path / "campaigns" / "demo-3x3-x", "demo-3x3-x").check("preflight/demo_raw@local-frdf")
    assert stored == frdf, "the exclusion is in the ledger on disk"

    run = done.ledger.run("step1/local-frdf")
    assert run is not None, "the site goes on without the missing data ID"
    assert run.data_query.endswith("AND (NOT ((detector=1 AND instrument='DemoCam' AND visit=1201)))")
    assert "NOT" not in done.ledger.run("step1/local-usdf").data_query, "other sites' queries are untouched"
    butler = Butler.from_config(str(sites / "frdf" / "repo"))
    try:  # the query the run is rendered with is one the Butler reads, and it leaves exactly that data ID out
        selected = {(d["visit"], d["detector"]) for d in butler.query_data_ids(
            ["visit", "detector"], where=run.data_query, limit=None, explain=False)}
    finally:
        butler.close()
    assert (1201, 1) not in selected and len(selected) == 7

    page = "\n".join(page_section(camp.campaign, done.ledger))
    assert f"Excluded by `preflight/demo_raw@local-frdf` at {frdf.at}" in page and f"`{MISSING}`" in page
    assert "7/8 data IDs, 1 excluded" in page
