"""Transfers through Rucio: the source's files registered at its RSE the way lsst/rucio_register does, one
Rucio dataset per transfer, a replication rule to the destination's RSE, then the destination Butler's
ingest (ctrl_ingestd in production) confirmed by counting its datasets.

Names keep the Butler tree: a file at <RSE root>/<scope>/<path> is the DID <scope>:<path>, so with the
`identity` lfn2pfn algorithm it lands at the same <path> under the destination Butler's root.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...domain.errors import ServiceError
from ...domain.states import TransferState
from ...ports import TransferProgress, TransferRequest
from . import inventory

if TYPE_CHECKING:
    from ...domain.model import Profile

CHUNK = 500  # DIDs per Rucio request
DATASET_PREFIX = "campaignops"
# Rucio answers that refuse what was asked (a configuration to fix), as opposed to a service not answering.
REFUSALS = ("ScopeNotFound", "RSENotFound", "InvalidRSEExpression", "InvalidObject", "InvalidType", "InvalidPath",
            "InsufficientAccountLimit", "InsufficientTargetRSEs", "RSEWriteBlocked", "UnsupportedOperation",
            "InvalidReplicationRule", "StagingAreaRuleRequiresLifetime", "DataIdentifierNotFound",
            "InvalidMetadata")
# What to do about a refusal, where the exception's own text does not say.
HINTS = {"InvalidMetadata": "the server keeps no JSON metadata, and ctrl_ingestd reads the DatasetRef "
                            "(rubin_sidecar) from it: enable the JSON DID metadata plugin (PostgreSQL)",
         "ScopeNotFound": "ask the Rucio administrators to add the scope (rucio-admin scope add)"}


class RucioError(ServiceError):
    """Rucio transfers cannot be set up as configured; the message says what to do."""


class _Unreachable(Exception):
    """Rucio (or a Butler) could not be asked: the transfer's state is UNKNOWN, never FAILED."""


class _Refused(Exception):
    """Rucio refused the request: the transfer FAILED, with what to fix."""


@dataclass(frozen=True)
class RucioSite:
    """A site's side of Rucio: its RSE, the scope its Butler tree is registered in, and where the RSE's
    files are on the local file system (empty: the prefix of the RSE's file protocol)."""

    rse: str
    scope: str
    root: str = ""


def dataset_name(request: TransferRequest) -> str:
    """The Rucio dataset of one transfer: the same for the same request, so starting again adds nothing.
    One per transfer, not per (RUN, dataset type): a `where` may send part of a RUN (the per-visit fan-out)
    and a rule moves whole datasets."""
    digest = hashlib.sha256(json.dumps([request.source_site, request.destination_site, request.source_repo,
                                        request.destination_repo, sorted(request.collections),
                                        sorted(request.dataset_types), request.where]).encode()).hexdigest()
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", request.key).strip("._-")[:120] or "transfer"
    return f"{DATASET_PREFIX}/{key}.{digest[:12]}"


def _checksums(path: Path) -> tuple[int, str, str]:
    """Size, adler32 (8 hex digits) and md5 of a file, read once."""
    adler, md5, size = 1, hashlib.md5(usedforsecurity=False), 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            adler = zlib.adler32(block, adler)
            md5.update(block)
            size += len(block)
    return size, f"{adler:08x}", md5.hexdigest()


