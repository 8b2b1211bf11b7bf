"""The campaign domain model: immutable values (spec/parse.py builds them from a validated spec and its profile)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .checks import Check
from .stacks import StackSource
from .wms import WmsKind

Gate = Literal["auto", "manual"]
SplitKind = Literal["none", "values", "count", "query", "residency"]

# The one group a query-split step has before its Butler query ran: the plan shows it, apply resolves it.
PENDING_QUERY = "pending-query"


def pending_at(site: str) -> str:
    """The group a residency split has at `site` before that site's Butler was asked (never submitted)."""
    return f"{PENDING_QUERY}.{site}"


def is_pending(group: str) -> bool:
    return group == PENDING_QUERY or group.startswith(PENDING_QUERY + ".")

RESOURCE_KEYS = (
    "requestMemory",
    "requestCpus",
    "requestWalltime",
    "numberOfRetries",
    "memoryMultiplier",
    "requestMemoryMax",
)


@dataclass(frozen=True)
class Resources:
    """BPS resource requests; None means "leave the BPS default"."""

    values: tuple[tuple[str, int | float], ...] = ()
    tasks: tuple[tuple[str, tuple[tuple[str, int | float], ...]], ...] = ()

    def over(self, base: Resources) -> Resources:
        """These resources with `base` filling what they leave unset."""
        merged = dict(base.values) | dict(self.values)
        tasks = {label: dict(v) for label, v in base.tasks}
        for label, v in self.tasks:
            tasks[label] = tasks.get(label, {}) | dict(v)
        return Resources(
            tuple((k, merged[k]) for k in RESOURCE_KEYS if k in merged),
            tuple((label, tuple((k, tasks[label][k]) for k in RESOURCE_KEYS if k in tasks[label]))
                  for label in sorted(tasks)),
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values)
        if self.tasks:
            out["tasks"] = {label: dict(v) for label, v in self.tasks}
        return out


@dataclass(frozen=True)
class Split:
    """How a step is cut into groups."""

    by: SplitKind = "none"
    dimension: str | None = None
    values: tuple[tuple[int | str, ...], ...] = ()
    ranges: tuple[tuple[int, int, str | None], ...] = ()
    max_size: int | None = None
    source: str | None = None
    datasets: tuple[str, ...] = ()  # residency: values count where these dataset types exist



@dataclass(frozen=True)
class Step:
    name: str
    subsets: tuple[str, ...]
    requires: tuple[str, ...]
    data_query: str = ""
    split: Split = field(default_factory=Split)
    resources: Resources = field(default_factory=Resources)
    clustering: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    gate: Gate = "auto"
    approved_by: str | None = None
    max_failed_fraction: float = 0.0
    bps: tuple[tuple[str, Any], ...] = ()
    skip: tuple[tuple[str, str], ...] = ()  # group (or "*") -> reason
    accept: tuple[tuple[str, str], ...] = ()
    supersede: tuple[tuple[str, str], ...] = ()
    site: str | None = None  # multi-site: the site (profile name) of every run of the step
    transfer_types: tuple[str, ...] = ()  # multi-site: dataset types moved in (empty: from the pipeline)
    checks: tuple[Check, ...] = ()  # checks of its output, evaluated once it is done (domain/checks.py)

    @property
    def placed_by_data(self) -> bool:
        """True when each group sits at its own site (a `by: residency` split)."""
        return self.split.by == "residency"

    @property
    def gate_open(self) -> bool:
        return self.gate == "auto" or bool(self.approved_by)

    def reason(self, control: str, group: str) -> str | None:
        """Why the spec skips / accepts / supersedes `group` of this step ('*' names every group), or None."""
        entries = dict(getattr(self, control))
        return entries.get(group, entries.get("*"))


BPS_DEFAULT_MEMORY = 2048  # MB: bps's requestMemory when nothing sets it


@dataclass(frozen=True)
class QueueMap:
    """A site's queues by memory: each queue takes jobs up to its `max_memory` (MB), smallest first."""

    by_memory: tuple[tuple[str, int], ...]
    final: str | None = None  # the final job's queue (brokered off: it must be named)

    @property
    def largest(self) -> tuple[str, int]:
        return self.by_memory[-1]

    def queue_for(self, memory: float) -> str | None:
        """The smallest queue that holds `memory` MB; None when none does."""
        return next((queue for queue, limit in self.by_memory if memory <= limit), None)


@dataclass(frozen=True)
class TransferConfig:
    """How datasets reach and leave a site's Butler: `butler` (Butler.transfer_from between repositories)
    or `rucio` (files registered at the site's RSE in `scope`; a replication rule moves them)."""

    kind: str = "butler"
    rse: str = ""  # the site's RSE, e.g. SLAC_BUTLER_DISK
    scope: str = ""  # Rucio scope; the site's Butler tree lives at <RSE root>/<scope>
    rucio_config: str = ""  # rucio.cfg of the client; empty: $RUCIO_CONFIG
    root: str = ""  # local directory of the RSE's files; empty: the prefix of the RSE's file protocol



