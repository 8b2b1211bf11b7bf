"""Which memory a task asks for, wherever it is set (task, step, campaign, profile, bps default) — and a retry
with more memory, or a failure rule's more-memory, doubles what the task really had at that level."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.model import Campaign
from campaignops.domain.states import RunState
from campaignops.ledger.records import Attempt
from campaignops.planning.failures import task_memory
from campaignops.planning.memory import effective_memory, memory_requests
from campaignops.planning.plan import make_plan
from campaignops.planning.render import render_run


def campaign(*, profile_bps: dict[str, Any] | None = None, campaign_resources: dict[str, Any] | None = None,
             step_resources: dict[str, Any] | None = None) -> Campaign:
    profile = profile_from_dict({"name": "p", "description": "d", "site": "S", "wms": "parsl",
                                 "bps": {"wmsServiceClass": "x.Service", **(profile_bps or {})}})
    step: dict[str, Any] = {"name": "step1", "subsets": ["step1"],
                            "split": {"by": "values", "dimension": "visit", "values": [1]}}
    if step_resources:
        step["resources"] = step_resources
    data: dict[str, Any] = {"name": "c", "description": "d", "operator": "op", "profile": "p", "project": "DRP",
                            "stack": {"tag": "w_2026_47"},
                            "butler": {"repo": "/repo", "inputs": ["in"], "output": "out/{campaign}"},
                            "pipeline": "/p.yaml", "data_query": "instrument='HSC'", "steps": [step]}
    if campaign_resources:
        data["resources"] = campaign_resources
    return campaign_from_dict(data, profile)


LEVELS = {
    "task": dict(step_resources={"tasks": {"isr": {"requestMemory": 3000}}}),
    "step": dict(step_resources={"requestMemory": 3000}),
    "campaign": dict(campaign_resources={"requestMemory": 3000}),
    "campaign task": dict(campaign_resources={"tasks": {"isr": {"requestMemory": 3000}}}),
    "profile": dict(profile_bps={"requestMemory": 3000}),
    "profile task": dict(profile_bps={"pipetask": {"isr": {"requestMemory": 3000}}}),
}


def task_mb(c: Campaign, label: str, **kwargs: Any) -> int:
    """What bps would read for `label`'s jobs in the rendered submit config (pipetask section, then top)."""
    data = yaml.safe_load(render_run(c, make_plan(c).runs[0], 2, **kwargs))
    return int((data.get("pipetask") or {}).get(label, {}).get("requestMemory", data.get("requestMemory", 2048)))


@pytest.mark.parametrize("level", LEVELS)
def test_a_task_asks_what_its_nearest_level_sets(level: str) -> None:
    c = campaign(**LEVELS[level])
    assert effective_memory(c, "step1", "isr") == 3000
    assert task_mb(c, "isr") == 3000


@pytest.mark.parametrize("level", LEVELS)
def test_retry_with_a_memory_multiplier_doubles_what_the_task_really_had(level: str) -> None:
    c = campaign(**LEVELS[level])
    assert task_mb(c, "isr", memory_multiplier=2) == 6000
    assert effective_memory(c, "step1", "isr", multiplier=2) == 6000


def test_with_nothing_set_the_bps_default_is_doubled() -> None:
    c = campaign()
    assert task_mb(c, "isr") == 2048
    assert task_mb(c, "isr", memory_multiplier=2) == 4096


def test_the_task_level_wins_over_the_step_campaign_and_profile() -> None:
    c = campaign(profile_bps={"requestMemory": 1000, "pipetask": {"isr": {"requestMemory": 1500}}},
                 campaign_resources={"requestMemory": 2000}, step_resources={"tasks": {"isr": {"requestMemory": 5000}}})
    assert memory_requests(c, "step1").of("isr") == 5000
    assert memory_requests(c, "step1").of("calibrate") == 2000  # the campaign's over the profile's
    # The profile's own task entry beats a campaign-wide value: bps reads pipetask.<label> first.
    c2 = campaign(profile_bps={"pipetask": {"isr": {"requestMemory": 1500}}}, campaign_resources={"requestMemory": 2000})
    assert (task_mb(c2, "isr"), task_mb(c2, "calibrate")) == (1500, 2000)


def attempt(number: int, **kwargs: Any) -> Attempt:
    return Attempt(number=number, kind="submit", output_run=f"out/a{number}", config_hash="h", config_path="c.yaml",
                   launch_dir="l", state=RunState.FAILED, **kwargs)


@pytest.mark.parametrize("level", LEVELS)
def test_a_more_memory_rule_raises_from_what_the_attempt_had(level: str) -> None:
    c = campaign(**LEVELS[level])
    assert task_memory(c, "step1", "isr", attempt(1)) == 3000
    assert task_memory(c, "step1", "isr", attempt(2, memory_multiplier=2.0)) == 6000
    raised = attempt(2, memory=(("isr", 7000),))
    assert task_memory(c, "step1", "isr", raised) == 7000
    assert task_mb(c, "isr", memory={"isr": 7000}) == 7000