def _chunks[T](items: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _use_config(path: str) -> None:
    """The Rucio client reads one rucio.cfg per process ($RUCIO_CONFIG, cached): point it at `path`."""
    if path and os.environ.get("RUCIO_CONFIG") != path:
        from rucio.common.config import clean_cached_config

        os.environ["RUCIO_CONFIG"] = path
        clean_cached_config()


class RucioTransfer:
    """The `Transfer` port through Rucio. `sites` maps a request's site names to their RSE and scope."""

    def __init__(self, sites: Mapping[str, RucioSite], rucio_config: str = "", timeout: int = 60) -> None:
        self.sites = dict(sites)
        self.rucio_config = rucio_config
        self.timeout = timeout

    @classmethod
    def for_profiles(cls, profiles: Sequence[Profile], timeout: int = 60) -> RucioTransfer:
        """From the `transfer: {kind: rucio, ...}` blocks of the sites' profiles, each known by its profile
        name and by its site; they must share one Rucio (one rucio.cfg)."""
        sites: dict[str, RucioSite] = {}
        configs = set()
        for profile in profiles:
            t = profile.transfer
            if t is None or t.kind != "rucio":
                continue
            site = RucioSite(t.rse, t.scope, t.root)
            sites[profile.name] = site
            sites.setdefault(profile.site, site)
            configs.add(t.rucio_config)
        if len(configs) > 1:
            raise RucioError(f"the profiles name different Rucio configurations ({', '.join(sorted(configs))}); "
                             "give every rucio profile the same transfer.rucio_config")
        return cls(sites, next(iter(configs), ""), timeout)

    # -- the port ------------------------------------------------------------------------------------

    def start(self, request: TransferRequest) -> TransferProgress:
        try:
            source, destination = self._site(request.source_site), self._site(request.destination_site)
            files = self._source_files(request)
            if not files:  # as the Butler-to-Butler adapter: the runs it moves should have written some
                return TransferProgress(TransferState.FAILED, message=f"nothing to send: {self._what(request)} "
                                        "holds no datasets (did the runs it moves succeed?)")
            client = self._client()
            root = self._root(client, source)
            dids, size, datasets = self._dids(files, root, source.scope)
            name = dataset_name(request)
            self._register(client, source, dids)
            self._attach(client, source, name, dids)
            rule_id = self._rule(client, source.scope, name, destination.rse, request.key)
        except _Unreachable as exc:
            return TransferProgress(TransferState.UNKNOWN, message=str(exc))
        except _Refused as exc:
            return TransferProgress(TransferState.FAILED, message=str(exc))
        return TransferProgress(TransferState.RUNNING, datasets=datasets, bytes=size, handle=rule_id,
                                message=f"Rucio rule {rule_id}: {len(dids)} files of {source.scope}:{name} "
                                        f"from {source.rse} to {destination.rse}")

    def poll(self, request: TransferRequest, handle: str) -> TransferProgress:
        try:
            source, destination = self._site(request.source_site), self._site(request.destination_site)
            sent = self._count(request.source_repo, request, "source")
            if not handle:
                if sent == 0:
                    return TransferProgress(TransferState.FAILED, message="nothing to send: the source holds "
                                            "none of these datasets")
                return TransferProgress(TransferState.FAILED, datasets=sent,
                                        message=f"no Rucio rule is recorded for transfer {request.key}: "
                                                "start it again")
            if sent == 0:  # never DONE on an empty count: the rule moves files of datasets no longer selected
                raise _Unreachable(f"the source Butler {request.source_repo} holds none of {self._what(request)} "
                                   f"now: rule {handle} cannot be checked against it")
            client = self._client()
            rule = self._ask(f"rule {handle}", lambda: client.get_replication_rule(handle), {"RuleNotFound"})
            if not isinstance(rule, dict) or "state" not in rule:
                raise _Unreachable(f"Rucio{_at()} could not be asked: it answered something that is not a rule "
                                   f"({str(rule)[:80]!r}): a proxy or login page in front of the server?")
            size = self._bytes(client, rule)
            where = self._route(request, source, destination)
            state = str(rule["state"])
            locks = f"{rule.get('locks_ok_cnt', 0)} OK, {rule.get('locks_replicating_cnt', 0)} replicating, " \
                    f"{rule.get('locks_stuck_cnt', 0)} stuck"
            if state in ("STUCK", "SUSPENDED"):
                error = f": {rule['error']}" if rule.get("error") else ""
                return TransferProgress(
                    TransferState.STUCK, datasets=sent, bytes=size, handle=handle,
                    message=f"Rucio rule {handle} is {state} ({locks}) moving {where}{error}; the judge-repairer "
                            "retries stuck rules: check the source replicas and the destination RSE, or start "
                            "the transfer again")
            if state != "OK":
                return TransferProgress(TransferState.RUNNING, datasets=sent, bytes=size, handle=handle,
                                        message=f"Rucio rule {handle} {state} ({locks}) moving {where}")
            arrived = self._count(request.destination_repo, request, "destination")
            if arrived >= sent and request.chain:
                self._chain(request)
        except _Unreachable as exc:
            return TransferProgress(TransferState.UNKNOWN, handle=handle, message=str(exc))
        except _Refused as exc:
            return TransferProgress(TransferState.FAILED, handle=handle, message=str(exc))
        if arrived >= sent:
            return TransferProgress(TransferState.DONE, datasets=sent, arrived=sent, bytes=size, handle=handle,
                                    message=f"rule OK, {sent} of {sent} ingested at {request.destination_site}")
        return TransferProgress(TransferState.RUNNING, datasets=sent, arrived=arrived, bytes=size, handle=handle,
                                message=f"rule OK, {arrived} of {sent} ingested at {request.destination_site}")

    # -- the Butler side -----------------------------------------------------------------------------

    def _source_files(self, request: TransferRequest) -> list[tuple[Any, Any]]:
        try:
            from lsst.daf.butler import Butler

            with Butler.from_config(request.source_repo) as butler:
                refs = inventory.select(butler, request.dataset_types, request.collections, request.where)
                return inventory.files(butler, refs)
        except Exception as exc:  # any Butler failure: it could not be asked
            raise _Unreachable(f"the source Butler {request.source_repo} could not be read: {exc}") from exc

    def _count(self, repo: str, request: TransferRequest, side: str) -> int:
        try:
            return inventory.count_at(repo, request.dataset_types, request.collections, request.where)
        except Exception as exc:  # any Butler failure: it could not be asked
            raise _Unreachable(f"the {side} Butler {repo} could not be read: {exc}") from exc

    @staticmethod
    def _chain(request: TransferRequest) -> None:
        """The moved runs at the front of the destination's chain, so its next runs read them."""
        try:
            inventory.chain_at(request.destination_repo, request.chain, request.collections, request.inputs)
        except Exception as exc:  # any Butler failure: it could not be asked
            raise _Unreachable(f"the datasets arrived but the destination Butler {request.destination_repo} "
                               f"could not chain them into {request.chain}: {exc}") from exc

    @staticmethod
    def _dids(files: list[tuple[Any, Any]], root: Path, scope: str) -> tuple[list[dict[str, Any]], int, int]:
        """One Rucio file DID per Butler file: name = its path inside the Butler tree (<root>/<scope>/),
        size, adler32, md5, and the Butler metadata rucio_register attaches (the DatasetRef as JSON)."""
        tree = (root / scope).resolve()
        dids, total, refs = [], 0, set()
        for ref, uri in files:
            if uri.scheme not in ("file", ""):
                raise _Refused(f"{uri} is not a local file: the Rucio adapter registers files of a POSIX "
                               "datastore only")
            path = Path(uri.ospath).resolve()
            if not path.is_relative_to(tree):
                raise _Refused(f"{path} lies outside {tree}: the Butler repository must live at "
                               f"<RSE root>/<scope> (set the site profile's transfer.root and scope)")
            size, adler32, md5 = _checksums(path)
            dids.append({"scope": scope, "name": path.relative_to(tree).as_posix(), "bytes": size,
                         "adler32": adler32, "md5": md5,
                         "meta": {"rubin_butler": 1, "rubin_sidecar": ref.to_json()}})
            total += size
            refs.add(ref.id)
        return dids, total, len(refs)

    # -- the Rucio side ------------------------------------------------------------------------------

    def _client(self) -> Any:
        try:
            _use_config(self.rucio_config)
            from rucio.client import Client

            return Client(timeout=self.timeout)
        except ImportError as exc:
            raise _Refused("rucio-clients is not installed: pip install -e '.[rucio]'") from exc
        except Exception as exc:  # no config, no server, no token: Rucio could not be asked
            raise _Unreachable(f"Rucio{_at()} could not be asked (authenticating): {type(exc).__name__}: "
                               f"{_short(exc)}") from exc

    @staticmethod
    def _ask[T](what: str, call: Callable[[], T], refusals: set[str] | None = None) -> T:
        """`call`, with Rucio's refusals as _Refused and anything else (no answer, 5xx, HTML, auth) as
        _Unreachable."""
        try:
            return call()
        except Exception as exc:
            raise _fault(what, exc, refusals) from exc

    def _site(self, site: str) -> RucioSite:
        if site not in self.sites:
            raise _Refused(f"no Rucio RSE is configured for site {site!r}: give its profile "
                           "`transfer: {kind: rucio, rse: <SITE>_BUTLER_DISK, scope: <scope>}`")
        return self.sites[site]

    def _root(self, client: Any, site: RucioSite) -> Path:
        """The local directory the RSE's files live under: configured, or its file protocol's prefix."""
        if site.root:
            return Path(site.root)
        protocols = self._ask(f"the protocols of {site.rse}", lambda: client.get_protocols(site.rse))
        for protocol in protocols or ():
            if protocol.get("scheme") in ("file", "posix") and protocol.get("prefix"):
                return Path(protocol["prefix"])
        raise _Refused(f"RSE {site.rse} has no file protocol: give the site profile's transfer.root "
                       "(the local directory holding <scope>/)")

    def _register(self, client: Any, site: RucioSite, dids: list[dict[str, Any]]) -> None:
        """Replicas at the source RSE for the files that have none there yet."""
        for chunk in _chunks(dids):
            keys = [{"scope": d["scope"], "name": d["name"]} for d in chunk]
            known = self._ask(f"replicas at {site.rse}",
                              lambda keys=keys: list(client.list_replicas(keys, rse_expression=site.rse)))  # type: ignore[misc]
            there = {r["name"] for r in known if site.rse in (r.get("rses") or {})}
            missing = [d for d in chunk if d["name"] not in there]
            if missing:
                self._ask(f"registering {len(missing)} files at {site.rse}",
                          lambda missing=missing: client.add_replicas(rse=site.rse, files=missing))  # type: ignore[misc]

    def _attach(self, client: Any, site: RucioSite, name: str, dids: list[dict[str, Any]]) -> None:
        """The transfer's Rucio dataset, holding every file (only those not attached yet are added)."""
        try:
            client.add_dataset(scope=site.scope, name=name, statuses={"monotonic": True}, rse=site.rse)
        except Exception as exc:
            if type(exc).__name__ != "DataIdentifierAlreadyExists":  # an existing one: the idempotent case
                raise _fault(f"creating dataset {site.scope}:{name}", exc) from exc
        held = {c["name"] for c in self._ask(f"the content of {site.scope}:{name}",
                                              lambda: list(client.list_content(site.scope, name)))}
        missing = [{"scope": d["scope"], "name": d["name"]} for d in dids if d["name"] not in held]
        for chunk in _chunks(missing):
            self._ask(f"attaching {len(chunk)} files to {site.scope}:{name}",
                      lambda chunk=chunk: client.attach_dids(site.scope, name, list(chunk)))  # type: ignore[misc]

    def _rule(self, client: Any, scope: str, name: str, rse: str, key: str) -> str:
        """The rule moving the dataset to `rse`: ours if it exists, else a new one."""
        def existing() -> str | None:
            rules = self._ask(f"the rules of {scope}:{name}", lambda: list(client.list_did_rules(scope, name)))
            return next((str(r["id"]) for r in rules
                         if r.get("rse_expression") == rse and r.get("account") == client.account), None)

        found = existing()
        if found:
            self._repair(client, found)
            return found
        try:
            return str(client.add_replication_rule([{"scope": scope, "name": name}], 1, rse,
                                                   comment=f"campaignops transfer {key}")[0])
        except Exception as exc:
            if type(exc).__name__ == "DuplicateRule" and (found := existing()):  # made meanwhile
                return found
            raise _fault(f"a replication rule of {scope}:{name} to {rse}", exc) from exc

    @staticmethod
    def _repair(client: Any, rule_id: str) -> None:
        """Starting a transfer whose rule is STUCK (or SUSPENDED) again asks the judge-repairer to take the
        rule next (a boost); a refusal leaves the rule as it is, for the next poll to report."""
        try:
            rule = client.get_replication_rule(rule_id)
            if rule.get("state") == "SUSPENDED":
                client.update_replication_rule(rule_id, {"state": "STUCK"})
            if rule.get("state") in ("STUCK", "SUSPENDED"):
                client.update_replication_rule(rule_id, {"boost_rule": True})
        except Exception:  # noqa: BLE001 - the repair is a nudge: the rule's state is read at the next poll
            pass

    def _bytes(self, client: Any, rule: dict[str, Any]) -> int:
        did = self._ask(f"dataset {rule['scope']}:{rule['name']}",
                        lambda: client.get_did(rule["scope"], rule["name"], dynamic_depth="FILE"))
        return int((did or {}).get("bytes") or 0)

    @staticmethod
    def _route(request: TransferRequest, source: RucioSite, destination: RucioSite) -> str:
        return (f"{', '.join(request.dataset_types)} from {request.source_site} ({source.rse}) to "
                f"{request.destination_site} ({destination.rse})")

    @staticmethod
    def _what(request: TransferRequest) -> str:
        where = f" where {request.where}" if request.where else ""
        return f"{', '.join(request.dataset_types)} in {', '.join(request.collections)}{where}"


def _fault(what: str, exc: Exception, refusals: set[str] | None = None) -> Exception:
    """Rucio's refusals (a configuration to fix) as _Refused; anything else as _Unreachable."""
    kind = type(exc).__name__
    if kind in (REFUSALS if refusals is None else refusals):
        hint = f"; {HINTS[kind]}" if kind in HINTS else ""
        return _Refused(f"Rucio{_at()} refused {what}: {kind}: {_short(exc)}{hint}")
    return _Unreachable(f"Rucio{_at()} could not be asked ({what}): {kind}: {_short(exc)}")


def _at() -> str:
    """' at <rucio_host>' of the client's configuration, for messages ('' when it has none)."""
    try:
        from rucio.common.config import config_get

        return f" at {config_get('client', 'rucio_host')}"
    except Exception:  # noqa: BLE001 - a message without the host is still a message
        return ""


def _short(exc: Exception) -> str:
    """An exception's text on one line, an HTML page cut short."""
    return " ".join(str(exc).split())[:300]
