"""The Butler-to-Butler `Transfer`: `Butler.transfer_from` between two sites' repositories, then verified.

`start` selects the datasets at the source (types, RUN collections, `where`), copies them with their
dimension records and dataset types into RUN collections of the same names at the destination, and
verifies by dataset id that the destination holds every one: DONE with the counts and bytes (the sizes
of the source's files), or FAILED naming each dataset type short (sent against found). Once verified,
the moved runs go to the front of the request's `chain` at the destination (when it names one). It is
synchronous, so `poll` only verifies again. Starting again never duplicates: datasets already at the
destination (same id) are skipped by the Butler, and a transfer already complete copies nothing.

A repository that cannot be opened (a missing or unreadable path, a wrong URL, a database that does not
answer) is UNKNOWN, as a WMS that cannot be asked: the site cannot be asked now, the engine asks again on
its next cycle and no attempt is spent (the message names the repository and says to check the site's
profile if it stays so). An unknown collection or dataset type at the source, a `where` the Butler cannot
read, or nothing selected are FAILED (configuration to fix); a database that cannot be asked now
("database is locked" in SQLite, a PostgreSQL server that does not answer) is UNKNOWN too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...domain.errors import ButlerQueryError
from ...domain.states import TransferState
from ...ports import TransferProgress, TransferRequest
from .inventory import chain_at, has_collection, open_butler, select

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef

__all__ = ["ButlerTransfer"]

_MISSING_SHOWN = 3  # data IDs of missing datasets named in a FAILED message
# What a database says when it cannot be asked now (SQLite locked by a writer; PostgreSQL down or busy).
_BUSY = ("database is locked", "database table is locked", "could not connect", "connection refused",
         "connection timed out", "timeout expired", "server closed the connection", "too many connections")


def _unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be asked now, rather than never."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(marker in str(seen).lower() for marker in _BUSY):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _data_id(ref: DatasetRef) -> str:
    return " ".join(f"{k}={v}" for k, v in ref.dataId.required.items() if k not in ("instrument", "skymap"))


class _Outcome(Exception):
    """A finished look, carried out of the nested opens."""

    def __init__(self, progress: TransferProgress) -> None:
        super().__init__(progress.message)
        self.progress = progress


class ButlerTransfer:
    """`ports.Transfer` between two Butler repositories with `Butler.transfer_from` (file copies)."""

    def __init__(self, transfer_mode: str = "copy") -> None:
        self.transfer_mode = transfer_mode

    def start(self, request: TransferRequest) -> TransferProgress:
        return self._look(request, copy=True)

    def poll(self, request: TransferRequest, handle: str) -> TransferProgress:
        return self._look(request, copy=False)

    # ---- one look: select at the source, copy if asked, verify at the destination -------------------

    def _look(self, request: TransferRequest, copy: bool) -> TransferProgress:
        source: Butler | None = None
        destination: Butler | None = None
        try:
            source = self._open(request, "source", writeable=False)
            refs = self._select(request, source)
            destination = self._open(request, "destination", writeable=False)
            missing = self._missing(destination, refs)
            if missing and copy:
                destination.close()
                destination = None
                destination = self._open(request, "destination", writeable=True)
                try:
                    destination.transfer_from(source, refs, transfer=self.transfer_mode, register_dataset_types=True,
                                              transfer_dimensions=True)
                except Exception as exc:
                    raise _Outcome(self._refused(request, f"the copy into {self._where(request, 'destination')} "
                                                          f"failed: {exc}", exc)) from exc
                missing = self._missing(destination, refs)
            progress = self._verdict(request, source, refs, missing)
            if progress.state == TransferState.DONE and request.chain:
                self._chain(request)
            return progress
        except _Outcome as outcome:
            return outcome.progress
        finally:
            for butler in (source, destination):
                if butler is not None:
                    butler.close()

    def _where(self, request: TransferRequest, end: str) -> str:
        site, repo = ((request.source_site, request.source_repo) if end == "source"
                      else (request.destination_site, request.destination_repo))
        return f"{end} {site} ({repo})"

    def _refused(self, request: TransferRequest, message: str, exc: BaseException) -> TransferProgress:
        if _unreachable(exc):
            return TransferProgress(TransferState.UNKNOWN, message=f"{message} — will ask again")
        return TransferProgress(TransferState.FAILED, message=f"transfer {request.key}: {message}")

    def _open(self, request: TransferRequest, end: str, writeable: bool) -> Butler:
        repo = request.source_repo if end == "source" else request.destination_repo
        try:
            return open_butler(repo, writeable=writeable)
        except ButlerQueryError as exc:
            # A site whose Butler cannot be opened cannot be asked: UNKNOWN (README, "multi-site"), asked
            # again next cycle without spending an attempt, never FAILED.
            cause = exc.__cause__ or exc
            hint = "" if _unreachable(cause) else "; if it stays so, check the site's butler repo in its profile"
            raise _Outcome(TransferProgress(TransferState.UNKNOWN, message=(
                f"cannot open the {self._where(request, end)}: {cause}{hint} — will ask again"))) from exc

    def _select(self, request: TransferRequest, source: Butler) -> list[DatasetRef]:
        from lsst.daf.butler import MissingDatasetTypeError

        at = self._where(request, "source")
        try:
            unknown = [c for c in request.collections if not has_collection(source, c)]
            if unknown:
                raise _Outcome(TransferProgress(TransferState.FAILED, message=(
                    f"transfer {request.key}: the {at} has no collection {', '.join(map(repr, unknown))} "
                    "(did the run that makes it start? is the collection name right?)")))
            for name in request.dataset_types:
                try:
                    source.get_dataset_type(name)
                except MissingDatasetTypeError:
                    raise _Outcome(TransferProgress(TransferState.FAILED, message=(
                        f"transfer {request.key}: the {at} has no dataset type {name!r}"))) from None
            refs = select(source, request.dataset_types, request.collections, request.where)
        except _Outcome:
            raise
        except Exception as exc:
            raise _Outcome(self._refused(request, f"cannot select datasets at the {at}: {exc}", exc)) from exc
        if not refs:
            where = f" where {request.where}" if request.where else ""
            raise _Outcome(TransferProgress(TransferState.FAILED, message=(
                f"transfer {request.key}: nothing to send — no {', '.join(request.dataset_types)} in "
                f"{', '.join(request.collections)}{where} at the {at} (did the runs it moves succeed?)")))
        return refs

    def _missing(self, destination: Butler, refs: list[DatasetRef]) -> list[DatasetRef]:
        """Which of `refs` the destination does not hold (by dataset id, in the refs' own runs)."""
        types = sorted({ref.datasetType.name for ref in refs})
        runs = sorted({ref.run for ref in refs})
        try:
            held = {ref.id for ref in select(destination, types, runs, "")}
        except Exception as exc:
            raise _Outcome(TransferProgress(TransferState.UNKNOWN if _unreachable(exc) else TransferState.FAILED,
                                            message=f"cannot count what the destination holds: {exc}")) from exc
        return [ref for ref in refs if ref.id not in held]

    def _chain(self, request: TransferRequest) -> None:
        try:
            chain_at(request.destination_repo, request.chain, request.collections, request.inputs)
        except Exception as exc:
            raise _Outcome(self._refused(request, f"the datasets arrived but the {self._where(request, 'destination')} "
                                                  f"could not chain them into {request.chain}: {exc}", exc)) from exc

    def _verdict(self, request: TransferRequest, source: Butler, refs: list[DatasetRef],
                 missing: list[DatasetRef]) -> TransferProgress:
        sent = Counter(ref.datasetType.name for ref in refs)
        short = Counter(ref.datasetType.name for ref in missing)
        size = _bytes(source, refs)
        arrived = len(refs) - len(missing)
        if not missing:
            counts = ", ".join(f"{n} {name}" for name, n in sorted(sent.items()))
            return TransferProgress(TransferState.DONE, datasets=len(refs), arrived=arrived, bytes=size,
                                    message=f"{counts} at {request.destination_site}, verified")
        lines = "; ".join(f"{name}: sent {sent[name]}, found {sent[name] - short[name]}" for name in sorted(short))
        shown = ", ".join(f"{ref.datasetType.name} {_data_id(ref)}" for ref in missing[:_MISSING_SHOWN])
        more = f" and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
        return TransferProgress(TransferState.FAILED, datasets=len(refs), arrived=arrived, bytes=size, message=(
            f"transfer {request.key}: the {self._where(request, 'destination')} is missing datasets — {lines} "
            f"(missing: {shown}{more})"))


def _bytes(source: Butler, refs: Iterable[DatasetRef]) -> int:
    """Total size of the source's files of `refs` (0 for an artifact whose size cannot be read)."""
    total = 0
    for uris in source.get_many_uris(list(refs)).values():
        for uri in [uris.primaryURI, *uris.componentURIs.values()]:
            if uri is None:
                continue
            try:
                total += uri.size()
            except (FileNotFoundError, OSError):
                continue
    return total
