"""Campaign → ordered runs (step x group), pure: steps in dependency order, each step's groups in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..domain.dataquery import combine, excluding
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
              ids_source: DataIdSource | None = None, moved: MovedTypes | None = None,
              excluded: Mapping[str, tuple[str, ...]] | None = None) -> Plan:
    """Every run the campaign implies, steps in dependency order, each step's groups in order; for a multi-site
    campaign also the transfer stages between its sites (`moved`: what the pipeline says each step reads of the
    steps it requires; `excluded`, Ledger.excluded_inputs: the data IDs a preflight with `missing: exclude` left
    out)."""
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
    plan = Plan(campaign, tuple(runs), plan_transfers(campaign, tuple(runs), moved or {}))
    return with_exclusions(plan, excluded or {})


def with_exclusions(plan: Plan, excluded: Mapping[str, tuple[str, ...]]) -> Plan:
    """The plan whose runs reading the inputs (those requiring no step; at the check's site in a multi-site
    campaign) leave out the data IDs the preflight excluded: `AND (NOT (...))` on their data query. The same
    plan when nothing changed; a plan made with other exclusions has them replaced."""
    wanted = tuple(sorted((ref, ids) for ref, ids in excluded.items() if ids))
    if wanted == plan.excluded:
        return plan
    sites = {c.ref: c.site for c in plan.campaign.preflight}

    def clause(run: PlannedRun, chosen: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
        if run.requires or run.pending:
            return ""
        ids = [i for ref, found in chosen if sites.get(ref, "") in ("", run.site) for i in found]
        return excluding(tuple(dict.fromkeys(ids)))

    runs = []
    for run in plan.runs:
        old, new = clause(run, plan.excluded), clause(run, wanted)
        base = ("" if run.data_query == f"({old})" else run.data_query.removesuffix(f" AND ({old})")) if old \
            else run.data_query
        query = (f"{base} AND ({new})" if base else f"({new})") if new else base
        runs.append(replace(run, data_query=query) if old != new else run)
    return replace(plan, runs=tuple(runs), excluded=wanted)
