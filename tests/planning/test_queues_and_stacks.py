"""Queues by memory and developer stacks: what render writes and what validation refuses."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec import validate
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.errors import RenderError
from campaignops.domain.model import Campaign, Profile
from campaignops.planning.plan import make_plan
from campaignops.planning.render import render_run

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "fixtures" / "valid"
USDF = spec.load_profile("usdf-panda", ROOT)  # the real profile: SLAC's queues


def campaign(resources: dict[str, Any] | None = None, profile: Profile = USDF, clustering: dict[str, Any] | None = None,
             stack: dict[str, Any] | None = None) -> Campaign:
    step: dict[str, Any] = {"name": "step1", "subsets": ["step1"]}
    if resources is not None:
        step["resources"] = resources
    if clustering is not None:
        step["clustering"] = clustering
    data = {"name": "queues", "description": "d", "operator": "lsstsvc1", "profile": profile.name,
            "stack": stack or {"tag": "w_2026_47"},
            "butler": {"repo": "/repo/main", "inputs": ["HSC/RC2/defaults"], "output": "HSC/runs/{stack}/{campaign}"},
            "pipeline": "/pipelines/DRP.yaml", "data_query": "instrument='HSC'", "steps": [step]}
    return campaign_from_dict(data, profile)


def rendered(c: Campaign, **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(render_run(c, make_plan(c).runs[0], 1, **kwargs))
    return data


# ---- queues by memory -----------------------------------------------------------------------------

def test_every_job_goes_to_the_smallest_usdf_queue_that_holds_its_memory() -> None:
    out = rendered(campaign({"requestMemory": 4096, "tasks": {
        "calibrate": {"requestMemory": 4097}, "makeWarp": {"requestMemory": 18000},
        "assembleCoadd": {"requestMemory": 100000}, "isr": {"requestCpus": 2}}}))
    assert out["queue"] == "SLAC_Rubin"  # 4096 MB: the boundary belongs to the smaller queue
    assert out["pipetask"]["calibrate"]["queue"] == "SLAC_Rubin_Medium"
    assert out["pipetask"]["makeWarp"]["queue"] == "SLAC_Rubin_Himem"
    assert out["pipetask"]["assembleCoadd"]["queue"] == "SLAC_Rubin_Extra_Himem"
    assert out["pipetask"]["isr"]["queue"] == "SLAC_Rubin"  # no memory of its own: the run's
    assert out["finalJob"]["queue"] == "SLAC_Rubin_Merge"


def test_no_memory_request_means_bps_default_memory_on_the_smallest_queue() -> None:
    assert rendered(campaign())["queue"] == "SLAC_Rubin"


def test_a_more_memory_retry_moves_each_task_to_the_queue_its_new_memory_fits() -> None:
    c = campaign({"requestMemory": 4096, "tasks": {"makeWarp": {"requestMemory": 8192}}})
    out = rendered(c, memory_multiplier=2.0)
    assert (out["requestMemory"], out["queue"]) == (8192, "SLAC_Rubin_Medium")
    assert out["pipetask"]["makeWarp"] == {"requestMemory": 16384, "queue": "SLAC_Rubin_Himem"}


def test_a_retry_asking_more_than_the_largest_queue_is_refused_with_what_to_do() -> None:
    c = campaign({"requestMemory": 4096, "tasks": {"assembleCoadd": {"requestMemory": 200000}}})
    with pytest.raises(RenderError, match=r"memory ×2 asks 400000 MB for task assembleCoadd.*"
                                          r"SLAC_Rubin_Extra_Himem, holds 225280 MB.*smaller --memory-multiplier"):
        rendered(c, memory_multiplier=2.0)


def test_a_cluster_goes_to_the_queue_of_its_most_demanding_task() -> None:
    # bps refuses a cluster whose quanta name different queues: the cluster's own queue settles it.
    out = rendered(campaign({"tasks": {"calibrate": {"requestMemory": 9000}}},
                            clustering={"visitCluster": {"pipetasks": "isr,calibrate", "dimensions": "visit"}}))
    assert out["cluster"]["visitCluster"]["queue"] == "SLAC_Rubin_Himem"


def test_profiles_without_queues_render_no_queue_keys() -> None:
    out = rendered(campaign({"requestMemory": 300000}, profile=spec.load_profile("htcondor", ROOT)))
    assert "queue" not in out and "finalJob" not in out


def test_a_step_bps_queue_still_wins() -> None:
    c = campaign()
    step = c.steps[0]
    c = Campaign(**{**c.__dict__, "steps": (type(step)(**{**step.__dict__, "bps": (("queue", "SLAC_Rubin_Dev"),)}),)})
    assert rendered(c)["queue"] == "SLAC_Rubin_Dev"


# ---- validation -----------------------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    shutil.copy(ROOT / "campaigns" / "profiles" / "usdf-panda.yaml", tmp_path / "campaigns" / "profiles")
    shutil.copy(ROOT / "campaigns" / "profiles" / "local-parsl.yaml", tmp_path / "campaigns" / "profiles")
    return tmp_path


def write(repo: Path, text: str) -> Path:
    path = repo / "campaigns" / "example" / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(repo: Path, path: Path) -> list[str]:
    return [str(p) for p in validate.check_file(path, repo)[0]]


BASE = """\
name: example
description: d
operator: lsstsvc1
profile: {profile}
stack: {stack}
butler: {{repo: /repo/main, inputs: [HSC/RC2/defaults], output: "HSC/runs/{{stack}}/{{campaign}}"}}
pipeline: /pipelines/DRP.yaml
steps:
  - name: step1
    subsets: [step1]
    resources:
      requestMemory: 4096
      tasks:
        makeWarp: {{requestMemory: {memory}}}
