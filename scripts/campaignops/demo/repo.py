"""Build a demo Butler repository: a fake camera, visits over a one-tract skymap, and small raw inputs.

What lies where (skymap, tract grid, visits, detector size, which visits the repository holds) is a
`Layout`; the single-site demo uses `LAYOUT`, the three site repositories of the 3×3 demo theirs
(demo/sites.py).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..domain.errors import DemoError
from . import DEFAULTS_COLLECTION, INPUT_DATASET_TYPE, INSTRUMENT, RAW_RUN, SKYMAP

MARKER_FILE = "campaignops-demo.json"  # written last: its presence means the repository is complete
DEFAULT_NAMESPACE = "campaignops_demo"

BANDS = {"g": f"{INSTRUMENT}-g", "r": f"{INSTRUMENT}-r"}
DETECTORS = (0, 1, 2, 3)  # quadrants of the focal plane
DAY_OBS = 20261101
# visit -> (band, RA centre, Dec centre) in degrees; every visit is 1x1 degree and lies inside the tract.
VISITS: dict[int, tuple[str, float, float]] = {
    1001: ("g", 0.60, -0.40),
    1002: ("g", 1.40, -0.40),
    1003: ("g", 1.00, 0.45),
    1004: ("r", 0.55, -0.45),
    1005: ("r", 1.45, 0.40),
    1006: ("r", 0.70, 0.50),
}
TRACT = 0
TRACT_BOX = (0.0, 2.0, -1.0, 1.0)  # RA min, RA max, Dec min, Dec max (degrees)
PATCHES_X, PATCHES_Y = 2, 2


@dataclass(frozen=True)
class Layout:
    """Where a demo repository's data lies: one tract of `patches_x` × `patches_y` patches over
    `tract_box`, the field's visits (band, RA and Dec of the boresight), and which of them this
    repository holds (`resident`, None for all). A visit is 2×2 detectors of `detector_size` degrees.
    Visits are numbered in time over the whole field, so every repository of one field agrees on
    their records."""

    skymap: str = SKYMAP
    skymap_hash: bytes = b"campaignops-demo-skymap"
    tract_box: tuple[float, float, float, float] = TRACT_BOX
    patches_x: int = PATCHES_X
    patches_y: int = PATCHES_Y
    visits: Mapping[int, tuple[str, float, float]] = field(default_factory=lambda: dict(VISITS))
    detector_size: float = 0.5
    resident: tuple[int, ...] | None = None
    site: str = ""

    @property
    def patches(self) -> tuple[int, ...]:
        return tuple(range(self.patches_x * self.patches_y))

    @property
    def resident_visits(self) -> tuple[int, ...]:
        return tuple(sorted(self.visits if self.resident is None else self.resident))

    def patch_box(self, patch: int) -> tuple[float, float, float, float]:
        ra0, ra1, dec0, dec1 = self.tract_box
        x, y = patch % self.patches_x, patch // self.patches_x
        w, h = (ra1 - ra0) / self.patches_x, (dec1 - dec0) / self.patches_y
        return ra0 + x * w, ra0 + (x + 1) * w, dec0 + y * h, dec0 + (y + 1) * h

    def visit_box(self, visit: int) -> tuple[float, float, float, float]:
        _band, ra, dec = self.visits[visit]
        s = self.detector_size
        return ra - s, ra + s, dec - s, dec + s

    def detector_box(self, visit: int, detector: int) -> tuple[float, float, float, float]:
        # 2x2 detectors around the boresight.
        _band, ra, dec = self.visits[visit]
        s, x, y = self.detector_size, detector % 2, detector // 2
        return ra - s + s * x, ra + s * x, dec - s + s * y, dec + s * y


LAYOUT = Layout()  # the single-site demo: 6 visits over 4 patches of skymap demo_rings


class DemoRepoError(DemoError):
    """The demo repository cannot be built where asked; the message says what to do."""


@dataclass(frozen=True)
class DemoRepo:
    """What `build` made (also stored as campaignops-demo.json in the repository)."""

    root: str
    registry: str  # "sqlite" or the PostgreSQL URL (without password)
    namespace: str
    instrument: str
    skymap: str
    visits: tuple[int, ...]
    detectors: tuple[int, ...]
    tracts: tuple[int, ...]
    patches: tuple[int, ...]
    bands: tuple[str, ...]
    inputs: str
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    site: str = ""  # the site this repository stands for in the 3×3 demo ("" for the single-site demo)
    resident_visits: tuple[int, ...] = ()  # visits whose raws this repository holds
    resident_patches: tuple[int, ...] = ()  # patches those visits overlap (a Butler spatial query)

    @property
    def butler_config(self) -> str:
        return str(Path(self.root) / "butler.yaml")


def _box(ra0: float, ra1: float, dec0: float, dec1: float) -> Any:
    from lsst.sphgeom import ConvexPolygon, LonLat, UnitVector3d

    corners = [(ra0, dec0), (ra1, dec0), (ra1, dec1), (ra0, dec1)]
    return ConvexPolygon([UnitVector3d(LonLat.fromDegrees(ra % 360.0, dec)) for ra, dec in corners])


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _drop_namespace(url: str, namespace: str) -> None:
    import sqlalchemy
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    engine = sqlalchemy.create_engine(u)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
    finally:
        engine.dispose()


def read_marker(root: Path) -> DemoRepo | None:
    """The description of a complete demo repository at `root`, or None."""
    path = root / MARKER_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("visits", "detectors", "tracts", "patches", "bands", "resident_visits", "resident_patches"):
        if key in data:
            data[key] = tuple(data[key])
    return DemoRepo(**data)


def build(root: Path, registry: str | None = None, namespace: str = DEFAULT_NAMESPACE, force: bool = False,
          progress: Callable[[str], None] = lambda _msg: None, layout: Layout = LAYOUT) -> DemoRepo:
    """Create the demo repository at `root` (SQLite, or PostgreSQL when `registry` is a URL) laid out
    as `layout` (default: the single-site demo).

    Returns the existing description when a complete demo repository is already there; raises
    DemoRepoError when something else (or a half-built repository) is in the way and `force` is off.
    """
    root = root.resolve()
    existing = read_marker(root)
    if existing and not force:
        wanted = _safe_url(registry) if registry else "sqlite"
        if existing.registry != wanted:
            raise DemoRepoError(f"{root} already holds a demo repository with registry {existing.registry}, "
                                f"not {wanted}; pass --force to rebuild it")
        if (existing.skymap, existing.visits, existing.site) != (layout.skymap, layout.resident_visits, layout.site):
            raise DemoRepoError(f"{root} already holds a different demo repository (skymap {existing.skymap}, "
                                f"visits {', '.join(map(str, existing.visits))}); pass --force to rebuild it")
        progress(f"demo repository already exists at {root} (pass --force to rebuild)")
        return existing
    if root.exists() and any(root.iterdir()):
        if not force:
            what = "a half-built repository (butler.yaml but no " + MARKER_FILE + ")" \
                if (root / "butler.yaml").exists() else "other files"
            raise DemoRepoError(f"{root} holds {what}; pass --force to delete it and rebuild, "
                                "or choose another directory")
        progress(f"removing {root}")
        shutil.rmtree(root)
    if registry and force:
        _drop_namespace(registry, namespace)

    from lsst.daf.butler import Butler, Config, DatasetType, Timespan

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    mark = t0

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = round(now - mark, 2)
        mark = now

    root.mkdir(parents=True, exist_ok=True)
    seed = Config()
    if registry:
        seed["registry", "db"] = registry
        seed["registry", "namespace"] = namespace
    progress(f"creating Butler repository at {root} ({'PostgreSQL ' + _safe_url(registry) if registry else 'SQLite'})")
    try:
        Butler.makeRepo(str(root), config=seed)
    except Exception as exc:
        (root / "butler.yaml").unlink(missing_ok=True)  # a failed create leaves butler.yaml behind
        hint = (" (PostgreSQL needs the btree_gist extension: CREATE EXTENSION btree_gist; as a superuser)"
                if registry and "btree_gist" in str(exc) else "")
        raise DemoRepoError(f"could not create the Butler repository at {root}: {exc}{hint}") from exc
    lap("create")

    butler = Butler.from_config(str(root), writeable=True)
    try:
        registry_ = butler.registry
        progress(f"registering instrument {INSTRUMENT}: {len(DETECTORS)} detectors, bands {', '.join(BANDS)}")
        registry_.syncDimensionData("instrument", {
            "name": INSTRUMENT, "visit_max": 10_000, "visit_system": 0, "exposure_max": 10_000,
            "detector_max": 100, "class_name": "campaignops.demo.DemoCam"})
        for band, physical_filter in BANDS.items():
            registry_.syncDimensionData("physical_filter",
                                        {"instrument": INSTRUMENT, "name": physical_filter, "band": band})
        for det in DETECTORS:
            registry_.syncDimensionData("detector", {
                "instrument": INSTRUMENT, "id": det, "full_name": f"R00_S{det // 2}{det % 2}",
                "name_in_raft": f"S{det // 2}{det % 2}", "raft": "R00", "purpose": "SCIENCE"})
        from astropy.time import Time, TimeDelta

        night = Time("2026-11-01T20:00:00", scale="tai")
        registry_.syncDimensionData("day_obs", {
            "instrument": INSTRUMENT, "id": DAY_OBS,
            "timespan": Timespan(night, night + TimeDelta(12 * 3600, format="sec"))})
        lap("instrument")

        n_patches = len(layout.patches)
        progress(f"registering skymap {layout.skymap}: tract {TRACT} with {n_patches} patches")
        registry_.syncDimensionData("skymap", {
            "name": layout.skymap, "hash": layout.skymap_hash, "tract_max": 1,
            "patch_nx_max": layout.patches_x, "patch_ny_max": layout.patches_y})
        registry_.syncDimensionData("tract", {"skymap": layout.skymap, "id": TRACT,
                                              "region": _box(*layout.tract_box)})
        for patch in layout.patches:
            registry_.syncDimensionData("patch", {
                "skymap": layout.skymap, "tract": TRACT, "id": patch, "cell_x": patch % layout.patches_x,
                "cell_y": patch // layout.patches_x, "region": _box(*layout.patch_box(patch))})
        lap("skymap")

        resident = layout.resident_visits
        progress(f"defining {len(resident)} visits with regions")
        for n, (visit, (band, _ra, _dec)) in enumerate(sorted(layout.visits.items())):
            if visit not in resident:
                continue
            start = night + TimeDelta(600 * n, format="sec")
            registry_.syncDimensionData("visit", {
                "instrument": INSTRUMENT, "id": visit, "day_obs": DAY_OBS, "physical_filter": BANDS[band],
                "name": f"DC{visit}", "seq_num": n + 1, "exposure_time": 30.0, "target_name": "demo-field",
                "observation_reason": "science", "science_program": "campaignops-demo",
                "azimuth": 0.0, "zenith_angle": 30.0, "region": _box(*layout.visit_box(visit)),
                "timespan": Timespan(start, start + TimeDelta(30, format="sec"))})
            for det in DETECTORS:
                registry_.syncDimensionData("visit_detector_region", {
                    "instrument": INSTRUMENT, "visit": visit, "detector": det,
                    "region": _box(*layout.detector_box(visit, det))})
        lap("visits")

        progress(f"writing {len(resident) * len(DETECTORS)} {INPUT_DATASET_TYPE} datasets into {RAW_RUN}")
        dataset_type = DatasetType(INPUT_DATASET_TYPE, ("instrument", "visit", "detector"), "StructuredDataDict",
                                   universe=butler.dimensions)
        registry_.registerDatasetType(dataset_type)
        registry_.registerRun(RAW_RUN)
        for visit in resident:
            band, ra, dec = layout.visits[visit]
            for det in DETECTORS:
                butler.put({"visit": visit, "detector": det, "band": band, "ra": ra, "dec": dec,
                            "flux": 1000.0 + 10 * det + (visit % 100)},
                           dataset_type, instrument=INSTRUMENT, visit=visit, detector=det, run=RAW_RUN)
        registry_.registerCollection(DEFAULTS_COLLECTION, type=_chained())
        registry_.setCollectionChain(DEFAULTS_COLLECTION, [RAW_RUN])
        lap("inputs")
        overlaps = butler.query_data_ids(["patch", "visit"], where=f"instrument='{INSTRUMENT}' AND "
                                         f"skymap='{layout.skymap}'", limit=None, explain=False)
        resident_patches = tuple(sorted({int(d["patch"]) for d in overlaps}))
    finally:
        butler.close()

    repo = DemoRepo(
        root=str(root), registry=_safe_url(registry) if registry else "sqlite",
        namespace=namespace if registry else "", instrument=INSTRUMENT, skymap=layout.skymap,
        visits=resident, detectors=DETECTORS, tracts=(TRACT,), patches=layout.patches,
        bands=tuple(BANDS), inputs=DEFAULTS_COLLECTION, seconds=round(time.perf_counter() - t0, 2),
        steps=steps, site=layout.site, resident_visits=resident, resident_patches=resident_patches)
    (root / MARKER_FILE).write_text(json.dumps(asdict(repo), indent=2) + "\n", encoding="utf-8")
    progress(f"demo repository ready at {root} in {repo.seconds:.1f} s "
             f"({', '.join(f'{k} {v:.1f} s' for k, v in steps.items())})")
    return repo


def _chained() -> Any:
    from lsst.daf.butler import CollectionType

    return CollectionType.CHAINED
