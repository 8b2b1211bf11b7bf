"""The 3×3 campaign end to end on the embedded default (`make demo-multisite`): three real site Butlers, real bps
at every site, real Butler-to-Butler transfers, the injected FrDF failure restarted by the failure rules, and the
central Butler holding the coadds of all six patches at the end — counted with the Butler, not read off our
ledger. Then `campaign validate` and `campaign plan` on that record, as an operator would run them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import warm
from campaignops.demo.multisite import CAMPAIGN, run_multisite
from campaignops.demo.sites import CENTRAL_SITE, SITE_PATCHES, SITE_VISITS, SITES
from campaignops.domain.states import RunState, TransferState
from campaignops.ledger import store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lsst, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("three")
    said: list[str] = []
    assert run_multisite(ROOT, where, poll=1.0, say=said.append) == 0, "\n".join(said)
    (where / "demo.log").write_text("\n".join(said))
    return where


def test_every_run_succeeds_at_its_site_and_every_transfer_is_verified(demo: Path) -> None:
    ledger = store.load(demo / "control-3x3" / "campaigns" / CAMPAIGN, CAMPAIGN)
    assert {r.key: r.state for r in ledger.runs} == {
        **{f"{step}/{site}": RunState.SUCCEEDED for step in ("step1", "step2", "step3")
           for site in ("local-usdf", "local-frdf", "local-ukdf")},
        "step2c/all": RunState.SUCCEEDED, "step4/all": RunState.SUCCEEDED}
    moved = {t.key: (t.state, t.arrived, t.datasets) for t in ledger.transfers}
    assert moved == {
        "step2c@local-usdf<step2@local-frdf": (TransferState.DONE, 2, 2),
        "step2c@local-usdf<step2@local-ukdf": (TransferState.DONE, 2, 2),
        "step3@local-frdf<step2c@local-usdf": (TransferState.DONE, 2, 2),  # only FrDF's own two visits
        "step3@local-ukdf<step2c@local-usdf": (TransferState.DONE, 2, 2),
        "step4@local-usdf<step3@local-frdf": (TransferState.DONE, 4, 4),  # 2 patches × 2 bands
        "step4@local-usdf<step3@local-ukdf": (TransferState.DONE, 4, 4)}
    frdf = ledger.run("step1/local-frdf")
    assert frdf is not None and frdf.attempts[0].decision is not None
    assert "matched rule `transient-io`" in frdf.attempts[0].decision.text, "restarted by the rules, not by hand"
    assert [a.kind for a in frdf.attempts] == ["submit", "restart"]
    assert all(len(r.attempts) == 1 for r in ledger.runs if r.key != "step1/local-frdf"), "nothing else failed"


def test_the_central_butler_holds_the_coadds_of_all_six_patches(demo: Path) -> None:
    from lsst.daf.butler import Butler

    butler = Butler.from_config(str(demo / "sites" / "usdf" / "repo"))
    try:
        coadds = butler.query_datasets("demo_coadd", collections="demo/demo-3x3", limit=None, explain=False)
        patches = sorted({(ref.dataId["patch"], ref.dataId["band"]) for ref in coadds})
        summary = butler.query_datasets("demo_tract_summary", collections="demo/demo-3x3", explain=False)
    finally:
        butler.close()
    assert patches == [(p, b) for p in range(6) for b in ("g", "r")]
    assert len(summary) == 1
    frdf = Butler.from_config(str(demo / "sites" / "frdf" / "repo"))
    try:
        calibs = frdf.query_datasets("demo_global_calib", collections="demo/demo-3x3", explain=False)
        assert sorted(ref.dataId["visit"] for ref in calibs) == [1201, 1202], "the fan-out sent FrDF its visits only"
    finally:
        frdf.close()


def test_each_site_calibrated_and_coadded_exactly_its_own_data_and_the_summary_counts_every_site(demo: Path) -> None:
    """Read in each site's Butler: its visits' global calibrations (the central site: every visit), its own
    patches' coadds built from calibrated visits of its own, and at the central site a tract summary of all."""
    from lsst.daf.butler import Butler

    for site in SITES:
        butler = Butler.from_config(str(demo / "sites" / site / "repo"))
        try:
            calibs = butler.query_datasets("demo_global_calib", collections="demo/demo-3x3", limit=None)
            own = set(SITE_VISITS[site])
            expected = own if site != CENTRAL_SITE else {v for vs in SITE_VISITS.values() for v in vs}
            assert {int(r.dataId["visit"]) for r in calibs} == expected
            coadds = [r for r in butler.query_datasets("demo_coadd", collections="demo/demo-3x3", limit=None)
                      if int(r.dataId["patch"]) in SITE_PATCHES[site]]
            assert len(coadds) == 4, "two patches x two bands"
            for ref in coadds:
                coadd = butler.get(ref)
                assert coadd["calibrated_visits"] == coadd["visits"] and set(coadd["visits"]) <= own
            if site == CENTRAL_SITE:
                (summary,) = butler.query_datasets("demo_tract_summary", collections="demo/demo-3x3")
                got = butler.get(summary)
                assert {k: v for k, v in got.items() if k != "mean_flux"} == {
                    "patches": [0, 1, 2, 3, 4, 5], "bands": ["g", "r"], "n_coadds": 12, "n_visit_inputs": 12}
                assert got["mean_flux"] > 0, "the tract metric the campaign's checks read is measured from the coadds"
        finally:
            butler.close()


def test_each_site_page_lists_only_its_runs_and_the_record_validates_and_plans(demo: Path) -> None:
    control = demo / "control-3x3"
    fr = (control / "sites" / "FrDF.md").read_text()
    assert "| [demo-3x3](../campaigns/demo-3x3/STATUS.md) | local-frdf | finished | 3/3 submitted | 0 | 0 |" in fr
    page = (control / "campaigns" / CAMPAIGN / "STATUS.md").read_text()
    assert page.count("| DONE | ") == 6 and "at each site" in page
    env = {**os.environ, "CAMPAIGNOPS_WORKDIR": str(demo / "work-3x3")}

    def campaign(*args: str) -> str:
        proc = subprocess.run([*warm.campaign(), "--root", str(control), *args],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    assert campaign("validate").startswith("OK:")
    plan = campaign("plan", CAMPAIGN)
    assert "sites: local-usdf (central): USDF" in plan and "local-frdf: FrDF" in plan
    assert "step1/local-frdf @ local-frdf (2 IDs): (instrument='DemoCam') AND (visit IN (1201, 1202))" in plan
    # each transfer under the one name the ledger, status and issues give it: <step>@<destination><<from>@<source>
    assert ("step3@local-frdf<step2c@local-usdf: demo_global_calib from local-usdf to local-frdf, before step3 where "
            "(instrument='DemoCam') AND (skymap='demo_sites') AND (patch IN (1, 4))") in plan, \
        "the fan-out moves what FrDF's runs read"
    assert "step4@local-usdf<step3@local-ukdf: demo_coadd from local-ukdf to local-usdf" in plan
