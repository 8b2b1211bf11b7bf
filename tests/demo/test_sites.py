"""The 3×3 demo's data and pipeline: three site Butlers, each holding its own column of the tract, and the sites
pipeline with its global step. The chain itself runs for real in tests/demo/test_multisite_real.py (the 3×3 demo:
bps at each site, Butler-to-Butler transfers between)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from campaignops.adapters.transfer.inventory import resident_values
from campaignops.demo import INSTRUMENT, PIPELINE_YAML
from campaignops.demo.repo import MARKER_FILE, read_marker
from campaignops.demo.sites import (
    PIPELINE_SITES_YAML,
    SITE_PATCHES,
    SITE_VISITS,
    SITES,
    SKYMAP_SITES,
    build_sites,
)

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
