"""The three site Butlers of the 3×3 demo: one field of 6 patches, each site holding the raws of its own column.

Skymap `demo_sites`, tract 0: RA 0 to 3°, Dec -1 to +1°, 3 × 2 patches of 1° × 1°, numbered row by row
(patch = x + 3·y). Each site holds one column of the tract and two visits (one g, one r) lying strictly
inside that column (detectors of 0.4°, so a visit is 0.8° wide), so a Butler spatial query of the
patches overlapping a site's visits returns exactly its two patches:

    site   patches  visits (band)        RA of the column
    usdf   0, 3     1101 (g), 1102 (r)   0 to 1°   (also the central site: the global step runs there)
    frdf   1, 4     1201 (g), 1202 (r)   1 to 2°
    ukdf   2, 5     1301 (g), 1302 (r)   2 to 3°

Every repository has the same instrument, skymap and patches; visit records and `demo_raw` exist only
at the visit's site (the other sites learn a visit when its datasets are transferred to them).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..adapters.transfer.butler import ButlerTransfer
from ..adapters.transfer.inventory import resident_values
from ..domain.errors import DemoError
from ..domain.states import TransferState
from ..ports import TransferRequest
from . import INSTRUMENT
from .repo import DEFAULT_NAMESPACE, DemoRepo, Layout, build

SITES = ("usdf", "frdf", "ukdf")
CENTRAL_SITE = "usdf"
SKYMAP_SITES = "demo_sites"
PIPELINE_SITES_YAML = Path(__file__).resolve().parent / "pipeline_sites.yaml"

# The column of the tract each site holds, and its visits: visit -> (band, RA centre, Dec centre).
SITE_COLUMN = {"usdf": 0, "frdf": 1, "ukdf": 2}
SITE_VISITS: dict[str, dict[int, tuple[str, float, float]]] = {
    "usdf": {1101: ("g", 0.50, 0.05), 1102: ("r", 0.45, -0.05)},
    "frdf": {1201: ("g", 1.50, -0.05), 1202: ("r", 1.55, 0.05)},
    "ukdf": {1301: ("g", 2.50, 0.05), 1302: ("r", 2.45, -0.05)},
}
FIELD_VISITS = {visit: where for visits in SITE_VISITS.values() for visit, where in visits.items()}
SITE_PATCHES = {site: (column, column + 3) for site, column in SITE_COLUMN.items()}


def layout_for(site: str) -> Layout:
    """The layout of one site's repository: the whole field's skymap, its own visits resident."""
    if site not in SITE_VISITS:
        raise ValueError(f"no demo site {site!r}; the sites are {', '.join(SITES)}")
    return Layout(skymap=SKYMAP_SITES, skymap_hash=b"campaignops-demo-sites-skymap", tract_box=(0.0, 3.0, -1.0, 1.0),
                  patches_x=3, patches_y=2, visits=FIELD_VISITS, detector_size=0.4,
                  resident=tuple(sorted(SITE_VISITS[site])), site=site)


def build_sites(root: Path, registry: str | None = None, force: bool = False,
                progress: Callable[[str], None] = lambda _msg: None) -> dict[str, DemoRepo]:
    """Build `root/<site>/repo` for every site (SQLite, or PostgreSQL when `registry` is a URL: one
    schema per site, `campaignops_demo_<site>`, as each facility runs its own Butler)."""
    repos: dict[str, DemoRepo] = {}
    for site in SITES:
        def said(msg: str, site: str = site) -> None:
            progress(f"[{site}] {msg}")

        repos[site] = build(root / site / "repo", registry=registry, namespace=f"{DEFAULT_NAMESPACE}_{site}",
                            force=force, progress=said, layout=layout_for(site))
    return repos


# ---- the 3×3 chain by hand: what `campaign demo run --multisite` automates (tests and benchmarks) --------

def pipetask_run(repo: Path, inputs: list[str], run: str, subset: str, where: str = "", config: str = "",
                 env: dict[str, str] | None = None) -> None:
    """`pipetask run` of one subset (or `step1,step2`) of the sites pipeline; DemoError with its stderr."""
    command = ["pipetask", "run", "-b", str(repo), "-i", ",".join(inputs), "--output-run", run,
               "-p", f"{PIPELINE_SITES_YAML}#{subset}", "--register-dataset-types", "-j", "1"]
    command += ["-d", where] if where else []
    command += ["-c", config] if config else []
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise DemoError(f"pipetask {subset} into {run} at {repo} failed:\n{result.stderr[-2000:]}")


def _move(root: Path, source: str, destination: str, run: str, dataset_type: str, where: str = "") -> int:
    request = TransferRequest(key=f"{dataset_type}@{source}>{destination}", source_site=source,
                              destination_site=destination, source_repo=str(root / source / "repo"),
                              destination_repo=str(root / destination / "repo"), collections=(run,),
                              dataset_types=(dataset_type,), where=where)
    progress = ButlerTransfer().start(request)
    if progress.state != TransferState.DONE:
        raise DemoError(f"transfer {request.key} {progress.state}: {progress.message}")
    return progress.arrived


def run_by_hand(root: Path, step2c_config: str = "") -> dict[str, float]:
    """Run the 3×3 chain over the site repositories under `root` (built by `build_sites`): step1+2 at
    each site into `demo/<site>/step2`; demo_visit_summary to the central site; step2c there into
    `demo/usdf/step2c` (with `step2c_config`, e.g. an injected failure, as pipetask `-c`); its
    demo_global_calib back to each site for the site's own visits; step3 at each site on its patches
    into `demo/<site>/step3`; demo_coadd to the central site; step4 there into `demo/usdf/step4`.
    Returns the seconds of each stage; raises DemoError when a pipetask or a transfer fails."""
    laps: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        laps[name] = round(now - mark, 2)
        mark = now

    repo = {site: root / site / "repo" for site in SITES}
    others = [site for site in SITES if site != CENTRAL_SITE]
    env = {**os.environ, "CAMPAIGNOPS_DEMO_MARKER_DIR": str(root / "markers")}
    for site in SITES:
        pipetask_run(repo[site], ["DemoCam/defaults"], f"demo/{site}/step2", "step1,step2", env=env)
    lap("step1+2 at each site")
    for site in others:
        _move(root, site, CENTRAL_SITE, f"demo/{site}/step2", "demo_visit_summary")
    lap("summaries to the central site")
    pipetask_run(repo[CENTRAL_SITE], ["DemoCam/defaults", *(f"demo/{site}/step2" for site in SITES)],
              f"demo/{CENTRAL_SITE}/step2c", "step2c", config=step2c_config, env=env)
    lap("step2c at the central site")
    for site in others:
        visits = resident_values(str(repo[site]), "visit", datasets="demo_raw")
        _move(root, CENTRAL_SITE, site, f"demo/{CENTRAL_SITE}/step2c", "demo_global_calib",
              f"instrument='{INSTRUMENT}' AND visit IN ({', '.join(map(str, visits))})")
    lap("calibrations to each site")
    for site in SITES:
        patches = resident_values(str(repo[site]), "patch", f"skymap='{SKYMAP_SITES}'", datasets="demo_raw")
        pipetask_run(repo[site], [f"demo/{site}/step2", f"demo/{CENTRAL_SITE}/step2c"], f"demo/{site}/step3", "step3",
                  f"skymap='{SKYMAP_SITES}' AND patch IN ({', '.join(map(str, patches))})", env=env)
    lap("step3 at each site")
    for site in others:
        _move(root, site, CENTRAL_SITE, f"demo/{site}/step3", "demo_coadd")
    lap("coadds to the central site")
    pipetask_run(repo[CENTRAL_SITE], [f"demo/{site}/step3" for site in SITES], f"demo/{CENTRAL_SITE}/step4", "step4",
              env=env)
    lap("step4 at the central site")
    return laps


__all__ = ["CENTRAL_SITE", "FIELD_VISITS", "PIPELINE_SITES_YAML", "SITES", "SITE_PATCHES", "SITE_VISITS",
           "SKYMAP_SITES", "build_sites", "layout_for", "pipetask_run", "run_by_hand"]
