"""The 3×3 demo's data and pipeline: three site Butlers, each holding its own column of the tract, and the
multi-site chain run for real across them (pipetask at each site, Butler-to-Butler transfers between)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from campaignops.adapters.transfer.inventory import count_at, resident_values
from campaignops.demo import INSTRUMENT, PIPELINE_YAML
from campaignops.demo.repo import MARKER_FILE, read_marker
from campaignops.demo.sites import (
    CENTRAL_SITE,
    PIPELINE_SITES_YAML,
    SITE_PATCHES,
    SITE_VISITS,
    SITES,
    SKYMAP_SITES,
    build_sites,
    pipetask_run,
    run_by_hand,
)
from campaignops.domain.errors import DemoError

pytestmark = pytest.mark.lsst


def _butler(repo: Path) -> Any:
    from lsst.daf.butler import Butler

    return Butler.from_config(str(repo))


def test_each_site_holds_the_raws_of_its_two_visits_over_its_two_patches(tmp_path: Path) -> None:
    repos = build_sites(tmp_path)
    assert list(repos) == ["usdf", "frdf", "ukdf"]
    for site, repo in repos.items():
        root = tmp_path / site / "repo"
        assert repo.root == str(root) and repo.site == site and repo.skymap == SKYMAP_SITES
        assert repo.patches == (0, 1, 2, 3, 4, 5)
        assert repo.resident_visits == repo.visits == tuple(sorted(SITE_VISITS[site]))
        assert repo.resident_patches == SITE_PATCHES[site]
        marker = json.loads((root / MARKER_FILE).read_text())
        assert (marker["site"], marker["resident_visits"], marker["resident_patches"]) == \
            (site, sorted(SITE_VISITS[site]), list(SITE_PATCHES[site]))
        assert read_marker(root) == repo
        butler = _butler(root)
        try:
            bands = {r.dataId["band"]: r.dataId["visit"] for r in butler.query_datasets("demo_raw", collections=repo.inputs,
                                                                                    limit=None)}
            assert sorted(bands) == ["g", "r"] and set(bands.values()) == set(SITE_VISITS[site])
            # The spatial join: the patches a site's visits overlap are exactly its column.
            overlaps = butler.query_data_ids(["patch", "visit"],
                                             where=f"instrument='{INSTRUMENT}' AND skymap='{SKYMAP_SITES}'")
            assert {d["patch"] for d in overlaps} == set(SITE_PATCHES[site])
        finally:
            butler.close()
        assert resident_values(str(root), "patch", f"skymap='{SKYMAP_SITES}'", datasets="demo_raw") \
            == list(SITE_PATCHES[site])
    # The same skymap everywhere: a coadd made at one site names the same patch at another.
    hashes = set()
    for site in SITES:
        butler = _butler(tmp_path / site / "repo")
        try:
            (skymap,) = butler.query_dimension_records("skymap")
            hashes.add(skymap.hash)
        finally:
            butler.close()
    assert len(hashes) == 1
    assert build_sites(tmp_path)["frdf"] == repos["frdf"]  # built once, kept


def test_site_repositories_on_postgresql_use_one_schema_per_site(tmp_path: Path, postgres_url: str) -> None:
    repos = build_sites(tmp_path, registry=postgres_url)
    assert {r.namespace for r in repos.values()} == {f"campaignops_demo_{s}" for s in SITES}
    assert resident_values(repos["ukdf"].root, "visit", datasets="demo_raw") == sorted(SITE_VISITS["ukdf"])
    assert resident_values(repos["usdf"].root, "visit") == sorted(SITE_VISITS["usdf"])


def _inputs(pipeline: Path, label: str) -> set[str]:
    from lsst.pipe.base import Pipeline

    graph = Pipeline.from_uri(str(pipeline)).to_graph()
    return set(graph.tasks[label].inputs)


def test_the_sites_pipeline_has_the_global_step_and_the_single_site_pipeline_is_unchanged() -> None:
    from lsst.pipe.base import Pipeline

    pipeline = Pipeline.from_uri(str(PIPELINE_SITES_YAML))
    assert {name: set(pipeline.subsets[name]) for name in pipeline.subsets} == {
        "step1": {"calibrateDemo"}, "step2": {"consolidateVisitDemo"}, "step2c": {"globalCalibDemo"},
        "step3": {"coaddDemo"}, "step4": {"tractSummaryDemo"}}
    from lsst.daf.butler import DimensionUniverse

    graph = pipeline.to_graph()
    graph.resolve(dimensions=DimensionUniverse())
    assert set(graph.tasks["globalCalibDemo"].dimensions.names) == {"instrument"}
    assert set(graph.tasks["globalCalibDemo"].outputs) == {"calibs"}
    assert _inputs(PIPELINE_SITES_YAML, "coaddDemo") == {"summaries", "global_calibs"}
    assert _inputs(PIPELINE_YAML, "coaddDemo") == {"summaries"}


def test_the_global_calibration_and_the_calibrated_coadd() -> None:
    from campaignops.demo.tasks import CoaddDemoTask, GlobalCalibDemoConfig, GlobalCalibDemoTask

    calibs = GlobalCalibDemoTask(config=GlobalCalibDemoConfig()).run({1: {"mean_flux": 1.0}, 2: {"mean_flux": 3.0}})
    assert calibs.calibs == {1: {"visit": 1, "scale": 2.0, "n_visits": 2},
                             2: {"visit": 2, "scale": 2 / 3, "n_visits": 2}}
    config = CoaddDemoTask.ConfigClass()
    config.use_global_calib = True
    coadd = CoaddDemoTask(config=config).run([1, 2], [{"mean_flux": 1.0}, {"mean_flux": 3.0}], {1: 2.0, 2: 2 / 3})
    assert coadd.coadd == {"visits": [1, 2], "n_visits": 2, "flux": 2.0, "calibrated_visits": [1, 2]}


# ---- the 3×3 chain, by hand: what `campaign demo run --multisite` automates -----------------------

@pytest.mark.slow
def test_the_3x3_chain_runs_across_three_site_butlers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    build_sites(tmp_path)
    built = time.perf_counter() - started
    repo = {site: tmp_path / site / "repo" for site in SITES}
    central = CENTRAL_SITE

    laps = run_by_hand(tmp_path)

    # Every site got exactly its own visits' calibrations, and used them in its coadds.
    for site in SITES:
        butler = _butler(repo[site])
        try:
            calibs = butler.query_datasets("demo_global_calib", collections=f"demo/{central}/step2c", limit=None)
            expected = set(SITE_VISITS[site]) if site != central else {v for vs in SITE_VISITS.values() for v in vs}
            assert {int(r.dataId["visit"]) for r in calibs} == expected
            coadds = butler.query_datasets("demo_coadd", collections=f"demo/{site}/step3", limit=None)
            assert {int(r.dataId["patch"]) for r in coadds} == set(SITE_PATCHES[site]) and len(coadds) == 4
            for ref in coadds:
                coadd = butler.get(ref)
                assert coadd["calibrated_visits"] == coadd["visits"] and set(coadd["visits"]) <= set(SITE_VISITS[site])
        finally:
            butler.close()
    # The central site holds the coadds of all 6 patches in both bands, and a tract summary of them.
    butler = _butler(repo[central])
    try:
        coadds = butler.query_datasets("demo_coadd", collections=[f"demo/{s}/step3" for s in SITES], limit=None)
        assert sorted((int(r.dataId["patch"]), str(r.dataId["band"])) for r in coadds) == \
            [(p, b) for p in range(6) for b in ("g", "r")]
        (summary,) = butler.query_datasets("demo_tract_summary", collections=f"demo/{central}/step4")
        got = butler.get(summary)
        assert {k: v for k, v in got.items() if k != "mean_flux"} == {
            "patches": [0, 1, 2, 3, 4, 5], "bands": ["g", "r"], "n_coadds": 12, "n_visit_inputs": 12}
        assert got["mean_flux"] > 0, "the tract metric the campaign's checks read is measured from the coadds"
    finally:
        butler.close()

    # The global task takes injected failures like the others: a transient one fails once, then runs.
    inputs = ["DemoCam/defaults", *(f"demo/{site}/step2" for site in SITES)]
    fail_once = "globalCalibDemo:fail_once_where=instrument IN ('DemoCam')"
    env = {**os.environ, "CAMPAIGNOPS_DEMO_MARKER_DIR": str(tmp_path / "markers")}
    with pytest.raises(DemoError, match="injected transient failure for"):
        pipetask_run(repo[central], inputs, "demo/usdf/step2c-retry1", "step2c", config=fail_once, env=env)
    pipetask_run(repo[central], inputs, "demo/usdf/step2c-retry2", "step2c", config=fail_once, env=env)
    assert count_at(str(repo[central]), ["demo_global_calib"], ["demo/usdf/step2c-retry2"], "") == 6
    with capsys.disabled():
        print(f"\n3x3 chain by hand: build {built:.1f} s, "
              + ", ".join(f"{k} {v:.1f} s" for k, v in laps.items())
              + f"; total {time.perf_counter() - started:.1f} s")
