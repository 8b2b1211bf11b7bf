"""Which transfer stages a multi-site plan needs: for each step at a site, what the steps it requires produced
at other sites, restricted to what that step's runs read there (pure).

Two steps both placed by residency need no transfer between them: each site's runs of the later step read what
the same site's runs of the earlier one wrote (declare the later step's `transfer` to move data anyway)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..domain.dataquery import combine
from ..domain.model import Campaign, Plan, PlannedRun, PlannedTransfer

# (step, required step) -> dataset types the step reads that the required step writes
MovedTypes = Mapping[tuple[str, str], tuple[str, ...]]
# step -> (dataset types its subsets read, dataset types they write), from the pipeline graph
StepTypes = Mapping[str, tuple[frozenset[str], frozenset[str]]]


def _either(queries: list[str]) -> str:
    """One query selecting what any of `queries` selects."""
    distinct = list(dict.fromkeys(queries))
    if len(distinct) == 1 or "" in distinct:
        return "" if "" in distinct else distinct[0]
    return " OR ".join(f"({q})" for q in distinct)


def moved_from(campaign: Campaign, types: StepTypes) -> dict[tuple[str, str], tuple[str, ...]]:
    """(step, required step) -> the dataset types the step reads (and does not write itself) that the required
    step writes."""
    moved = {}
    for step in campaign.steps:
        reads, writes = types.get(step.name, (frozenset(), frozenset()))
        for required in step.requires:
            moved[(step.name, required)] = tuple(sorted((reads - writes) & types.get(required, _NONE)[1]))
    return moved


_NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def plan_transfers(campaign: Campaign, runs: tuple[PlannedRun, ...], moved: MovedTypes) -> tuple[PlannedTransfer, ...]:
    """Every transfer the placed runs imply, in plan order. A step's declared `transfer.dataset_types` win over
    what the pipeline says (`moved`); a pair with nothing to move needs no transfer. The same dataset types from
    the same source to the same destination move once, named after the first step that reads them (a later
    step reading them too is one of its `readers` and waits for it)."""
    if not campaign.multisite:
        return ()
    placed = [r for r in runs if r.site]
    transfers: list[PlannedTransfer] = []
    wheres: list[list[str]] = []
    seen: set[tuple[str, str, str, str]] = set()
    for run in placed:
        step = campaign.step(run.step)
        for required in run.requires:
            if step.placed_by_data and campaign.step(required).placed_by_data and not step.transfer_types:
                continue  # each site works on what it holds: its own runs of `required` wrote it
            sources = {r.site for r in placed if r.step == required}
            for source in sorted(sources - {run.site}):
                if (run.step, run.site, required, source) in seen:
                    continue
                seen.add((run.step, run.site, required, source))
                types = step.transfer_types or tuple(moved.get((run.step, required), ()))
                if not types:
                    continue
                readers = [r.data_query for r in placed if r.step == run.step and r.site == run.site]
                where = _either(readers) or combine(campaign.data_query, step.data_query)
                from_runs = tuple(r.key for r in placed if r.step == required and r.site == source)
                same = next((i for i, t in enumerate(transfers) if (t.dataset_types, t.source, t.destination)
                             == (types, source, run.site)), None)
                if same is None:
                    transfers.append(PlannedTransfer(run.step, run.site, required, source, types, where, from_runs))
                    wheres.append([where])
                    continue
                earlier = transfers[same]
                wheres[same].append(where)
                transfers[same] = replace(
                    earlier, where=_either(wheres[same]),
                    sources=tuple(dict.fromkeys((*earlier.sources, *from_runs))),
                    readers=earlier.readers if earlier.feeds(run.step) else (*earlier.readers, run.step))
    return tuple(transfers)


@dataclass(frozen=True)
class UnfedRead:
    """A step's runs at `site` read `dataset_type`, which `producer` writes at `producer_sites`, and no transfer
    brings it there: they would run on `site`'s share only (or on nothing)."""

    step: str
    site: str
    dataset_type: str
    producer: str
    producer_sites: tuple[str, ...]


def _ancestors(campaign: Campaign, name: str) -> set[str]:
    found: set[str] = set()
    todo = list(campaign.step(name).requires)
    while todo:
        step = todo.pop()
        if step not in found:
            found.add(step)
            todo.extend(campaign.step(step).requires)
    return found


def unfed_reads(plan: Plan, types: StepTypes) -> tuple[UnfedRead, ...]:
    """Every dataset type a step reads at a site that another step writes only at other sites, with no transfer
    into that site planned before it (e.g. `requires` names the wrong step, so nothing moves)."""
    campaign = plan.campaign
    if not campaign.multisite:
        return ()
    sites_of = {s.name: sorted({r.site for r in plan.runs_of(s.name) if r.site}
                               or ({s.site or campaign.central} if not s.placed_by_data else set()))
                for s in campaign.steps}
    found: list[UnfedRead] = []
    for step in campaign.steps:
        reads, writes = types.get(step.name, _NONE)
        fed_by = {step.name} | _ancestors(campaign, step.name)
        for dataset_type in sorted(reads - writes):
            for producer in (s for s in campaign.steps if s.name != step.name and dataset_type in
                             types.get(s.name, _NONE)[1]):
                for site in sites_of[step.name]:
                    if step.placed_by_data and producer.placed_by_data:
                        continue  # each site reads what its own runs wrote
                    missing = tuple(x for x in sites_of[producer.name] if x != site and not any(
                        t.destination == site and t.source == x and dataset_type in t.dataset_types
                        and any(t.feeds(s) for s in fed_by) for t in plan.transfers))
                    if missing:
                        found.append(UnfedRead(step.name, site, dataset_type, producer.name, missing))
    return tuple(found)


__all__ = ["MovedTypes", "StepTypes", "UnfedRead", "moved_from", "plan_transfers", "unfed_reads"]
