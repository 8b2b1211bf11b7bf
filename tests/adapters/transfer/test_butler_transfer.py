"""Butler-to-Butler transfers between real site repositories: copied with dimension records, verified by
dataset id, idempotent, restricted to a site's visits, and refused in words that name what is wrong."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from campaignops.adapters.transfer.butler import ButlerTransfer
from campaignops.adapters.transfer.inventory import count_at, resident_values
from campaignops.demo import INSTRUMENT
from campaignops.demo.sites import SITE_VISITS, build_sites
from campaignops.domain.errors import ButlerQueryError
from campaignops.domain.states import TransferState
from campaignops.ports import TransferRequest

pytestmark = pytest.mark.lsst

SUMMARY, CALEXP, CALIB = "demo_visit_summary", "demo_calexp", "demo_global_calib"


def _put_outputs(repo: Path, site: str) -> None:
    """What step1 and step2 leave at a site: a demo_calexp per detector, a demo_visit_summary per visit."""
    from lsst.daf.butler import Butler, DatasetType

    butler = Butler.from_config(str(repo), writeable=True)
    try:
        for name, dims in ((CALEXP, ("instrument", "visit", "detector")), (SUMMARY, ("instrument", "visit"))):
            butler.registry.registerDatasetType(DatasetType(name, dims, "StructuredDataDict",
                                                            universe=butler.dimensions))
        for run in (f"demo/{site}/step1", f"demo/{site}/step2"):
            butler.registry.registerRun(run)
        for visit in SITE_VISITS[site]:
            for detector in range(4):
                butler.put({"visit": visit, "detector": detector}, CALEXP, instrument=INSTRUMENT, visit=visit,
                           detector=detector, run=f"demo/{site}/step1")
            butler.put({"visit": visit, "mean_flux": 1.0 + visit}, SUMMARY, instrument=INSTRUMENT, visit=visit,
                       run=f"demo/{site}/step2")
    finally:
        butler.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sites")
    build_sites(root)
    for site in ("frdf", "ukdf"):
        _put_outputs(root / site / "repo", site)
    return root


@pytest.fixture
def sites(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the three site repositories (SQLite repositories are plain directories)."""
    shutil.copytree(template, tmp_path / "sites")
    return tmp_path / "sites"


def _request(sites: Path, source: str, destination: str, collections: tuple[str, ...],
             dataset_types: tuple[str, ...], where: str = "") -> TransferRequest:
    return TransferRequest(key=f"test<{source}>{destination}", source_site=source, destination_site=destination,
                           source_repo=str(sites / source / "repo"), destination_repo=str(sites / destination / "repo"),
                           collections=collections, dataset_types=dataset_types, where=where)


def _butler(repo: Path) -> Any:
    from lsst.daf.butler import Butler

    return Butler.from_config(str(repo))


def _visits_known(repo: Path) -> set[int]:
    butler = _butler(repo)
    try:
        return {int(r.id) for r in butler.query_dimension_records("visit", limit=None, explain=False)}
    finally:
        butler.close()


def _files(repo: Path, run: str) -> list[Path]:
    return sorted(p for p in (repo / run).rglob("*") if p.is_file()) if (repo / run).exists() else []


def test_a_transfer_copies_datasets_with_the_dimension_records_the_destination_lacks(sites: Path) -> None:
    usdf = sites / "usdf" / "repo"
    assert _visits_known(usdf) == {1101, 1102}  # usdf has never heard of frdf's visits
    request = _request(sites, "frdf", "usdf", ("demo/frdf/step1", "demo/frdf/step2"), (CALEXP, SUMMARY))

    progress = ButlerTransfer().start(request)

    assert progress.state == TransferState.DONE, progress.message
    assert (progress.datasets, progress.arrived) == (10, 10)
    sizes = sum(p.stat().st_size for run in ("demo/frdf/step1", "demo/frdf/step2")
                for p in _files(sites / "frdf" / "repo", run))
    assert progress.bytes == sizes > 0
    assert "8 demo_calexp, 2 demo_visit_summary at usdf, verified" in progress.message
    assert _visits_known(usdf) == {1101, 1102, 1201, 1202}
    butler = _butler(usdf)
    try:
        (ref,) = butler.query_datasets(SUMMARY, collections="demo/frdf/step2",
                                     where="instrument='DemoCam' AND visit=1202")
        assert butler.get(ref) == {"visit": 1202, "mean_flux": 1203.0}
        # The files were copied: the destination does not depend on the source's files.
        assert str(butler.getURI(ref).ospath).startswith(str(usdf))
    finally:
        butler.close()
    assert ButlerTransfer().poll(request, progress.handle).state == TransferState.DONE