@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    site: str
    wms: WmsKind
    stack_setup: str
    bps: tuple[tuple[str, Any], ...]
    monitor: tuple[tuple[str, Any], ...] = ()  # the WMS's monitor (BigPanDA): url, username, requests_per_hour
    queues: QueueMap | None = None
    butler_repo: str = ""  # the site's own Butler (multi-site); "" means the campaign's
    reaches: tuple[str, ...] = ()  # a runner per facility: the other sites' Butlers this site's runner can read
    transfer: TransferConfig | None = None  # how transfers reach this site; None: Butler-to-Butler
    stacks: StackSource | None = None  # where the site lists its stack tags; None: not checked

    def __post_init__(self) -> None:
        if not isinstance(self.wms, WmsKind):  # a profile built in code with the word of its YAML
            object.__setattr__(self, "wms", WmsKind(self.wms))

    @property
    def memory_queues_mb(self) -> tuple[int, ...]:
        """The memory limits of the site's queues, ascending (`campaign profile` rounds up to them)."""
        return tuple(limit for _, limit in self.queues.by_memory) if self.queues else ()



# A developer stack's tag: a release, weekly or daily base, then '+' and the tickets set up on top.
DEVELOPER_SEPARATOR = "+"


def developer_setup(packages: tuple[str, ...]) -> str:
    """EUPS commands setting each package directory up on top of the base stack (keeping its versions)."""
    return " ".join(f"setup -k -r {path};" for path in packages)


@dataclass(frozen=True)
class Campaign:
    name: str
    description: str
    operator: str
    project: str
    ticket: str
    profile: Profile
    stack_tag: str
    stack_setup: str
    butler_repo: str
    inputs: tuple[str, ...]
    output_pattern: str
    pipeline: str
    data_query: str
    resources: Resources
    steps: tuple[Step, ...]
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    retention: tuple[tuple[str, Any], ...] = ()  # the spec's retention keys; lists as tuples
    schedule_cron: str | None = None
    schedule_name: str | None = None
    path: Path | None = None  # the campaign.yaml it came from (for relative sources)
    hold: str | None = None  # a hold written in the spec: its reason
    butler_setup: tuple[str, ...] = ()  # commands that build a fresh repository before step 1 (butler.setup)
    stack_packages: tuple[str, ...] = ()  # ticket branches set up on top of the base (developer stack)
    site_profiles: tuple[Profile, ...] = ()  # multi-site: every site's profile, the central one included
    autopilot: bool = True  # campaign reconcile applies the failure rules (false: people retry by hand)
    confirm_new_rules: bool = False  # a rule's first use in this campaign waits for `campaign control confirm`
    checks: tuple[Check, ...] = ()  # checks of the whole campaign's output, once every step is done
    preflight: tuple[Check, ...] = ()  # inputs every selected data ID must have before step 1 (kind "inputs")
    template: str | None = None  # the template it was made from (`campaign new --from`), read by spec/load

    def all_checks(self) -> tuple[Check, ...]:
        """Every check: the preflight's, the steps' in step order, then the campaign's."""
        return (*self.preflight, *(c for s in self.steps for c in s.checks), *self.checks)

    @property
    def central(self) -> str:
        """The central site: the campaign's own profile."""
        return self.profile.name

    @property
    def multisite(self) -> bool:
        return len(self.site_profiles) > 1

    @property
    def sites(self) -> tuple[str, ...]:
        """The sites taking part, central first."""
        others = tuple(p.name for p in self.site_profiles if p.name != self.central)
        return (self.central, *others)

    def site_profile(self, site: str) -> Profile:
        """The profile of `site` ("" is the central site)."""
        if not site or site == self.central:
            return self.profile
        for p in self.site_profiles:
            if p.name == site:
                return p
        raise KeyError(site)

    def repo_at(self, site: str) -> str:
        """The Butler repository runs at `site` read and write: the site profile's own, else the campaign's."""
        own = self.site_profile(site).butler_repo
        return repo_for(own, self.name, self.stack_tag) if own else self.butler_repo

    def input_sites(self) -> tuple[str, ...]:
        """The sites whose Butlers the first steps (those requiring none) read the inputs from, central first:
        every site for a step split by residency, a step's own `site:`, else the central site."""
        found: list[str] = []
        for step in self.steps:
            if not step.requires:
                found += self.sites if step.placed_by_data else [step.site or self.central]
        return tuple(s for s in self.sites if s in found)

    def check_site(self, check: Check) -> str:
        """The site whose Butler a check reads: a multi-site preflight's own site; a step placed at one site
        (`site:`) is read there; the campaign's checks and steps split by residency read the central site's."""
        if check.site:
            return check.site
        step = next((s for s in self.steps if s.name == check.scope), None)
        return step.site if step is not None and step.site and not step.placed_by_data else self.central

    def step_site(self, step: Step, group: str) -> str:
        """Where a run of `step` goes: its residency group's site, the step's site, or the central site."""
        if step.placed_by_data:
            return group.removeprefix(PENDING_QUERY + ".")
        return step.site or self.central

    @property
    def output(self) -> str:
        """The output CHAINED collection, placeholders filled."""
        return self.output_pattern.format_map(
            {"campaign": self.name, "stack": self.stack_tag, "ticket": self.ticket or "none",
             "operator": self.operator})

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def stack_base(self) -> str:
        """The released, weekly or daily stack a developer stack builds on (the tag itself otherwise)."""
        return self.stack_tag.split(DEVELOPER_SEPARATOR, 1)[0]

    @property
    def stack_tickets(self) -> tuple[str, ...]:
        return tuple(self.stack_tag.split(DEVELOPER_SEPARATOR)[1:])

    def stack_text(self) -> str:
        """Which stack runs, in words: the tag, and for a developer stack what is set up on top."""
        if not self.stack_packages:
            return self.stack_tag
        return (f"{self.stack_tag} (base {self.stack_base}, set up on top: "
                f"{', '.join(self.stack_packages)})")

    def setup_command(self) -> str:
        """The submit side's set-up: the base stack, then a developer stack's packages on top."""
        template = self.stack_setup or self.profile.stack_setup
        command = template.replace("{tag}", self.stack_base)
        if self.stack_packages:
            extra = " && ".join(f"setup -k -r {path}" for path in self.stack_packages)
            command = f"{command} && {extra}" if command.strip() else extra
        return command



