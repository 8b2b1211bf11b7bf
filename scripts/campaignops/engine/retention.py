"""Retention, acted: read every campaign as a retention instance, and remove one campaign's expired RUN
collections through a retention back-end (ports.Retention), recording each removal in its ledger.

The plan (what expires and why) is planning/retention.py; the Butler work is adapters/retention.py; the
per-campaign lock is the caller's (`campaign retention apply` takes it before calling `remove_expired`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ..campaign_spec.load import all_campaign_paths, load_campaign
from ..campaign_spec.template import template_of
from ..domain.errors import CampaignError
from ..ledger import store
from ..ledger.records import Removal
from ..planning.advance import Verdict, decide
from ..planning.plan import make_plan
from ..planning.retention import Instance, plan_retention
from ..ports import RemovalOutcome, Retention


def read_instance(path: Path, root: Path) -> Instance:
    """A campaign with its ledger, its template (recurring instances) and whether all is submitted."""
    campaign = load_campaign(path, root)
    ledger = store.load(path.parent, campaign.name)
    try:
        plan = make_plan(campaign, frozen=dict(ledger.frozen_groups), excluded=ledger.excluded_inputs)
        complete = all(d.verdict == Verdict.RECORDED for d in decide(plan, ledger))
    except CampaignError:  # cannot plan here (a split source gone): its final runs are kept
        complete = False
    return Instance(campaign, ledger, template_of(path.read_text(encoding="utf-8")), complete)


def read_instances(root: Path, warn: Callable[[str], None]) -> list[Instance]:
    """Every readable campaign; an unreadable one is reported through `warn` and left alone."""
    instances = []
    for path in all_campaign_paths(root):
        try:
            instances.append(read_instance(path, root))
        except CampaignError as exc:
            warn(f"{path.relative_to(root)} left alone: {str(exc).splitlines()[0]}")
    return instances


def remove_expired(name: str, instances: Sequence[Instance], now: datetime, butler: Retention, *,
                   dry_run: bool) -> list[RemovalOutcome]:
    """Remove what expires of campaign `name` now, planned again from its ledger as it is on disk (read under
    the caller's lock: a status job may have recorded a new attempt since `instances` were read). Removals
    are recorded in the ledger (a dry run records nothing)."""
    inst = next(i for i in instances if i.campaign.name == name)
    assert inst.campaign.path is not None
    fresh = replace(inst, ledger=store.load(inst.campaign.path.parent, name))
    expired = plan_retention([fresh if i.campaign.name == name else i for i in instances], now).of(name)
    outcomes = butler.apply(expired, dry_run=dry_run)
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    reasons = {e.run: e.reason for e in expired}
    removals = tuple(Removal(o.run, stamp, reasons[o.run], o.datasets) for o in outcomes if o.removed)
    if removals:
        store.save(inst.campaign.path.parent, fresh.ledger.with_removals(removals))
    return outcomes


__all__ = ["read_instance", "read_instances", "remove_expired"]