def test_starting_a_transfer_again_never_duplicates_datasets_or_files(sites: Path) -> None:
    usdf = sites / "usdf" / "repo"
    request = _request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,))
    first = ButlerTransfer().start(request)
    files = _files(usdf, "demo/frdf/step2")
    again = ButlerTransfer().start(request)
    assert first.state == again.state == TransferState.DONE
    assert (again.datasets, again.arrived) == (2, 2)
    assert count_at(str(usdf), [SUMMARY], ["demo/frdf/step2"], "") == 2
    assert _files(usdf, "demo/frdf/step2") == files and len(files) == 2

    # Half a transfer (one visit sent by an earlier, narrower start) is completed, not duplicated.
    narrow = _request(sites, "ukdf", "usdf", ("demo/ukdf/step2",), (SUMMARY,), where="visit=1301")
    assert ButlerTransfer().start(narrow).datasets == 1
    full = ButlerTransfer().start(_request(sites, "ukdf", "usdf", ("demo/ukdf/step2",), (SUMMARY,)))
    assert (full.state, full.datasets, full.arrived) == (TransferState.DONE, 2, 2)
    assert count_at(str(usdf), [SUMMARY], ["demo/ukdf/step2"], "") == 2


def test_verification_catches_a_dataset_missing_at_the_destination(sites: Path) -> None:
    from lsst.daf.butler import Butler

    usdf = sites / "usdf" / "repo"
    request = _request(sites, "frdf", "usdf", ("demo/frdf/step1", "demo/frdf/step2"), (CALEXP, SUMMARY))
    assert ButlerTransfer().start(request).state == TransferState.DONE
    butler = Butler.from_config(str(usdf), writeable=True)
    try:
        gone = butler.query_datasets(SUMMARY, collections="demo/frdf/step2", where="instrument='DemoCam' AND visit=1201")
        butler.pruneDatasets(gone, disassociate=True, unstore=True, purge=True)
    finally:
        butler.close()

    progress = ButlerTransfer().poll(request, "")

    assert progress.state == TransferState.FAILED
    assert (progress.datasets, progress.arrived) == (10, 9)
    assert "demo_visit_summary: sent 2, found 1" in progress.message
    assert "missing: demo_visit_summary visit=1201" in progress.message
    assert "usdf" in progress.message and "demo_calexp" not in progress.message.split("—")[1].split("(")[0]
    # Starting it again repairs the destination.
    repaired = ButlerTransfer().start(request)
    assert (repaired.state, repaired.arrived) == (TransferState.DONE, 10)


def test_a_fan_out_restricted_to_a_sites_visits_sends_only_those(sites: Path) -> None:
    from lsst.daf.butler import Butler, DatasetType

    usdf, frdf = sites / "usdf" / "repo", sites / "frdf" / "repo"
    # The central site learns every visit from the summaries sent to it, then calibrates them all.
    for site in ("frdf", "ukdf"):
        assert ButlerTransfer().start(_request(sites, site, "usdf", (f"demo/{site}/step2",), (SUMMARY,))).state \
            == TransferState.DONE
    butler = Butler.from_config(str(usdf), writeable=True)
    try:
        butler.registry.registerDatasetType(DatasetType(CALIB, ("instrument", "visit"), "StructuredDataDict",
                                                        universe=butler.dimensions))
        butler.registry.registerRun("demo/usdf/step2c")
        for visit in sorted(v for visits in SITE_VISITS.values() for v in visits):
            butler.put({"visit": visit, "scale": 1.0}, CALIB, instrument=INSTRUMENT, visit=visit, run="demo/usdf/step2c")
    finally:
        butler.close()
    resident = resident_values(str(frdf), "visit", datasets="demo_raw")
    assert resident == [1201, 1202]
    where = f"instrument='{INSTRUMENT}' AND visit IN ({', '.join(map(str, resident))})"

    progress = ButlerTransfer().start(_request(sites, "usdf", "frdf", ("demo/usdf/step2c",), (CALIB,), where=where))

    assert (progress.state, progress.datasets, progress.arrived) == (TransferState.DONE, 2, 2)
    assert count_at(str(frdf), [CALIB], ["demo/usdf/step2c"], "") == 2
    assert _visits_known(frdf) == {1201, 1202}  # no record of another site's visit came along
    # The central site still holds the raws of its own visits only; it knows all six visits now.
    assert resident_values(str(usdf), "visit", datasets="demo_raw") == [1101, 1102]
    assert resident_values(str(usdf), "visit") == sorted(v for visits in SITE_VISITS.values() for v in visits)


def test_an_unknown_collection_or_dataset_type_or_an_empty_selection_fails_saying_so(sites: Path) -> None:
    transfer = ButlerTransfer()
    progress = transfer.start(_request(sites, "frdf", "usdf", ("demo/frdf/nope",), (SUMMARY,)))
    assert progress.state == TransferState.FAILED
    assert "source frdf" in progress.message and "demo/frdf/nope" in progress.message

    progress = transfer.start(_request(sites, "frdf", "usdf", ("demo/frdf/step2",), ("demo_nope",)))
    assert progress.state == TransferState.FAILED and "demo_nope" in progress.message

    progress = transfer.start(_request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,), where="visit=1101"))
    assert progress.state == TransferState.FAILED and "nothing to send" in progress.message

    progress = transfer.start(_request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,), where="visit IN (12"))
    assert progress.state == TransferState.FAILED and "cannot select datasets" in progress.message
    assert count_at(str(sites / "usdf" / "repo"), [SUMMARY], ["demo/frdf/step2"], "") == 0


