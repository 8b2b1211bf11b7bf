"""The ports: the small interfaces through which the core reaches the world (WMS, Butler, issue tracker).

One real implementation of each lives in adapters/ (bps for every plugin, the Butler, GitHub or a
folder), and adapters/memory_wms.py is a WMS in memory for fast engine tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .domain.errors import WmsUnreachable
from .domain.states import FailedJob, RunState, TaskCounts, TransferState
from .domain.usage import JobUsage, ResourceUse

if TYPE_CHECKING:
    from .domain.model import Campaign, Step


@dataclass(frozen=True)
class Launch:
    """Where a detached `bps submit` was started."""

    launch_dir: Path
    pid: int


@dataclass(frozen=True)
class Submission:
    """What a launch left behind once bps has created the run: found again after a crash."""

    submit_dir: str
    wms_id: str
    since: str = ""  # UTC time the run was first submitted, when known: how far back a monitor must look


@dataclass(frozen=True)
class Observation:
    """One look at a run: its state and per-task quantum counts, as `bps report` shows them."""

    state: RunState
    tasks: tuple[TaskCounts, ...] = ()
    exit_codes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    errors: tuple[str, ...] = ()  # first error lines of failed quanta
    message: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (what, URL) of the run in the WMS's monitor
    failed_jobs: tuple[FailedJob, ...] = ()  # the monitor's failed jobs: codes, diagnostics, memory, log
    job_usage: tuple[JobUsage, ...] = ()  # the run's finished batch jobs as the scheduler accounts them


class Wms(Protocol):
    """Launch, find, observe and restart BPS runs. One real implementation per backend."""

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        """Start `bps submit config` detached in `launch_dir` (its own cwd) and return at once."""
        ...

    def launched(self, launch_dir: Path) -> bool:
        """Whether a launch was started in `launch_dir` (it may not have reached the WMS yet)."""
        ...

    def find_submission(self, launch_dir: Path) -> Submission | None:
        """The run a launch created, if bps got that far (used to reconcile after a crash)."""
        ...

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        """Current state of the run; raises WmsUnreachable when the WMS cannot be asked."""
        ...

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        """`bps restart` the run detached (re-runs only what failed)."""
        ...

    def cancel(self, submission: Submission | None, launch_dir: Path, setup: str) -> str:
        """Stop the run (`bps cancel`, or the bps process still submitting it); returns what was done.
        Raises WmsError when it could not be stopped (the run is then not recorded as cancelled)."""
        ...

    def describe(self) -> str:
        """One line on what this WMS cost the command (requests to a monitor, its budget), or "" when there
        is nothing to say; `campaign status` prints it once per distinct WMS."""
        ...


class BulkWms(Wms, Protocol):
    """A WMS that observes many runs at once (a monitor answering for all of them in a few requests).

    The engine uses `observe_many` once per status cycle when the WMS has it, and `observe` otherwise.
    """

    def observe_many(self, runs: Sequence[tuple[Submission, Path]], setup: str) -> dict[str, Observation]:
        """wms_id -> Observation for every run given (each with a run id); never raises for a monitor
        that cannot be asked: those runs are UNKNOWN with a message saying why."""
        ...


def bulk(wms: Wms) -> BulkWms | None:
    """`wms` when it can observe many runs at once, else None."""
    return wms if callable(getattr(wms, "observe_many", None)) else None  # type: ignore[return-value]


class UsageWms(Wms, Protocol):
    """A WMS that reports what each attempt's jobs used (the cost table of `campaign profile`)."""

    def resource_use(self, attempts: Sequence[tuple[str, int, Submission]]) -> list[ResourceUse]:
        """One record per ended attempt given — (run STEP/GROUP, attempt number, its submission) — that it can
        report; WmsUnreachable when it cannot be asked."""
        ...


def usage_of(wms: Wms) -> UsageWms | None:
    """`wms` when it reports its jobs' resource use, else None (the quanta's metadata then stands in)."""
    return wms if callable(getattr(wms, "resource_use", None)) else None  # type: ignore[return-value]


@dataclass(frozen=True)
class TransferRequest:
    """One transfer stage: datasets of `dataset_types` in the source's RUN `collections` (restricted by
    `where`, e.g. the visits the destination holds) copied from one site's Butler to another's, into RUN
    collections of the same names, with the dimension records the destination needs."""

    key: str  # the ledger's name of this transfer, e.g. "step2c<step2@frdf"
    source_site: str
    destination_site: str
    source_repo: str  # Butler repository (path or URL) at the source site
    destination_repo: str
    collections: tuple[str, ...]
    dataset_types: tuple[str, ...]
    where: str = ""
    # Once verified, the moved RUN collections are put at the front of this CHAINED collection at the
    # destination (created from them and `inputs` if absent), so the destination's next runs read them.
    chain: str = ""
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TransferProgress:
    """One look at a transfer: its state, what was selected at the source and what the destination
    Butler holds of it. `handle` is the adapter's id for later looks (a Rucio rule id)."""

    state: TransferState
    datasets: int = 0  # datasets selected at the source: what is sent
    arrived: int = 0  # of those, found in the destination Butler
    bytes: int = 0
    message: str = ""
    handle: str = ""


