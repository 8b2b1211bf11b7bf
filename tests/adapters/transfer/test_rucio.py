"""The Rucio transfer adapter against a real Rucio server on 127.0.0.1 and real Butler repositories: FrDF's
Butler registers its outputs at FRDF_BUTLER_DISK, a replication rule moves them to USDF_BUTLER_DISK, the
test copies the bytes where FTS would and ingests them at USDF where ctrl_ingestd would; the adapter's
answers follow the rule (REPLICATING → RUNNING, STUCK, OK) and the destination Butler's count (DONE)."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters.transfer.rucio import RucioSite, RucioTransfer, dataset_name
from campaignops.campaign_spec.parse import profile_from_dict
from campaignops.demo import DEFAULTS_COLLECTION, INSTRUMENT
from campaignops.domain.model import Profile
from campaignops.domain.states import TransferState
from campaignops.ports import TransferRequest
from fakes.rucio_server import NoPostgres, RucioServer, ServerUnavailable, server_venv

pytestmark = pytest.mark.lsst
SCOPE = "demo"
SOURCE_RSE, DESTINATION_RSE = "FRDF_BUTLER_DISK", "USDF_BUTLER_DISK"
SUMMARY, DETAIL = "demo_visit_summary", "demo_detector_meta"  # per visit; per visit and detector
VISITS = (1001, 1002, 1003, 1004, 1005, 1006)
DETECTORS = (0, 1, 2, 3)


@dataclass
class Sites:
    """The session's Rucio server and two sites, each a Butler repository at <RSE prefix>/<scope>."""

    server: RucioServer
    frdf: Path  # RSE prefixes
    usdf: Path
    setup_seconds: float

    @property
    def source_repo(self) -> str:
        return str(self.frdf / SCOPE)

    @property
    def destination_repo(self) -> str:
        return str(self.usdf / SCOPE)

    def adapter(self) -> RucioTransfer:
        return RucioTransfer({"frdf": RucioSite(SOURCE_RSE, SCOPE), "usdf": RucioSite(DESTINATION_RSE, SCOPE)},
                             rucio_config=str(self.server.config), timeout=20)

    def request(self, run: str, types: tuple[str, ...] = (SUMMARY, DETAIL), where: str = "") -> TransferRequest:
        return TransferRequest(key=f"step2c<{run}@frdf", source_site="frdf", destination_site="usdf",
                               source_repo=self.source_repo, destination_repo=self.destination_repo,
                               collections=(run,), dataset_types=types, where=where,
                               chain=f"{run}/chain", inputs=(DEFAULTS_COLLECTION,))


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    t0 = time.perf_counter()
    try:
        venv = server_venv()
    except ServerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Rucio server venv is required in CI: {exc}")
        pytest.skip(str(exc))
    from campaignops.demo.repo import build

    root = tmp_path_factory.mktemp("rucio")
    server = RucioServer(root / "server", venv)
    try:
        server.start()
    except NoPostgres as exc:
        if os.environ.get("CAMPAIGNOPS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (CAMPAIGNOPS_REQUIRE_POSTGRES=1) but {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    old = os.environ.get("RUCIO_CONFIG")
    os.environ["RUCIO_CONFIG"] = str(server.config)
    try:
        server.add_rse(SOURCE_RSE, root / "frdf")
        server.add_rse(DESTINATION_RSE, root / "usdf")
        server.link(SOURCE_RSE, DESTINATION_RSE)
        server.client().add_scope("root", SCOPE)
        build(root / "frdf" / SCOPE)
        build(root / "usdf" / SCOPE)
        done = Sites(server, root / "frdf", root / "usdf", time.perf_counter() - t0)
        print(f"\nRucio session set-up {done.setup_seconds:.1f} s (server {server.timings}, db {server.db_url})")
        yield done
    finally:
        server.close()
        if old is None:
            os.environ.pop("RUCIO_CONFIG", None)
        else:
            os.environ["RUCIO_CONFIG"] = old


def produce(repo: str, run: str) -> int:
    """A step's outputs at the source: one SUMMARY per visit and one DETAIL per visit and detector."""
    from lsst.daf.butler import Butler, DatasetType

    with Butler.from_config(repo, writeable=True) as butler:
        for name, dims in ((SUMMARY, ("instrument", "visit")), (DETAIL, ("instrument", "visit", "detector"))):
            butler.registry.registerDatasetType(DatasetType(name, dims, "StructuredDataDict",
                                                            universe=butler.dimensions))
        butler.registry.registerRun(run)
        for visit in VISITS:
            butler.put({"visit": visit, "run": run}, SUMMARY, instrument=INSTRUMENT, visit=visit, run=run)
            for det in DETECTORS:
                butler.put({"visit": visit, "detector": det}, DETAIL, instrument=INSTRUMENT, visit=visit,
                           detector=det, run=run)
    return len(VISITS) * (1 + len(DETECTORS))


def source_bytes(repo: str, run: str) -> int:
    return sum(p.stat().st_size for p in (Path(repo) / run).rglob("*") if p.is_file())


def ingestd(sites: Sites, request: TransferRequest) -> int:
    """What ctrl_ingestd does at the destination once Rucio reports the files there: read each file's
    Butler metadata from Rucio (the DatasetRef rucio_register attaches) and ingest the file in place, with
    the same dataset ID. (`transfer_from` would need the source Butler; the destination has only Rucio.)"""
    from lsst.daf.butler import Butler, DatasetRef, FileDataset

    client = sites.server.client()
    name = dataset_name(request)
    with Butler.from_config(sites.destination_repo, writeable=True) as butler:
        datasets = []
        for f in client.list_files(SCOPE, name):
            meta = client.get_metadata(SCOPE, f["name"], plugin="JSON")
            ref = DatasetRef.from_json(meta["rubin_sidecar"], universe=butler.dimensions)
            butler.registry.registerDatasetType(ref.datasetType)
            butler.registry.registerRun(ref.run)
            datasets.append(FileDataset(path=str(Path(sites.destination_repo) / f["name"]), refs=[ref]))
        butler.ingest(*datasets, transfer=None)
    return len(datasets)


def unique_run() -> str:
    return f"HSC/runs/test/step2/{uuid.uuid4().hex[:8]}"


def rule_of(sites: Sites, rule_id: str) -> dict[str, Any]:
    return dict(sites.server.client().get_replication_rule(rule_id))


def test_start_registers_exactly_the_selected_datasets_and_makes_one_rule(sites: Sites) -> None:
    run = unique_run()
    n = produce(sites.source_repo, run)
    progress = sites.adapter().start(sites.request(run))
    assert progress.state == TransferState.RUNNING, progress.message
    assert progress.datasets == n == 30 and progress.bytes == source_bytes(sites.source_repo, run)
    client = sites.server.client()
    files = list(client.list_files(SCOPE, dataset_name(sites.request(run))))
    assert len(files) == n and sum(f["bytes"] for f in files) == progress.bytes
    # Names keep the Butler tree: the file's path under the repository root.
    assert all((Path(sites.source_repo) / f["name"]).is_file() and f["name"].startswith(run) for f in files)
    assert all(len(f["adler32"]) == 8 for f in files)
    rules = [r for r in client.list_did_rules(SCOPE, dataset_name(sites.request(run)))
             if r["rse_expression"] == DESTINATION_RSE]
    assert [r["id"] for r in rules] == [progress.handle]
    assert rule_of(sites, progress.handle)["state"] == "REPLICATING"


def test_starting_twice_duplicates_neither_files_nor_rules(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    first = sites.adapter().start(sites.request(run))
    again = sites.adapter().start(sites.request(run))
    assert again.state == TransferState.RUNNING and again.handle == first.handle
    assert (again.datasets, again.bytes) == (first.datasets, first.bytes)
    client = sites.server.client()
    name = dataset_name(sites.request(run))
    assert len(list(client.list_files(SCOPE, name))) == first.datasets
    assert len([r for r in client.list_did_rules(SCOPE, name) if r["rse_expression"] == DESTINATION_RSE]) == 1


def test_a_rule_goes_running_then_ok_awaiting_ingest_then_done(sites: Sites) -> None:
    run = unique_run()
    n = produce(sites.source_repo, run)
    adapter, request = sites.adapter(), sites.request(run)
    started = adapter.start(request)

    replicating = adapter.poll(request, started.handle)
    assert replicating.state == TransferState.RUNNING and "REPLICATING" in replicating.message
    assert (replicating.datasets, replicating.arrived) == (n, 0)

    # FTS's part: the bytes at the destination RSE, the replicas marked available: the rule is OK.
    assert sites.server.arrive(started.handle, sites.frdf, sites.usdf) == n
    assert rule_of(sites, started.handle)["state"] == "OK"
    waiting = adapter.poll(request, started.handle)
    assert waiting.state == TransferState.RUNNING and waiting.arrived == 0
    assert f"rule OK, 0 of {n} ingested" in waiting.message

    # ctrl_ingestd's part: the destination Butler ingests the arrived files.
    assert ingestd(sites, request) == n
    done = adapter.poll(request, started.handle)
    assert done.state == TransferState.DONE, done.message
    assert (done.datasets, done.arrived, done.bytes) == (n, n, started.bytes)
    from lsst.daf.butler import Butler

    with Butler.from_config(sites.destination_repo) as butler:
        ref = butler.find_dataset(SUMMARY, instrument=INSTRUMENT, visit=1003, collections=run)
        assert ref is not None and butler.get(ref) == {"visit": 1003, "run": run}
        # The moved run heads the destination's chain, before its inputs: the next runs there read it.
        assert list(butler.collections.get_info(request.chain).children) == [run, DEFAULTS_COLLECTION]


def test_a_rule_that_cannot_complete_is_stuck_and_says_which_transfer(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    adapter, request = sites.adapter(), sites.request(run, types=(SUMMARY,))
    started = adapter.start(request)
    sites.server.fail(started.handle)  # what the conveyor's finisher does when the copy fails for good
    stuck = adapter.poll(request, started.handle)
    assert stuck.state == TransferState.STUCK
    for word in (started.handle, "frdf", SOURCE_RSE, "usdf", DESTINATION_RSE, SUMMARY):
        assert word in stuck.message
    # The engine's retry starts it again: the same rule, handed to the judge-repairer, not a second one.
    again = adapter.start(request)
    assert again.state == TransferState.RUNNING and again.handle == started.handle
    assert rule_of(sites, started.handle)["state"] == "STUCK"


def test_a_where_sends_only_the_visits_it_selects(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    adapter = sites.adapter()
    some = sites.request(run, where=f"instrument = '{INSTRUMENT}' AND visit IN (1001, 1002)")
    progress = adapter.start(some)
    assert progress.state == TransferState.RUNNING and progress.datasets == 2 * (1 + len(DETECTORS))
    names = [f["name"] for f in sites.server.client().list_files(SCOPE, dataset_name(some))]
    assert len(names) == progress.datasets
    assert all("1001" in name or "1002" in name for name in names)
    # Another site's visits are another transfer: its own Rucio dataset and rule.
    others = adapter.start(sites.request(run, where=f"instrument = '{INSTRUMENT}' AND visit IN (1003)"))
    assert others.datasets == 1 + len(DETECTORS) and others.handle != progress.handle


def test_nothing_to_send_fails_without_a_rule_as_between_butlers(sites: Sites) -> None:
    request = sites.request(unique_run())  # a RUN the source does not have
    progress = sites.adapter().start(request)
    assert progress.state == TransferState.FAILED and progress.datasets == 0 and progress.handle == ""
    assert "nothing to send" in progress.message
    assert sites.adapter().poll(request, "").state == TransferState.FAILED


def test_a_rule_is_never_done_when_the_source_selection_comes_back_empty(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    adapter = sites.adapter()
    started = adapter.start(sites.request(run, types=(SUMMARY,)))
    sites.server.arrive(started.handle, sites.frdf, sites.usdf)
    progress = adapter.poll(replace(sites.request(run, types=(SUMMARY,)), collections=()), started.handle)
    assert progress.state == TransferState.UNKNOWN and started.handle in progress.message


def test_a_butler_outside_its_rse_tree_fails_saying_where_it_must_live(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    adapter = RucioTransfer({"frdf": RucioSite(SOURCE_RSE, "hsc"), "usdf": RucioSite(DESTINATION_RSE, "hsc")},
                            rucio_config=str(sites.server.config))
    progress = adapter.start(sites.request(run))
    assert progress.state == TransferState.FAILED
    assert str(sites.frdf / "hsc") in progress.message and "<RSE root>/<scope>" in progress.message


def test_a_rule_rucio_does_not_know_fails_clearly(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    missing = uuid.uuid4().hex
    progress = sites.adapter().poll(sites.request(run), missing)
    assert progress.state == TransferState.FAILED
    assert missing in progress.message and "RuleNotFound" in progress.message


def test_rucio_down_is_unknown_never_failed_and_recovers(sites: Sites) -> None:
    run = unique_run()
    produce(sites.source_repo, run)
    adapter, request = sites.adapter(), sites.request(run)
    started = adapter.start(request)
    sites.server.stop()
    try:
        down = adapter.poll(request, started.handle)
        assert down.state == TransferState.UNKNOWN and "could not be asked" in down.message
        other = unique_run()
        produce(sites.source_repo, other)
        refused = adapter.start(sites.request(other))
        assert refused.state == TransferState.UNKNOWN and "could not be asked" in refused.message
    finally:
        sites.server.run()
    assert adapter.poll(request, started.handle).state == TransferState.RUNNING


@pytest.mark.parametrize(("at", "status"), [("auth", 200), ("api", 200), ("api", 500)])
def test_an_html_answer_in_front_of_rucio_is_unknown(sites: Sites, httpserver: HTTPServer, tmp_path: Path,
                                                      at: str, status: int) -> None:
    """A proxy or login page answering instead of Rucio (HTML, 200 or 5xx), when authenticating or once
    authenticated (the session's token copied): UNKNOWN, with what was seen."""
    httpserver.expect_request(re.compile(".*")).respond_with_data(
        "<!DOCTYPE html><html><body>Sign in</body></html>", status=status, content_type="text/html")
    token = tmp_path / "token" / "root"
    if at == "api":
        token.parent.mkdir()
        shutil.copy(sites.server.workdir / "token" / "root", token)
    config = tmp_path / "rucio.cfg"
    text = sites.server.config.read_text(encoding="utf-8").replace(sites.server.url, httpserver.url_for("/").rstrip("/"))
    config.write_text(text.replace(str(sites.server.workdir / "token" / "root"), str(token)), encoding="utf-8")
    run = unique_run()
    produce(sites.source_repo, run)
    adapter = RucioTransfer(sites.adapter().sites, rucio_config=str(config), timeout=10)
    try:
        polled = adapter.poll(sites.request(run), uuid.uuid4().hex)
        started = adapter.start(sites.request(run))
    finally:
        sites.adapter()._client()  # the session's rucio.cfg again, for the next tests
    assert polled.state == started.state == TransferState.UNKNOWN
    for message in (polled.message, started.message):
        assert "could not be asked" in message and httpserver.url_for("/").rstrip("/") in message


def test_for_profiles_maps_sites_to_their_rses() -> None:
    def profile(name: str, site: str, transfer: dict[str, Any] | None) -> Profile:
        data = {"name": name, "description": "d", "site": site, "wms": "panda", "bps": {"wmsServiceClass": "x"}}
        return profile_from_dict({**data, "transfer": transfer} if transfer else data)

    adapter = RucioTransfer.for_profiles([
        profile("usdf-panda", "USDF", {"kind": "rucio", "rse": "SLAC_BUTLER_DISK", "scope": "hsc"}),
        profile("frdf-panda", "FrDF", {"kind": "rucio", "rse": "IN2P3_BUTLER_DISK", "scope": "hsc"}),
        profile("local-parsl", "local", None)])
    assert adapter.sites["usdf-panda"] == adapter.sites["USDF"] == RucioSite("SLAC_BUTLER_DISK", "hsc")
    assert adapter.sites["frdf-panda"].rse == "IN2P3_BUTLER_DISK" and "local-parsl" not in adapter.sites
