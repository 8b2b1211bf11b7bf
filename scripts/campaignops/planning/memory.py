"""Which memory a task asks for — the one home of that rule, used by render, retries, the failure rules
and `campaign profile`.

bps looks `requestMemory` up for a job of task `label` in `pipetask.<label>` first, then at the top of the
submit config (ctrl_bps `BpsConfig.search` with the job's `curvals`; default 2048 MB in ctrl_bps
`etc/bps_defaults.yaml`). Render puts the campaign's values over the profile's `bps:` keys, so a task's
request is, first found: the task's own in the step's or campaign's `resources.tasks`; the profile's
`pipetask.<label>.requestMemory`; the step's or campaign's `requestMemory`; the profile's; the bps default.
An attempt then multiplies all of them by its memory multiplier (`campaign retry --memory-multiplier`) and
replaces the tasks a failure rule raised (its recorded overrides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.model import BPS_DEFAULT_MEMORY, Campaign, Resources


@dataclass(frozen=True)
class MemoryRequests:
    """The requestMemory (MB) of an attempt's jobs: `default` for every task without its own, `tasks` for
    those with one (from the spec, the profile or a failure rule's override)."""

    default: int
    tasks: Mapping[str, int] = field(default_factory=dict)

    def of(self, label: str) -> int:
        return self.tasks.get(label, self.default)


def _resources(campaign: Campaign, step: str) -> Resources:
    try:
        return campaign.step(step).resources.over(campaign.resources)
    except KeyError:  # a step since removed from the spec: what the campaign says
        return campaign.resources


def _profile_tasks(profile_bps: Mapping[str, Any]) -> dict[str, int]:
    pipetask = profile_bps.get("pipetask")
    if not isinstance(pipetask, Mapping):
        return {}
    return {str(label): int(values["requestMemory"]) for label, values in pipetask.items()
            if isinstance(values, Mapping) and isinstance(values.get("requestMemory"), int | float)}


def memory_requests(campaign: Campaign, step: str, site: str = "", *, multiplier: float = 1.0,
                    overrides: Mapping[str, int] | None = None) -> MemoryRequests:
    """What an attempt of a run of `step` at `site` (its profile; "" the campaign's) asks, × `multiplier`,
    with `overrides` (per task, already raised: a failure rule's more-memory) replacing the result."""
    profile_bps = dict(campaign.site_profile(site).bps)
    resources = _resources(campaign, step)
    base = dict(resources.values).get("requestMemory", profile_bps.get("requestMemory", BPS_DEFAULT_MEMORY))
    own = _profile_tasks(profile_bps)
    own |= {label: int(dict(values)["requestMemory"]) for label, values in resources.tasks
            if "requestMemory" in dict(values)}
    return MemoryRequests(round(base * multiplier),
                          {label: round(mb * multiplier) for label, mb in own.items()} | dict(overrides or {}))


def effective_memory(campaign: Campaign, step: str, label: str, site: str = "", *, multiplier: float = 1.0,
                     overrides: Mapping[str, int] | None = None) -> int:
    """The requestMemory (MB) bps uses for task `label` of an attempt (see `memory_requests`)."""
    return memory_requests(campaign, step, site, multiplier=multiplier, overrides=overrides).of(label)


__all__ = ["MemoryRequests", "effective_memory", "memory_requests"]
