"""Which transfer stages a multi-site plan needs: for each step at a site, what the steps it requires produced
at other sites, restricted to what that step's runs read there (pure).

Two steps both placed by residency need no transfer between them: each site's runs of the later step read what
the same site's runs of the earlier one wrote (declare the later step's `transfer` to move data anyway)."""

from __future__ import annotations

from collections.abc import Mapping

from ..domain.dataquery import combine
from ..domain.model import Campaign, PlannedRun, PlannedTransfer

# (step, required step) -> dataset types the step reads that the required step writes
MovedTypes = Mapping[tuple[str, str], tuple[str, ...]]


def _either(queries: list[str]) -> str:
    """One query selecting what any of `queries` selects."""
    distinct = list(dict.fromkeys(queries))
    if len(distinct) == 1 or "" in distinct:
        return "" if "" in distinct else distinct[0]
    return " OR ".join(f"({q})" for q in distinct)


def plan_transfers(campaign: Campaign, runs: tuple[PlannedRun, ...], moved: MovedTypes) -> tuple[PlannedTransfer, ...]:
    """Every transfer the placed runs imply, in plan order. A step's declared `transfer.dataset_types` win over
    what the pipeline says (`moved`); a pair with nothing to move needs no transfer."""
    if not campaign.multisite:
        return ()
    placed = [r for r in runs if r.site]
    transfers: list[PlannedTransfer] = []
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
                transfers.append(PlannedTransfer(run.step, run.site, required, source, types, where, from_runs))
    return tuple(transfers)


__all__ = ["MovedTypes", "plan_transfers"]
