"""Campaign → ordered runs (step x group), pure: steps in dependency order, each step's groups in order."""

from __future__ import annotations

from collections.abc import Mapping

from ..domain.dataquery import combine
from ..domain.errors import PlanError
from ..domain.model import Campaign, Plan, PlannedRun, Step
from ..ports import DataIdSource
from .grouping import FrozenGroups, frozen_of, groups_for
from .transfers import MovedTypes, plan_transfers


def ordered_steps(campaign: Campaign) -> tuple[Step, ...]:
    """Steps in dependency order; among ready steps the spec order wins, so a valid spec keeps its order."""
    names = {s.name for s in campaign.steps}
    for s in campaign.steps:
        unknown = [r for r in s.requires if r not in names]
        if unknown:
            raise PlanError(f"campaign {campaign.name}, step {s.name}: requires unknown step(s) "
                            f"{', '.join(unknown)}; known steps: {', '.join(sorted(names))}")
    placed: list[Step] = []
    done: set[str] = set()
    remaining = list(campaign.steps)
    while remaining:
        ready = next((s for s in remaining if all(r in done for r in s.requires)), None)
        if ready is None:
            cycle = ", ".join(s.name for s in remaining)
            raise PlanError(f"campaign {campaign.name}: steps {cycle} require each other in a cycle; "
                            "fix their 'requires'")
        placed.append(ready)
        done.add(ready.name)
        remaining.remove(ready)
    return tuple(placed)


def make_plan(campaign: Campaign, *, frozen: Mapping[str, FrozenGroups] | None = None,
              ids_source: DataIdSource | None = None, moved: MovedTypes | None = None) -> Plan:
    """Every run the campaign implies, steps in dependency order, each step's groups in order; for a multi-site
    campaign also the transfer stages between its sites (`moved`: what the pipeline says each step reads of the
    steps it requires)."""
    frozen = frozen or {}
    runs: list[PlannedRun] = []
    for step in ordered_steps(campaign):
        resources = step.resources.over(campaign.resources)
        for group in groups_for(campaign, step, frozen=frozen_of(campaign, step, frozen), ids_source=ids_source):
            runs.append(PlannedRun(
                campaign=campaign.name,
                step=step.name,
                group=group.name,
                subsets=step.subsets,
                data_query=combine(campaign.data_query, step.data_query, group.query),
                requires=step.requires,
                gate=step.gate,
                gate_open=step.gate_open,
                resources=resources,
                size=group.size,
                site=campaign.step_site(step, group.name) if campaign.multisite and (
                    not group.pending or step.placed_by_data) else "",
            ))
    return Plan(campaign, tuple(runs), plan_transfers(campaign, tuple(runs), moved or {}))