def test_a_destination_that_does_not_exist_is_unknown_naming_it_never_failed(sites: Path) -> None:
    # issue 18.7: a site whose Butler cannot be opened cannot be asked; the README promises UNKNOWN
    request = _request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,))
    shutil.rmtree(sites / "usdf")
    progress = ButlerTransfer().start(request)
    assert progress.state == TransferState.UNKNOWN
    assert f"cannot open the destination usdf ({sites / 'usdf' / 'repo'})" in progress.message
    assert "check the site's butler repo in its profile" in progress.message and "will ask again" in progress.message
    with pytest.raises(ButlerQueryError, match="cannot open Butler repository"):
        count_at(str(sites / "usdf" / "repo"), [SUMMARY], ["demo/frdf/step2"], "")


def test_an_unreadable_source_is_unknown_and_the_transfer_goes_through_once_it_reads_again(sites: Path) -> None:
    request = _request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,))
    config = sites / "frdf" / "repo" / "butler.yaml"
    kept = config.read_bytes()
    config.write_bytes(b"\xff\xfe: [unclosed\n")  # a damaged (unreadable) repository configuration
    progress = ButlerTransfer().start(request)
    assert progress.state == TransferState.UNKNOWN
    assert f"cannot open the source frdf ({sites / 'frdf' / 'repo'})" in progress.message
    assert count_at(str(sites / "usdf" / "repo"), [SUMMARY], ["demo/frdf/step2"], "") == 0, "nothing was copied"
    config.write_bytes(kept)
    assert ButlerTransfer().start(request).state == TransferState.DONE


@pytest.fixture
def short_sqlite_wait(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Butler waits 5 minutes for a locked SQLite database; wait 0.2 s here (the rest is the real Butler)."""
    from lsst.daf.butler.registry.databases import sqlite as butler_sqlite

    original = butler_sqlite._onSqlite3Connect

    def connect(dbapi: sqlite3.Connection, record: Any) -> None:
        original(dbapi, record)
        dbapi.execute("PRAGMA busy_timeout = 200;")

    monkeypatch.setattr(butler_sqlite, "_onSqlite3Connect", connect)
    yield


def test_a_locked_destination_database_is_unknown_not_failed(sites: Path, short_sqlite_wait: None) -> None:
    request = _request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,))
    lock = sqlite3.connect(sites / "usdf" / "repo" / "gen3.sqlite3", isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        progress = ButlerTransfer().start(request)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert progress.state == TransferState.UNKNOWN
    assert "database is locked" in progress.message and "usdf" in progress.message
    assert ButlerTransfer().start(request).state == TransferState.DONE


def test_a_transfer_between_a_postgresql_site_and_a_sqlite_site(tmp_path: Path, postgres_url: str) -> None:
    from campaignops.demo.repo import build
    from campaignops.demo.sites import layout_for

    build(tmp_path / "usdf" / "repo", layout=layout_for("usdf"))
    build(tmp_path / "ukdf" / "repo", registry=postgres_url, namespace="campaignops_demo_ukdf",
          layout=layout_for("ukdf"))
    _put_outputs(tmp_path / "ukdf" / "repo", "ukdf")
    to_central = _request(tmp_path, "ukdf", "usdf", ("demo/ukdf/step2",), (SUMMARY,))
    assert (ButlerTransfer().start(to_central).state, count_at(str(tmp_path / "usdf" / "repo"), [SUMMARY],
                                                             ["demo/ukdf/step2"], "")) == (TransferState.DONE, 2)
    back = _request(tmp_path, "usdf", "ukdf", ("demo/ukdf/step2",), (SUMMARY,), where="visit=1302")
    assert ButlerTransfer().poll(back, "").state == TransferState.DONE  # already there: same ids


def test_a_postgresql_registry_that_does_not_answer_is_unknown(sites: Path) -> None:
    config = sites / "usdf" / "repo" / "butler.yaml"
    config.write_text(config.read_text().replace("sqlite:///<butlerRoot>/gen3.sqlite3",
                                                 "postgresql://nobody@127.0.0.1:1/campaignops"))
    progress = ButlerTransfer().start(_request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,)))
    assert progress.state == TransferState.UNKNOWN
    assert "cannot open the destination usdf" in progress.message and "will ask again" in progress.message


def test_the_moved_runs_are_chained_at_the_destination_once_verified(sites: Path) -> None:
    from dataclasses import replace

    request = replace(_request(sites, "frdf", "usdf", ("demo/frdf/step2",), (SUMMARY,)),
                      chain="demo/usdf/inputs", inputs=("DemoCam/defaults", "demo/nowhere"))
    assert ButlerTransfer().start(request).state == TransferState.DONE
    assert ButlerTransfer().start(request).state == TransferState.DONE  # again: the chain is unchanged
    butler = _butler(sites / "usdf" / "repo")
    try:
        assert list(butler.collections.get_info("demo/usdf/inputs").children) == ["demo/frdf/step2",
                                                                                   "DemoCam/defaults"]
    finally:
        butler.close()
