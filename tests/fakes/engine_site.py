"""A campaign repository, a runner's work directory and the in-memory WMS both talk to: the harness of
the engine tests (a fresh `Context` per job, as a new process would start, the ledger read from disk)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.adapters.processes import read_process, running
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign, Plan, Profile
from campaignops.domain.stacks import Published, StackSource
from campaignops.domain.states import RunState
from campaignops.engine import cycle, submit
from campaignops.engine.context import Context
from campaignops.ledger import store
from campaignops.ledger.records import Ledger
from campaignops.planning.plan import make_plan

PROFILE = Profile("local-parsl", "test", "local", "parsl", "", (("wmsServiceClass", "x.Service"),))
FRDF = replace(PROFILE, name="local-frdf", site="FrDF", butler_repo="/sites/frdf")
USDF = replace(PROFILE, name="local-usdf", site="USDF", butler_repo="/sites/usdf")


def two_site_campaign(root: Path, usdf: Profile = USDF) -> Campaign:
    """A three-step campaign: step1 at FrDF (two groups), step2 at the central USDF, step3 back at FrDF."""
    data = {
        "name": "camp", "description": "d", "operator": "op", "profile": "local-usdf",
        "sites": ["local-usdf", "local-frdf"],
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/repo", "inputs": ["in"], "output": "out/{campaign}"},
        "pipeline": "pipelines/p.yaml", "data_query": "instrument='X'",
        "steps": [
            {"name": "step1", "subsets": ["step1"], "site": "local-frdf",
             "split": {"by": "values", "dimension": "visit", "values": [1, 2]}},
            {"name": "step2", "subsets": ["step2"], "transfer": {"dataset_types": ["visit_summary"]}},
            {"name": "step3", "subsets": ["step3"], "site": "local-frdf",
             "transfer": {"dataset_types": ["global_calib"]}},
        ],
    }
    path = root / "campaigns" / "camp" / "campaign.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return campaign_from_dict(data, usdf, path=path, site_profiles=(usdf, FRDF))


class Clock:
    """ISO times an hour apart at most, moved by the test."""

    def __init__(self) -> None:
        self.minute = 0

    def __call__(self) -> str:
        return f"2026-11-30T{10 + self.minute // 60:02d}:{self.minute % 60:02d}:00Z"

    def advance(self, minutes: int) -> None:
        self.minute += minutes


@dataclass
class Site:
    """A campaign repository and a runner's work directory, and the WMS both talk to."""

    root: Path
    campaign: Campaign
    wms: InMemoryWms
    clock: Clock
    stacks_at: Callable[[StackSource], Published] | None = None  # the sites' stack listings (none: not checked)
    said: list[str] | None = None  # what the jobs said, when a test keeps it

    def job(self) -> Context:
        """What a fresh `campaign apply` / `campaign status` process starts with."""
        return Context(root=self.root, campaign=self.campaign, wms=self.wms, workdir=self.root / "work",
                       now=self.clock, say=self.said.append if self.said is not None else lambda _: None,
                       process_running=lambda pid_file: running(read_process(pid_file)), stacks_at=self.stacks_at)

    @property
    def plan(self) -> Plan:
        return make_plan(self.campaign)

    def ledger(self) -> Ledger:
        return store.load(self.root / "campaigns" / self.campaign.name, self.campaign.name)

    def apply(self) -> Ledger:
        ledger, _ = submit.apply(self.job(), self.plan, self.ledger())
        return ledger

    def status(self) -> Ledger:
        """`campaign reconcile` (the runner's status job): one engine cycle, look then act."""
        return cycle.run(self.job(), self.plan, self.ledger(), act=True, by="the spec").ledger

    def reconcile(self) -> Ledger:
        """`campaign reconcile`: observe, apply the failure rules (campaigns/rules.yaml), submit what became ready."""
        return self.status()

    def look(self) -> Ledger:
        """`campaign status` without --advance: the same cycle as a look (starts nothing)."""
        ctx = self.job()
        ctx.may_launch = False
        return cycle.run(ctx, self.plan, self.ledger(), act=False, by="the spec").ledger

    def state(self, key: str) -> RunState | None:
        record = self.ledger().run(key)
        return record.state if record else None


def make_site(tmp_path: Path, campaign_extra: dict[str, Any] | None = None, **step2: Any) -> Site:
    data = {
        "name": "camp", "description": "d", "operator": "op", "profile": "local-parsl",
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/repo", "inputs": ["in"], "output": "out/{campaign}"},
        "pipeline": "pipelines/p.yaml",
        "steps": [
            {"name": "step1", "subsets": ["step1"],
             "split": {"by": "values", "dimension": "visit", "values": [1, 2]}},
            {"name": "step2", "subsets": ["step2"], **step2},
        ],
        **(campaign_extra or {}),
    }
    path = tmp_path / "campaigns" / "camp" / "campaign.yaml"
    path.parent.mkdir(parents=True)
    return Site(tmp_path, campaign_from_dict(data, PROFILE, path=path), InMemoryWms(), Clock())


