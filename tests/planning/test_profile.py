"""Task profiles and right-sizing: percentiles, requested memory as bps resolves it, flags, suggestions,
and the spec written back with its comments."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from campaignops.campaign_spec.load import load_campaign
from campaignops.campaign_spec.resize import with_task_memory
from campaignops.domain.errors import SpecError
from campaignops.domain.states import RunState
from campaignops.domain.usage import JobUsage, QuantumUsage
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.planning.profile import (
    Stats,
    attempt_jobs,
    attempt_jobs_records,
    from_records,
    percentile,
    profiles,
    requested_memory,
    suggest_mb,
    suggestion,
    to_records,
)
from campaignops.views.profile import as_markdown, as_text, batch_text, suggested_block

ROOT = Path(__file__).resolve().parents[2]
# requestMemory 4096 for the campaign; step2cde: fgcmFitCycle 65536; step1 has no resources of its own
SPEC = ROOT / "campaigns" / "hsc-rc2-w_2026_47" / "campaign.yaml"


@pytest.fixture(scope="module")
def campaign():  # type: ignore[no-untyped-def]
    return load_campaign(SPEC, ROOT)


def test_percentiles_are_values_a_quantum_really_had() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert Stats.of([3.0]) == Stats(3.0, 3.0, 3.0, 3.0)
    assert percentile([], 50) == 0.0


def test_requested_memory_is_the_task_then_step_then_campaign_then_bps_default(campaign) -> None:  # type: ignore[no-untyped-def]
    assert requested_memory(campaign, "step2cde", "fgcmFitCycle") == 65536  # the task's own
    assert requested_memory(campaign, "step2cde", "isolatedStarAssociation") == 4096  # the campaign's
    assert requested_memory(campaign, "step1", "isr") == 4096
    assert requested_memory(campaign, "gone-step", "x") == 4096


def test_suggestion_is_p99_plus_margin_rounded_up_and_flags(campaign) -> None:  # type: ignore[no-untyped-def]
    campaign = replace(campaign, profile=replace(campaign.profile, queues=None))  # no site queues
    step = campaign.steps[0].name
    usages = [QuantumUsage(step, "isr", 900.0 + i, 1.0, 2.0) for i in range(100)]  # p99 998 MB: 4096 is over
    usages += [QuantumUsage(step, "hungry", m, 5.0, 6.0) for m in (3000.0, 4000.0, 5000.0)]  # peaks above 4096
    usages += [QuantumUsage(step, "fits", m, 1.0, 1.0) for m in (3000.0, 3100.0)]  # 3100*1.2 = 3720 -> 3840
    found = {p.label: p for p in profiles(campaign, usages)}
    assert suggest_mb(998.0) == 1280 and found["isr"].suggested_mb == 1280
    assert found["isr"].flag == "over" and found["isr"].quanta == 100
    assert found["hungry"].flag == "under" and found["hungry"].suggested_mb == 6144
    assert found["fits"].flag == "" and found["fits"].suggested_mb == 3840
    assert suggestion(found.values()) == {step: {"fits": 3840, "hungry": 6144, "isr": 1280}}
    assert suggest_mb(10.0) == 512  # never below the floor

    text = as_text(campaign.name, list(found.values()))
    assert "UNDER-requested" in text and "over-requested" in text
    assert "hungry: a quantum peaked at 5000 MB, above the 4096 MB requested" in text
    block = yaml.safe_load(suggested_block(list(found.values())))
    assert block == {"resources": {"tasks": {"fits": {"requestMemory": 3840}, "hungry": {"requestMemory": 6144},
                                             "isr": {"requestMemory": 1280}}}}
    page = "\n".join(as_markdown(list(found.values())))
    assert f"| {step} | hungry | 3 | 4000 / 5000 / 5000 | 5.00 / 5.00 / 5.00 | 6.00 / 6.00 / 6.00 | 4096 | 6144 | " \
           "UNDER-requested |" in page
    assert from_records(to_records(list(found.values()))) == tuple(found.values())
    with pytest.raises(ValueError):
        from_records([{"step": "x"}])


def test_write_keeps_comments_and_sets_only_the_suggested_tasks() -> None:
    text = SPEC.read_text()
    out = with_task_memory(text, {"step1": {"isr": 1280, "calibrate": 6144}})
    assert out.count("#") == text.count("#")  # every comment kept
    data = yaml.safe_load(out)
    step1 = next(s for s in data["steps"] if s["name"] == "step1")
    assert step1["resources"]["tasks"]["isr"] == {"requestMemory": 1280}
    assert step1["resources"]["tasks"]["calibrate"]["requestMemory"] == 6144
    others = [s for s in data["steps"] if s["name"] != "step1"]
    assert others == [s for s in yaml.safe_load(text)["steps"] if s["name"] != "step1"]
    with pytest.raises(SpecError, match="no step step9"):
        with_task_memory(text, {"step9": {"isr": 512}})


def test_suggestions_round_up_to_the_site_memory_queue_they_fall_in(campaign) -> None:  # type: ignore[no-untyped-def]
    assert campaign.profile.memory_queues_mb == (4096, 8192, 18432, 225280)  # usdf-panda
    assert suggest_mb(998.0, queues_mb=(4096, 8192)) == 4096
    assert suggest_mb(5000.0, queues_mb=(4096, 8192)) == 8192  # 6000 -> 6144 -> the 8 GB queue
    assert suggest_mb(9000.0, queues_mb=(4096, 8192)) == 11008  # 10800 -> 11008, above every queue: kept
    usages = [QuantumUsage("step1", "isr", 900.0 + i, 1.0, 2.0) for i in range(100)]
    (isr,) = profiles(campaign, usages)
    # asking 4 GB at USDF costs nothing more than 1.25 GB: the smallest queue holds either
    assert (isr.requested_mb, isr.suggested_mb, isr.flag) == (4096, 4096, "")
    assert suggestion([isr]) == {}


def test_batch_jobs_per_attempt_show_elapsed_and_core_hours_as_the_scheduler_accounted_them() -> None:
    def attempt(number: int, *used: JobUsage) -> Attempt:
        return Attempt(number, "submit", f"o/a{number}", "h", "c", "/l", state=RunState.SUCCEEDED, job_usage=used)

    ledger = Ledger("demo", (
        RunRecord("step1", "g0", "q", (attempt(1, JobUsage("7", "NODE_FAIL", 1800.0, 2)),
                                        attempt(2, JobUsage("9", "COMPLETED", 3600.0, 2),
                                                JobUsage("10", "CANCELLED", 1800.0, 4)))),
        RunRecord("step1", "g1", "q", (attempt(1),)),  # a thread-pool run: no batch jobs, no row
    ))
    found = attempt_jobs(ledger)
    assert [(j.run, j.attempt, j.jobs, j.elapsed_s, j.core_hours, j.cores) for j in found] == [
        ("step1/g0", 1, 1, 1800.0, 1.0, 2), ("step1/g0", 2, 2, 5400.0, 4.0, 4)]
    text = batch_text(found)
    assert "step1/g0  2        SUCCEEDED  2           1.50       4.00        4" in text, text
    assert text.rstrip().endswith("total: 3 job(s), 5.00 core-hours")
    assert attempt_jobs_records(found)[1] == {"run": "step1/g0", "attempt": 2, "state": "SUCCEEDED", "jobs": 2,
                                              "elapsed_s": 5400.0, "core_hours": 4.0, "cores": 4}
    assert batch_text(()) == ""