class Transfer(Protocol):
    """Move datasets between two sites' Butlers. Real adapters: Butler-to-Butler (`Butler.transfer_from`,
    the embedded default) and Rucio (register, replication rule to the destination RSE, ingest confirmed).

    Neither method raises for a service that cannot be asked: the progress is UNKNOWN with a message."""

    def start(self, request: TransferRequest) -> TransferProgress:
        """Begin the transfer. A synchronous copy returns DONE (verified) or FAILED; Rucio returns
        RUNNING with the rule id as `handle`. Starting a transfer again never duplicates datasets."""
        ...

    def poll(self, request: TransferRequest, handle: str) -> TransferProgress:
        """The transfer's state now; DONE only when `arrived == datasets` in the destination Butler."""
        ...


class DataIdSource(Protocol):
    """Where a query split gets its data IDs (the real one asks the Butler)."""

    def data_ids(self, campaign: Campaign, step: Step) -> list[int | str]:
        """Every value of `step.split.dimension` the step's data query selects."""
        ...

    def resident(self, campaign: Campaign, step: Step, site: str) -> list[int | str]:
        """Values of the step's split dimension resident in `site`'s Butler (a `by: residency` split)."""
        ...


@dataclass(frozen=True)
class InputCensus:
    """Of the data IDs a query selects (in a dataset type's dimensions), how many have the dataset in the inputs."""

    expected: int
    present: int
    missing: tuple[str, ...]  # the first missing data IDs, as text


class Measurements(Protocol):
    """What the pipeline wrote to a Butler, read for the checks of the output (engine/checks.py): one registry
    query per call. A Butler that cannot answer raises a CampaignError (the check is then UNKNOWN, never FAIL)."""

    def count(self, dataset_type: str, collections: Sequence[str]) -> int:
        """Datasets of `dataset_type` in `collections`, one per data ID (find-first, in the order given);
        0 when the type was never registered."""
        ...

    def values(self, dataset_type: str, collections: Sequence[str], key: str) -> list[float]:
        """The number named `key` in each dataset of the metric type (find-first); datasets without it are left
        out."""
        ...

    def census(self, dataset_type: str, collections: Sequence[str], where: str, show: int) -> InputCensus:
        """The preflight: every data ID of the type's dimensions that `where` selects, against the datasets of the
        type found in `collections` (two queries); the first `show` missing ones named."""
        ...

    def freeze(self, tagged: str, dataset_type: str, collections: Sequence[str], where: str) -> int:
        """Put the datasets of the type found in `collections` under `where` into the TAGGED collection `tagged`
        (made if absent; again harmless); returns how many it holds of that type."""
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class Issue:
    """A failure issue as any tracker holds it."""

    ref: str  # the issue number on GitHub, the file name in a folder
    key: str  # campaign/step/group, from the marker in the body
    title: str
    body: str
    url: str
    state: str = "open"  # open | closed
    comments: tuple[str, ...] | None = None  # None: not fetched yet

    @property
    def open(self) -> bool:
        return self.state == "open"

    @property
    def name(self) -> str:
        return f"#{self.ref}" if self.ref.isdigit() else self.ref


class Tracker(Protocol):
    """Where failure issues live. One implementation per backend (GitHub, a folder)."""

    def issues(self, campaign: str) -> list[Issue]:
        """Every issue (open and closed) whose marker names a run of `campaign`, oldest first."""
        ...

    def list_open_for(self, run_key: str) -> list[Issue]:
        """Open issues of one run (normally zero or one), oldest first."""
        ...

    def comments(self, issue: Issue) -> list[str]:
        """Bodies of the issue's comments, oldest first."""
        ...

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        ...

    def comment(self, issue: Issue, body: str) -> None:
        ...

    def close(self, issue: Issue) -> None:
        ...

    def finish(self) -> None:
        """After a sync: whatever makes the next one cheap (GitHub lists once more, so a quiet sync costs
        only conditional requests)."""
        ...

    def describe(self) -> str:
        """One line on what the tracker cost this command (requests by status), or ""."""
        ...



@dataclass(frozen=True)
class RemovalOutcome:
    """What retention did (or would do) with one expired RUN collection."""

    run: str
    removed: bool
    datasets: int
    why: str  # "removed", "would be removed", "not in the Butler", "kept: …"


class Removable(Protocol):
    """What a retention back-end needs of an expired run (planning/retention.Expired has it)."""

    @property
    def run(self) -> str: ...
    @property
    def chain(self) -> str: ...  # the campaign's own output chain, the only one it is unlinked from
    @property
    def protect(self) -> tuple[str, ...]: ...
    @property
    def drop_chain(self) -> bool: ...


class Retention(Protocol):
    """Where expired RUN collections are removed (registry.retention_backend: the campaign's Butler)."""

    def apply(self, expired: Sequence[Removable], *, dry_run: bool = False) -> list[RemovalOutcome]:
        """Remove (or with dry_run only check) each expired run; one outcome per run, in order."""
        ...

    def close(self) -> None:
        ...


__all__ = [
    "BulkWms",
    "DataIdSource",
    "InputCensus",
    "Issue",
    "Launch",
    "Measurements",
    "Observation",
    "Removable",
    "RemovalOutcome",
    "Retention",
    "Submission",
    "Tracker",
    "UsageWms",
    "Wms",
    "WmsUnreachable",
    "bulk",
    "usage_of",
]
