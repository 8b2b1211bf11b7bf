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

from collections.abc import Callable
from pathlib import Path

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


__all__ = ["CENTRAL_SITE", "FIELD_VISITS", "PIPELINE_SITES_YAML", "SITES", "SITE_PATCHES", "SITE_VISITS",
           "SKYMAP_SITES", "build_sites", "layout_for"]