"""


def test_validation_refuses_a_memory_request_no_queue_holds_at_its_line(repo: Path) -> None:
    path = write(repo, BASE.format(profile="usdf-panda", stack="{tag: w_2026_47}", memory=230000))
    (problem,) = problems(repo, path)
    assert problem.startswith("campaigns/example/campaign.yaml:14:")
    assert "requestMemory 230000 MB is more than any queue of profile usdf-panda holds" in problem
    assert "SLAC_Rubin_Extra_Himem, takes up to 225280 MB" in problem and "request at most 225280 MB" in problem


def test_validation_accepts_the_largest_queue_exactly(repo: Path) -> None:
    assert problems(repo, write(repo, BASE.format(profile="usdf-panda", stack="{tag: w_2026_47}",
                                                  memory=225280))) == []


def test_a_profile_listing_a_queue_twice_is_refused(repo: Path) -> None:
    path = repo / "campaigns" / "profiles" / "usdf-panda.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "{queue: SLAC_Rubin_Medium, max_memory: 8192}", "{queue: SLAC_Rubin, max_memory: 4096}"), encoding="utf-8")
    found = problems(repo, path)
    assert any("queue SLAC_Rubin is already listed in by_memory[0]" in p for p in found)
    assert any("max_memory 4096 is also by_memory[0]'s" in p for p in found)


# ---- developer stacks -----------------------------------------------------------------------------

DEV = "{tag: w_2026_47+DM-48211, packages: [/sdf/group/rubin/shared/dev/DM-48211/pipe_tasks]}"


def test_a_developer_stack_validates_and_names_its_base_and_tickets(repo: Path) -> None:
    assert problems(repo, write(repo, BASE.format(profile="usdf-panda", stack=DEV, memory=8192))) == []


@pytest.mark.parametrize(("stack", "message"), [
    ("{tag: w_2026_47+DM-48211}", "names tickets (DM-48211) but no packages"),
    ("{tag: w_2026_47, packages: [/sdf/dev/pipe_tasks]}", "the tag does not say so"),
    ("{tag: w_2026_47+dm-1, packages: [/sdf/dev/pipe_tasks]}", "'w_2026_47+dm-1' is not a valid tag"),
    ("{tag: w_2026_47+DM-1, packages: [sdf/dev/pipe_tasks]}", "An absolute directory of a built package"),
    ("{tag: w_2026_47+DM-1, packages: ['/sdf/dev/pipe tasks']}", "An absolute directory of a built package"),
])
def test_broken_developer_stacks_are_refused(repo: Path, stack: str, message: str) -> None:
    found = problems(repo, write(repo, BASE.format(profile="usdf-panda", stack=stack, memory=8192)))
    assert any(message in p for p in found), found


def test_a_developer_stack_needs_a_stack_set_up_to_put_packages_on(repo: Path) -> None:
    found = problems(repo, write(repo, BASE.format(profile="local-parsl", stack=DEV, memory=8192)))
    assert any("profile local-parsl sets no stack up" in p for p in found), found


def test_a_developer_stack_reaches_the_jobs_and_the_submit_side() -> None:
    packages = ["/sdf/group/rubin/shared/dev/DM-48211/pipe_tasks", "/sdf/group/rubin/shared/dev/DM-48211/meas_base"]
    c = campaign(stack={"tag": "w_2026_47+DM-48211", "packages": packages})
    out = rendered(c)
    assert out["LSST_VERSION"] == "w_2026_47"  # the jobs source the base from CVMFS…
    assert out["custom_lsst_setup"] == f"setup -k -r {packages[0]}; setup -k -r {packages[1]};"  # …then these
    assert out["payload"]["output"] == "HSC/runs/w_2026_47+DM-48211/queues"
    assert c.setup_command() == (
        "source /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib/w_2026_47/loadLSST.bash && setup lsst_distrib"
        f" && setup -k -r {packages[0]} && setup -k -r {packages[1]}")
    assert c.stack_text() == f"w_2026_47+DM-48211 (base w_2026_47, set up on top: {', '.join(packages)})"


def test_a_released_stack_renders_as_before() -> None:
    out = rendered(campaign())
    assert out["LSST_VERSION"] == "w_2026_47" and "custom_lsst_setup" not in out


def test_the_plan_and_the_failure_issue_say_which_developer_stack_runs() -> None:
    from campaignops.domain.states import RunState
    from campaignops.ledger.records import Attempt, RunRecord
    from campaignops.views import issue, plan_text

    c = campaign(stack={"tag": "w_2026_47+DM-48211", "packages": ["/sdf/dev/DM-48211/pipe_tasks"]})
    plan = make_plan(c)
    shown = "w_2026_47+DM-48211 (base w_2026_47, set up on top: /sdf/dev/DM-48211/pipe_tasks)"
    assert shown in plan_text.as_text(plan)
    assert plan_text.as_dict(plan)["stack_packages"] == ["/sdf/dev/DM-48211/pipe_tasks"]
    attempt = Attempt(1, "submit", "out/a01", "h", "c.yaml", "/l", state=RunState.FAILED)
    body = issue.issue_body(c, RunRecord("step1", "all", "", (attempt,)), attempt, retry_hint="")
    assert f"stack `{shown}`" in body


def test_the_plan_shows_where_each_task_goes() -> None:
    from campaignops.views import plan_text

    c = campaign({"requestMemory": 4096, "tasks": {"makeWarp": {"requestMemory": 8192},
                                                    "assembleCoadd": {"requestMemory": 16384}}})
    plan = make_plan(c)
    shown = "SLAC_Rubin (assembleCoadd SLAC_Rubin_Himem, makeWarp SLAC_Rubin_Medium), final job SLAC_Rubin_Merge"
    assert f"  queues: {shown}\n" in plan_text.as_text(plan)
    assert f"; queues: {shown} |" in plan_text.as_markdown(plan)
    assert plan_text.as_dict(plan)["steps"][0]["queues"]["pipetask"]["makeWarp"] == {"queue": "SLAC_Rubin_Medium"}
    no_queues = make_plan(campaign(profile=spec.load_profile("htcondor", ROOT)))
    assert "\n  queues:" not in plan_text.as_text(no_queues) and plan_text.as_dict(no_queues)["steps"][0]["queues"] is None