REPO_PLACEHOLDERS = ("campaign", "stack")


def repo_for(pattern: str, campaign: str, stack: str) -> str:
    """The Butler repository of a campaign: {campaign} and {stack} filled, so each instance of a recurring
    campaign with a set-up stage gets a repository of its own."""
    return pattern.replace("{campaign}", campaign).replace("{stack}", stack)


@dataclass(frozen=True)
class Group:
    """One slice of a step: one BPS run."""

    name: str
    query: str  # the group's own part of the data query ("" for no split)
    size: int | None = None  # number of data IDs, when known

    @property
    def pending(self) -> bool:
        """True for the placeholder of a query split whose Butler query has not run yet."""
        return is_pending(self.name)


@dataclass(frozen=True)
class PlannedRun:
    """One BPS submission the campaign implies (step x group)."""

    campaign: str
    step: str
    group: str
    subsets: tuple[str, ...]
    data_query: str
    requires: tuple[str, ...]
    gate: Gate
    gate_open: bool
    resources: Resources
    size: int | None = None
    site: str = ""  # multi-site: the site (profile name) the run goes to; "" in a single-site campaign

    @property
    def key(self) -> str:
        return f"{self.step}/{self.group}"

    @property
    def pending(self) -> bool:
        """True while the step's groups wait for the Butler query of the first apply."""
        return is_pending(self.group)


@dataclass(frozen=True)
class PlannedTransfer:
    """A transfer stage of a multi-site plan: what the runs of `step` at `destination` need of what the runs of
    `requires` produced at `source`, moved before those runs are submitted."""

    step: str  # the step that reads the datasets
    destination: str  # site (profile name)
    requires: str  # the step that wrote them
    source: str
    dataset_types: tuple[str, ...]
    where: str  # what the destination's runs read: only those datasets move (a fan-out's resident visits)
    sources: tuple[str, ...]  # run keys at the source whose output runs are moved
    readers: tuple[str, ...] = ()  # later steps at the destination that read the same datasets (moved once)

    @property
    def key(self) -> str:
        """The transfer's one name: in the plan, the ledger, the status pages and its issue."""
        return f"{self.step}@{self.destination}<{self.requires}@{self.source}"

    def feeds(self, step: str) -> bool:
        return step == self.step or step in self.readers


@dataclass(frozen=True)
class Plan:
    campaign: Campaign
    runs: tuple[PlannedRun, ...]
    transfers: tuple[PlannedTransfer, ...] = ()  # multi-site: the transfer stages between steps
    excluded: tuple[tuple[str, tuple[str, ...]], ...] = ()  # preflight ref -> data IDs left out (missing: exclude)

    def transfers_into(self, run: PlannedRun) -> tuple[PlannedTransfer, ...]:
        """The transfers `run` waits for: into its step at its site."""
        return tuple(t for t in self.transfers if t.feeds(run.step) and t.destination == run.site)

    def runs_of(self, step: str) -> tuple[PlannedRun, ...]:
        return tuple(r for r in self.runs if r.step == step)
