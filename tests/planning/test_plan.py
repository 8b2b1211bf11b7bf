"""Planning: runs in dependency order, combined queries, gates, resources, and the plan's printed forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.errors import PlanError
from campaignops.domain.model import Campaign
from campaignops.planning.plan import make_plan, ordered_steps, with_exclusions
from campaignops.views.plan_text import as_json, as_markdown, as_text

ROOT = Path(__file__).resolve().parents[2]
PROFILE = profile_from_dict({"name": "htcondor", "description": "test", "site": "other", "wms": "htcondor",
                             "bps": {"wmsServiceClass": "lsst.ctrl.bps.htcondor.HTCondorService"}})


def campaign(steps: list[dict[str, Any]], path: Path | None = None, **top: Any) -> Campaign:
    data = {"name": "test-campaign", "description": "d", "operator": "lsstsvc1", "profile": "htcondor",
            "stack": {"tag": "w_2026_47"},
            "butler": {"repo": "/repo/main", "inputs": ["HSC/defaults"], "output": "u/{operator}/{campaign}"},
            "pipeline": "p.yaml", "steps": steps, **top}
    return campaign_from_dict(data, PROFILE, path=path)


def example(name: str) -> Campaign:
    path = ROOT / "campaigns" / name / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return campaign_from_dict(data, spec.load_profile(data["profile"], ROOT), path=path)


def test_steps_keep_spec_order_when_it_respects_dependencies() -> None:
    c = campaign([{"name": n, "subsets": [n]} for n in ("a", "b", "c")])
    assert [r.step for r in make_plan(c).runs] == ["a", "b", "c"]


def test_a_step_listed_before_its_prerequisite_runs_after_it() -> None:
    c = campaign([{"name": "late", "subsets": ["x"], "requires": ["early"]},
                  {"name": "early", "subsets": ["y"], "requires": []},
                  {"name": "free", "subsets": ["z"], "requires": []}])
    assert [s.name for s in ordered_steps(c)] == ["early", "late", "free"]


def test_cyclic_requirements_are_refused() -> None:
    c = campaign([{"name": "a", "subsets": ["a"], "requires": ["b"]},
                  {"name": "b", "subsets": ["b"], "requires": ["a"]}])
    with pytest.raises(PlanError, match="cycle"):
        make_plan(c)


def test_unknown_requirement_is_refused_with_known_steps_listed() -> None:
    c = campaign([{"name": "a", "subsets": ["a"], "requires": ["missing"]}])
    with pytest.raises(PlanError, match=r"unknown step.*missing.*known steps: a"):
        make_plan(c)


def test_run_query_ands_campaign_step_and_group_parts() -> None:
    c = campaign([{"name": "s", "subsets": ["s"], "data_query": "skymap='hsc_rings_v1'",
                   "split": {"by": "values", "dimension": "tract", "values": [9615]}}],
                 data_query="instrument='HSC' OR instrument='LSSTCam'")
    (run,) = make_plan(c).runs
    # The OR stays inside its parentheses: it cannot widen the step's or group's constraint.
    assert run.data_query == ("(instrument='HSC' OR instrument='LSSTCam') AND (skymap='hsc_rings_v1') "
                              "AND (tract = 9615)")


def test_empty_query_parts_are_left_out() -> None:
    c = campaign([{"name": "s", "subsets": ["s"]}], data_query="instrument='HSC'")
    assert make_plan(c).runs[0].data_query == "(instrument='HSC')"
    assert make_plan(campaign([{"name": "s", "subsets": ["s"]}])).runs[0].data_query == ""


def test_step_resources_override_campaign_resources_key_by_key() -> None:
    c = campaign([{"name": "s", "subsets": ["s"],
                   "resources": {"requestMemory": 8192, "tasks": {"makeWarp": {"requestMemory": 16384}}}}],
                 resources={"requestMemory": 4096, "numberOfRetries": 3,
                            "tasks": {"makeWarp": {"requestCpus": 2}}})
    res = make_plan(c).runs[0].resources
    assert dict(res.values) == {"requestMemory": 8192, "numberOfRetries": 3}
    assert dict(res.tasks)["makeWarp"] == (("requestMemory", 16384), ("requestCpus", 2))


def test_manual_gate_is_closed_until_approved() -> None:
    steps = [{"name": "a", "subsets": ["a"]}, {"name": "b", "subsets": ["b"], "gate": "manual"}]
    closed = make_plan(campaign(steps)).runs[1]
    assert (closed.gate, closed.gate_open, closed.requires) == ("manual", False, ("a",))
    steps[1]["approved_by"] = "jdoe"
    assert make_plan(campaign(steps)).runs[1].gate_open


QUERY_SPLIT = {"by": "query", "dimension": "visit", "max_size": 5}


def test_frozen_groups_are_used_for_query_steps() -> None:
    c = campaign([{"name": "s", "subsets": ["s"], "split": QUERY_SPLIT}])
    plan = make_plan(c, frozen={"s": (("g0000", "visit IN (1, 2)", 2),)})
    assert [(r.group, r.data_query, r.size) for r in plan.runs] == [("g0000", "(visit IN (1, 2))", 2)]


def test_pending_query_step_says_groups_come_at_first_apply() -> None:
    c = campaign([{"name": "s", "subsets": ["s"], "split": QUERY_SPLIT}])
    plan = make_plan(c)
    assert [r.group for r in plan.runs] == ["pending-query"]
    assert "decided by a Butler query at first apply" in as_text(plan)
    assert "Butler query at first apply" in as_markdown(plan)
    assert json.loads(as_json(plan))["steps"][0]["groups_pending_query"] is True


def test_hsc_rc2_example_plans_every_step_in_pipeline_order() -> None:
    plan = make_plan(example("hsc-rc2-w_2026_47"))
    steps = list(dict.fromkeys(r.step for r in plan.runs))
    assert steps == ["step1", "step2a", "step2b", "step2cde", "step3", "step4", "step5", "step6", "step7",
                     "step8"]
    assert [r.group for r in plan.runs_of("step3")] == ["tract9615", "tract9697", "tract9813"]
    assert [(r.gate, r.gate_open) for r in plan.runs_of("step6")] == [("manual", False)]


def test_dc2_example_splits_its_visit_list_in_groups_of_at_most_max_size() -> None:
    plan = make_plan(example("dc2-test-med-1-w_2026_47"))
    sizes = [r.size for r in plan.runs_of("step1")]
    assert sizes == [100, 100, 100, 45]
    assert [r.group for r in plan.runs_of("step1")] == [r.group for r in plan.runs_of("step4")]


def test_the_same_campaign_gives_the_same_plan_text_byte_for_byte() -> None:
    a, b = make_plan(example("hsc-rc2-w_2026_47")), make_plan(example("hsc-rc2-w_2026_47"))
    assert a == b
    assert (as_text(a), as_markdown(a), as_json(a)) == (as_text(b), as_markdown(b), as_json(b))


def test_text_header_names_profile_stack_repo_and_output() -> None:
    text = as_text(make_plan(example("hsc-rc2-w_2026_47")))
    for expected in ("usdf-panda (site USDF, wms panda)", "w_2026_47", "/repo/main", "HSC/RC2/defaults",
                     "HSC/runs/RC2/w_2026_47/DM-53100", "22 run(s) in 10 step(s), 1 behind a manual gate"):
        assert expected in text


def test_text_says_which_quanta_share_a_job() -> None:
    text = as_text(make_plan(example("hsc-rc2-w_2026_47")))
    step1 = text[text.index("\nstep1 "):text.index("\nstep2a ")]
    assert ("  clustering: visit_detector: isr,characterizeImage,calibrate,writePreSourceTable,"
            "transformPreSourceTable, one job per visit x detector\n") in step1
    assert text.count("clustering:") == 1, "only the step that clusters says so"


def test_markdown_shows_manual_gates_and_every_run_of_a_small_plan() -> None:
    plan = make_plan(example("hsc-rc2-w_2026_47"))
    md = as_markdown(plan)
    assert "| step6 | step6 | 1 | step5 | **manual: waits for approval** |" in md
    for r in plan.runs:
        assert f"| {r.step} | {r.group} |" in md


def test_markdown_table_cells_escape_pipes_and_backticks() -> None:
    c = campaign([{"name": "s", "subsets": ["s"], "data_query": "a = 'x|y' AND b = '`'"}])
    md = as_markdown(make_plan(c))
    assert "a = 'x\\|y'" in md
    assert "`` (a = 'x\\|y' AND b = '`') ``" in md


def huge_campaign(tmp_path: Path, ids: int, steps: int) -> Campaign:
    (tmp_path / "visits.txt").write_text("".join(f"{v}\n" for v in range(ids)), encoding="utf-8")
    split = {"by": "count", "dimension": "visit", "max_size": 10, "source": "visits.txt"}
    return campaign([{"name": f"step{i}", "subsets": [f"step{i}"], "split": split} for i in range(steps)],
                    path=tmp_path / "campaign.yaml")


def test_markdown_of_a_huge_plan_is_summarised_under_the_limit(tmp_path: Path) -> None:
    plan = make_plan(huge_campaign(tmp_path, 20_000, 5))  # 10,000 runs
    md = as_markdown(plan, limit=60_000)
    assert len(md) < 60_000
    assert "| step0 | g0000 |" in md and "| step4 | g1999 |" in md
    assert "| step2 | … 1990 more | | |" in md
    assert "`campaign plan test-campaign` lists all" in md


@pytest.mark.parametrize("limit", [400, 2_000, 10_000])
def test_markdown_never_reaches_the_limit_even_when_tiny(tmp_path: Path, limit: int) -> None:
    plan = make_plan(huge_campaign(tmp_path, 3_000, 40))
    assert len(as_markdown(plan, limit=limit)) < limit


def test_json_is_machine_readable_with_stable_key_order() -> None:
    data = json.loads(as_json(make_plan(example("dc2-test-med-1-w_2026_47"))))
    assert list(data)[:4] == ["campaign", "description", "profile", "site"]
    assert data["total_runs"] == sum(len(s["runs"]) for s in data["steps"])
    step1 = data["steps"][0]
    assert step1["name"] == "step1" and step1["runs"][0]["key"] == "step1/g0000"
    assert step1["runs"][0]["data_query"].startswith("(instrument='LSSTCam-imSim') AND (visit IN (")


# ---- the `campaign plan` command -----------------------------------------------------------------

def test_plan_command_prints_json_for_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    from campaignops.cli import main as cli

    assert cli.main(["--root", str(ROOT), "plan", "hsc-rc2-w_2026_47", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_runs"] == 22


def test_plan_command_uses_query_groups_frozen_in_the_ledger(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from campaignops.cli import main as cli
    from campaignops.ledger import records, store

    shutil.copytree(ROOT / "campaigns" / "profiles", tmp_path / "campaigns" / "profiles")
    folder = tmp_path / "campaigns" / "q-campaign"
    folder.mkdir()
    (folder / "campaign.yaml").write_text(yaml.safe_dump({
        "name": "q-campaign", "description": "d", "operator": "lsstsvc1", "profile": "htcondor",
        "stack": {"tag": "w_2026_47"},
        "butler": {"repo": "/repo/main", "inputs": ["HSC/defaults"], "output": "u/{operator}/{campaign}"},
        "pipeline": "/p/DRP.yaml",
        "steps": [{"name": "step1", "subsets": ["step1"],
                   "split": {"by": "query", "dimension": "visit", "max_size": 2}}]}), encoding="utf-8")
    args = ["--root", str(tmp_path), "plan", "q-campaign"]
    assert cli.main(args) == 0
    assert "step1/pending-query" in capsys.readouterr().out
    store.save(folder, records.Ledger("q-campaign").with_frozen_groups(
        "step1", (("g0000", "visit IN (1, 2)", 2), ("g0001", "visit = 3", 1))))
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "step1/g0000 (2 IDs): (visit IN (1, 2))" in out and "step1/g0001 (1 ID): (visit = 3)" in out


def test_plan_command_names_known_campaigns_when_one_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    from campaignops.cli import main as cli

    assert cli.main(["--root", str(ROOT), "plan", "no-such-campaign"]) == 1
    assert "hsc-rc2-w_2026_47" in capsys.readouterr().err


def test_data_ids_the_preflight_excluded_are_left_out_of_the_runs_reading_the_inputs_only() -> None:
    c = campaign([{"name": "step1", "subsets": ["step1"], "split": {"by": "values", "dimension": "visit",
                                                                    "values": [1, 2]}},
                  {"name": "step2", "subsets": ["step2"]}],
                 data_query="instrument='HSC'", preflight={"inputs": ["raw"], "missing": "exclude"})
    excluded = {"preflight/raw": ("detector=3 instrument=HSC visit=1", "band=g detector=4 instrument=HSC visit=2")}
    plan = make_plan(c, excluded=excluded)
    step1 = [r.data_query for r in plan.runs_of("step1")]
    assert step1[0] == ("(instrument='HSC') AND (visit = 1) AND (NOT ((detector=3 AND instrument='HSC' AND visit=1) "
                        "OR (band='g' AND detector=4 AND instrument='HSC' AND visit=2)))")
    assert [r.data_query for r in plan.runs_of("step2")] == ["(instrument='HSC')"], "later steps read outputs"
    assert with_exclusions(plan, excluded) is plan, "applied once"
    fewer = with_exclusions(plan, {"preflight/raw": ("detector=3 instrument=HSC visit=1",)})
    assert fewer.runs_of("step1")[1].data_query.endswith(
        "AND (NOT ((detector=3 AND instrument='HSC' AND visit=1)))"), "a new exclusion replaces the old one"
    assert with_exclusions(fewer, {}) == make_plan(c), "and none gives the plan back"
