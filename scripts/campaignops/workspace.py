"""Open a campaign for work: its spec, ledger, plan (with frozen query groups) and WMS adapter."""

from __future__ import annotations

import argparse
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import ledger as ledger_mod
from .ledger import Ledger
from .model import Campaign, Plan
from .spec import all_campaign_paths, campaign_path, find_root, load_campaign
from .submit import Context, default_workdir
from .wms.base import Wms


@dataclass
class Workspace:
    ctx: Context
    plan: Plan
    ledger: Ledger

    @property
    def campaign(self) -> Campaign:
        return self.ctx.campaign


def root_of(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if getattr(args, "root", None) else find_root()


def campaign_names(root: Path, names: list[str], all_: bool) -> list[str]:
    if all_ or not names:
        return [p.parent.name for p in all_campaign_paths(root)]
    return names


def make_wms(campaign: Campaign) -> Wms:
    from .wms.bps import BpsWms

    return BpsWms(dict(campaign.profile.bps)["wmsServiceClass"])


_LOCKS: dict[str, int] = {}


def lock_campaign(workdir: Path, name: str, say: Callable[[str], None] = print) -> None:
    """Hold an exclusive lock on the campaign for the rest of this process.

    The submit and status jobs may run at once on the runner (they are in different concurrency
    groups); both can submit, so they take turns per campaign instead of racing on the ledger.
    """
    if name in _LOCKS:
        return
    lock_dir = workdir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"waiting for another campaign job that holds {name} ({lock_dir / (name + '.lock')})")
        fcntl.flock(fd, fcntl.LOCK_EX)
    _LOCKS[name] = fd


def open_campaign(root: Path, name: str, *, dry_run: bool = False, say: Callable[[str], None] = print,
                  workdir: Path | None = None, wms: Wms | None = None,
                  query_groups: bool = True) -> Workspace:
    from .plan import make_plan

    campaign = load_campaign(campaign_path(name, root), root)
    assert campaign.path is not None
    workdir = workdir or default_workdir(root)
    if not dry_run:
        lock_campaign(workdir, campaign.name, say)
    ledger = ledger_mod.load(campaign.path.parent, campaign.name)
    frozen = {step: groups for step, groups in ledger.frozen_groups}
    needs_query = [s for s in campaign.steps if s.split.by == "query" and s.name not in frozen]
    if needs_query and query_groups:
        # Ask the Butler once, at the first apply/status, and freeze the groups in the ledger so
        # later plans are stable even when the repository gains data.
        from .butler_ids import ButlerDataIds
        from .grouping import groups_for

        repo = campaign.butler_repo
        source = ButlerDataIds(repo if Path(repo).is_absolute() or "://" in repo else str(root / repo))
        for step in needs_query:
            found = groups_for(campaign, step, ids_source=source)
            frozen[step.name] = tuple((g.name, g.query, g.size or 0) for g in found)
            ledger = ledger.with_frozen_groups(step.name, frozen[step.name])
    plan = make_plan(campaign, frozen=frozen)
    ctx = Context(root=root, campaign=campaign, wms=wms or make_wms(campaign),
                  workdir=workdir, say=say, dry_run=dry_run)
    return Workspace(ctx, plan, ledger)


def read_plan(root: Path, name: str) -> Plan:
    """The plan as the ledger knows it, without asking the Butler or taking the campaign lock:
    query-split steps keep the groups their first apply recorded (or show them as pending)."""
    from .plan import make_plan
    from .spec import SpecError

    campaign = load_campaign(campaign_path(name, root), root)
    assert campaign.path is not None
    try:
        ledger = ledger_mod.load(campaign.path.parent, campaign.name)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return make_plan(campaign, frozen=dict(ledger.frozen_groups))
