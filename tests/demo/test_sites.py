"""The 3×3 demo's data and pipeline: three site Butlers, each holding its own column of the tract, and the
multi-site chain run for real across them (pipetask at each site, Butler-to-Butler transfers between)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from campaignops.adapters.transfer.butler import ButlerTransfer
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
)
from campaignops.domain.states import TransferState
from campaignops.ports import TransferRequest

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

def _pipetask(repo: Path, inputs: list[str], run: str, subset: str, where: str = "",
              config: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = ["pipetask", "run", "-b", str(repo), "-i", ",".join(inputs), "--output-run", run,
               "-p", f"{PIPELINE_SITES_YAML}#{subset}", "--register-dataset-types", "-j", "1"]
    if where:
        command += ["-d", where]
    if config:
        command += ["-c", config]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr[-2000:]


def _moved(sites: Path, key: str, source: str, destination: str, runs: tuple[str, ...], dataset_type: str,
           where: str = "") -> int:
    request = TransferRequest(key=key, source_site=source, destination_site=destination,
                              source_repo=str(sites / source / "repo"), destination_repo=str(sites / destination / "repo"),
                              collections=runs, dataset_types=(dataset_type,), where=where)
    progress = ButlerTransfer().start(request)
    assert progress.state == TransferState.DONE, progress.message
    return progress.arrived


@pytest.mark.slow
def test_the_3x3_chain_runs_across_three_site_butlers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    laps: dict[str, float] = {}

    def lap(name: str) -> None:
        laps[name] = round(time.perf_counter() - started - sum(laps.values()), 1)

    build_sites(tmp_path)
    repo = {site: tmp_path / site / "repo" for site in SITES}
    central = CENTRAL_SITE
    lap("build 3 repos")
    # step1 + step2 at each site on its own visits.
    for site in SITES:
        _ok(_pipetask(repo[site], ["DemoCam/defaults"], f"demo/{site}/step2", "step1,step2"))
    lap("step1+2 at 3 sites")
    # demo_visit_summary of every other site to the central site.
    for site in SITES:
        if site != central:
            assert _moved(tmp_path, f"step2c<step2@{site}", site, central, (f"demo/{site}/step2",),
                          "demo_visit_summary") == 2
    lap("transfer summaries")
    # step2c at the central site, with an injected transient failure of the global task, then retried.
    step2c_inputs = ["DemoCam/defaults", *(f"demo/{site}/step2" for site in SITES)]
    env = {**os.environ, "CAMPAIGNOPS_DEMO_MARKER_DIR": str(tmp_path / "markers")}
    failed = _pipetask(repo[central], step2c_inputs, "demo/usdf/step2c-try1", "step2c",
                       config="globalCalibDemo:fail_once_where=instrument IN ('DemoCam')", env=env)
    assert failed.returncode != 0 and "injected transient failure for" in failed.stderr
    _ok(_pipetask(repo[central], step2c_inputs, f"demo/{central}/step2c", "step2c",
                  config="globalCalibDemo:fail_once_where=instrument IN ('DemoCam')", env=env))
    assert count_at(str(repo[central]), ["demo_global_calib"], [f"demo/{central}/step2c"], "") == 6
    lap("step2c at usdf (failed once, then ran)")
    # Fan-out: each site gets the calibrations of its own visits only.
    for site in SITES:
        visits = resident_values(str(repo[site]), "visit", datasets="demo_raw")
        assert visits == sorted(SITE_VISITS[site])
        if site != central:
            where = f"instrument='{INSTRUMENT}' AND visit IN ({', '.join(map(str, visits))})"
            assert _moved(tmp_path, f"step3<step2c@{site}", central, site, (f"demo/{central}/step2c",),
                          "demo_global_calib", where) == 2
    lap("fan-out calibs")
    # step3 at each site on its two patches (placement by data: the patches its raws overlap).
    for site in SITES:
        patches = resident_values(str(repo[site]), "patch", f"skymap='{SKYMAP_SITES}'", datasets="demo_raw")
        assert patches == list(SITE_PATCHES[site])
        where = f"skymap='{SKYMAP_SITES}' AND patch IN ({', '.join(map(str, patches))})"
        _ok(_pipetask(repo[site], [f"demo/{site}/step2", f"demo/{central}/step2c"], f"demo/{site}/step3", "step3",
                      where))
    lap("step3 at 3 sites")
    for site in SITES:
        if site != central:
            assert _moved(tmp_path, f"step4<step3@{site}", site, central, (f"demo/{site}/step3",), "demo_coadd") == 4
    lap("transfer coadds")
    _ok(_pipetask(repo[central], [f"demo/{site}/step3" for site in SITES], f"demo/{central}/step4", "step4"))
    lap("step4 at usdf")

    # Every site got exactly its own visits' calibrations, and used them in its coadds.
    for site in SITES:
        butler = _butler(repo[site])
        try:
            calibs = butler.query_datasets("demo_global_calib", collections=f"demo/{central}/step2c", limit=None)
            expected = set(SITE_VISITS[site]) if site != central else {v for vs in SITE_VISITS.values() for v in vs}
            assert {int(r.dataId["visit"]) for r in calibs} == expected
            for ref in butler.query_datasets("demo_coadd", collections=f"demo/{site}/step3", limit=None):
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
        assert butler.get(summary) == {"patches": [0, 1, 2, 3, 4, 5], "bands": ["g", "r"], "n_coadds": 12,
                                       "n_visit_inputs": 12}
    finally:
        butler.close()
    with capsys.disabled():
        print(f"\n3x3 chain by hand: {time.perf_counter() - started:.1f} s — "
              + ", ".join(f"{k} {v} s" for k, v in laps.items()))
