"""Rendering BPS submit YAML: exact keys, byte-stable output, safe quoting, and the golden example files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.errors import RenderError
from campaignops.domain.model import Campaign, PlannedRun
from campaignops.planning.plan import make_plan
from campaignops.planning.render import config_hash, output_run, render_plan, render_run

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
EXAMPLES = ("hsc-rc2-w_2026_47", "dc2-test-med-1-w_2026_47")
PROFILE = profile_from_dict({
    "name": "usdf-panda", "description": "test", "site": "USDF", "wms": "panda",
    "bps": {"wmsServiceClass": "lsst.ctrl.bps.panda.PanDAService", "computeSite": "SLAC",
            "finalJob": {"queue": "SLAC_Rubin_Merge", "requestMemory": 4096}}})


def campaign(step: dict[str, Any] | None = None, **top: Any) -> Campaign:
    data = {"name": "test-campaign", "description": "d", "operator": "lsstsvc1", "profile": "usdf-panda",
            "project": "DRP", "stack": {"tag": "w_2026_47"},
            "butler": {"repo": "/repo/main", "inputs": ["HSC/RC2/defaults", "refcats"],
                       "output": "HSC/runs/{campaign}"},
            "pipeline": "${DRP_PIPE_DIR}/pipelines/HSC/DRP-RC2.yaml",
            "data_query": "instrument='HSC'",
            "steps": [step or {"name": "step3", "subsets": ["step3", "step3b"],
                               "split": {"by": "values", "dimension": "tract", "values": [9615, 9697]}}],
            **top}
    return campaign_from_dict(data, PROFILE)


def first_run(c: Campaign) -> PlannedRun:
    return make_plan(c).runs[0]


def rendered(c: Campaign, attempt: int = 1, **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(render_run(c, first_run(c), attempt, **kwargs))
    return data


def example(name: str) -> Campaign:
    path = ROOT / "campaigns" / name / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return campaign_from_dict(data, spec.load_profile(data["profile"], ROOT), path=path)


def test_output_run_is_unique_per_attempt_and_has_no_timestamp() -> None:
    c = campaign()
    run = first_run(c)
    assert output_run(c, run, 1) == "HSC/runs/test-campaign/step3/tract9615/a01"
    assert output_run(c, run, 12) == "HSC/runs/test-campaign/step3/tract9615/a12"
    with pytest.raises(RenderError):
        output_run(c, run, 0)


def test_render_is_byte_identical_between_invocations() -> None:
    c = campaign()
    assert render_run(c, first_run(c), 1) == render_run(campaign(), first_run(campaign()), 1)


def test_identity_and_payload_keys_are_the_ones_bps_reads() -> None:
    data = rendered(campaign())
    assert data["pipelineYaml"] == "${DRP_PIPE_DIR}/pipelines/HSC/DRP-RC2.yaml#step3,step3b"
    assert (data["project"], data["campaign"], data["operator"]) == ("DRP", "test-campaign", "lsstsvc1")
    assert data["payload"] == {
        "payloadName": "test-campaign-step3-tract9615",
        "butlerConfig": "/repo/main",
        "inCollection": "HSC/RC2/defaults,refcats",
        "dataQuery": "(instrument='HSC') AND (tract = 9615)",
        "output": "HSC/runs/test-campaign",
        "outputRun": "HSC/runs/test-campaign/step3/tract9615/a01",
    }
    assert data["wmsServiceClass"] == "lsst.ctrl.bps.panda.PanDAService"
    assert data["LSST_VERSION"] == "w_2026_47"  # the PanDA site configs set jobs up from it


def test_bps_defaults_are_left_alone_when_the_campaign_sets_nothing() -> None:
    data = rendered(campaign())
    for key in ("submitPath", "requestMemory", "numberOfRetries", "pipetask", "clusterAlgorithm",
                "extraQgraphOptions"):
        assert key not in data


def test_relative_butler_repo_is_joined_to_the_repository_root(tmp_path: Path) -> None:
    c = campaign(butler={"repo": "demo/repo", "inputs": ["x"], "output": "out"})
    assert rendered(c, root=tmp_path)["payload"]["butlerConfig"] == str(tmp_path / "demo" / "repo")


def test_resources_and_per_task_overrides_are_rendered() -> None:
    c = campaign({"name": "s", "subsets": ["step3"], "resources": {
        "requestMemory": 4096, "requestWalltime": 3600, "tasks": {"makeWarp": {"requestMemory": 8192}}}},
        resources={"numberOfRetries": 3, "memoryMultiplier": 2, "requestMemoryMax": 65536})
    data = rendered(c)
    assert {k: data[k] for k in ("requestMemory", "requestWalltime", "numberOfRetries", "memoryMultiplier",
                                 "requestMemoryMax")} == {"requestMemory": 4096, "requestWalltime": 3600,
                                                          "numberOfRetries": 3, "memoryMultiplier": 2,
                                                          "requestMemoryMax": 65536}
    assert data["pipetask"] == {"makeWarp": {"requestMemory": 8192}}


def test_memory_multiplier_scales_every_memory_request() -> None:
    c = campaign({"name": "s", "subsets": ["step3"], "resources": {
        "requestMemoryMax": 10000, "tasks": {"makeWarp": {"requestMemory": 8192}}}})
    data = rendered(c, memory_multiplier=1.5)
    # No requestMemory in the spec: the BPS default (2048) is what gets multiplied.
    assert (data["requestMemory"], data["requestMemoryMax"]) == (3072, 15000)
    assert data["pipetask"]["makeWarp"]["requestMemory"] == 12288


def test_clustering_renders_dimension_clustering() -> None:
    c = campaign({"name": "step1", "subsets": ["step1"], "clustering": {
        "per_visit": {"pipetasks": "isr,calibrate", "dimensions": "visit"}}})
    data = rendered(c)
    assert data["clusterAlgorithm"] == "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"
    assert data["cluster"] == {"per_visit": {"dimensions": "visit", "pipetasks": "isr,calibrate"}}


def test_step_bps_keys_override_profile_keys_section_by_section() -> None:
    c = campaign({"name": "s", "subsets": ["s"], "bps": {"computeSite": "SLAC_Rubin_Big",
                                                           "finalJob": {"requestMemory": 65536}}})
    data = rendered(c)
    assert data["computeSite"] == "SLAC_Rubin_Big"
    assert data["finalJob"] == {"queue": "SLAC_Rubin_Merge", "requestMemory": 65536}


@pytest.mark.parametrize("key", ["payload", "pipelineYaml", "operator"])
def test_step_bps_cannot_change_what_runs_or_where_it_writes(key: str) -> None:
    # validation refuses these first (tests/broken/campaigns/step-bps-*); render asserts the same rule
    value = {"outputRun": "x"} if key == "payload" else "x"
    c = campaign({"name": "s", "subsets": ["s"], "bps": {key: value}})
    with pytest.raises(RenderError, match="set from the campaign"):
        render_run(c, first_run(c), 1)


def test_rescue_skips_what_earlier_runs_hold_and_reads_them_through_the_output_chain() -> None:
    c = campaign({"name": "s", "subsets": ["s"], "bps": {"extraQgraphOptions": "--clobber-outputs"}})
    earlier = ("HSC/runs/test-campaign/s/all/a02", "HSC/runs/test-campaign/s/all/a01")
    data = rendered(c, attempt=3, rescue_from=earlier)
    # the earlier runs are in the output chain already: as inputs too, pipetask refuses a later step's rescue
    assert data["payload"]["inCollection"].split(",") == ["HSC/RC2/defaults", "refcats"]
    assert data["extraQgraphOptions"] == ("--clobber-outputs --skip-existing-in "
                                          "HSC/runs/test-campaign/s/all/a02,HSC/runs/test-campaign/s/all/a01")
    assert data["payload"]["outputRun"].endswith("/a03")


@pytest.mark.parametrize("query", ['name = "x"', "path = 'a\\b'", "x = {visit}", "x = $HOME"])
def test_queries_that_the_bps_command_line_would_change_are_refused(query: str) -> None:
    c = campaign({"name": "s", "subsets": ["s"], "data_query": query})
    with pytest.raises(RenderError, match="inside double quotes"):
        render_run(c, first_run(c), 1)


@pytest.mark.parametrize("pipeline", ["/a b/DRP.yaml", "DRP.yaml#step1", "'DRP.yaml'"])
def test_pipeline_paths_that_break_the_command_line_are_refused(pipeline: str) -> None:
    c = campaign(pipeline=pipeline)
    with pytest.raises(RenderError, match="pipeline"):
        render_run(c, first_run(c), 1)


def test_a_run_waiting_for_its_butler_query_cannot_be_rendered() -> None:
    split = {"by": "query", "dimension": "visit", "max_size": 5}
    c = campaign({"name": "s", "subsets": ["s"], "split": split})
    with pytest.raises(RenderError, match="Butler query at first apply"):
        render_run(c, first_run(c), 1)


def test_config_hash_is_sixteen_hex_digits_that_follow_the_text() -> None:
    c = campaign()
    text = render_run(c, first_run(c), 1)
    assert re.fullmatch(r"[0-9a-f]{16}", config_hash(text))
    assert config_hash(text) != config_hash(render_run(c, first_run(c), 2))


# ---- hostile values: whatever a spec holds must reach bps unchanged --------------------------------

HOSTILE = ["it's: a # comment", "*alias", "&anchor", "!tag", "line1\nline2\n", "  padded  ", "${VAR}",
           "yes", "null", "0o17", "1e3", "- item", "[a, b]", "{a: b}", "%percent", "@at", "`tick`", "é ü 🚀",
           "tab\there", "trailing\\", "'single'", '"double"', "", "\u2028sep", "---", "..."]


@pytest.mark.parametrize("value", [v for v in HOSTILE if "`" not in v])  # a backtick: refused, below
def test_hostile_step_bps_values_round_trip_exactly(value: str) -> None:
    c = campaign({"name": "s", "subsets": ["s"], "bps": {"siteNote": value, "nested": {"list": [value, 1]}}})
    data = rendered(c)
    assert data["siteNote"] == value
    assert data["nested"] == {"list": [value, 1]}


@pytest.mark.parametrize(("key", "value"), [("extraRunQuantumOptions", "$(touch canary)"), ("siteNote", "`id`"),
                                            ("extraQgraphOptions", "--config ${HOME}/x.py")])
def test_render_refuses_a_bps_value_the_job_shell_would_run(key: str, value: str) -> None:
    c = campaign({"name": "s", "subsets": ["s"], "bps": {key: value}})
    with pytest.raises(RenderError, match="should have refused"):
        rendered(c)


@pytest.mark.parametrize("query", ["visit = 1 AND band = 'g' # not a comment", "a = 'x: y'\nAND b = 2",
                                   "physical_filter = 'HSC-I2' AND detector != 9", "* & ! : -"])
def test_hostile_queries_that_bps_accepts_round_trip_exactly(query: str) -> None:
    c = campaign({"name": "s", "subsets": ["s"], "data_query": query}, data_query="")
    assert rendered(c)["payload"]["dataQuery"] == f"({query.strip()})"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
       .filter(lambda s: "`" not in s and "$(" not in s))
def test_any_string_round_trips_through_render_and_yaml(value: str) -> None:
    c = campaign({"name": "s", "subsets": ["s"], "bps": {"siteNote": value}})
    assert rendered(c)["siteNote"] == value


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\{}$'),
               min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_any_accepted_query_round_trips_through_render_and_yaml(query: str) -> None:
    c = campaign({"name": "s", "subsets": ["s"], "data_query": query}, data_query="")
    assert rendered(c)["payload"]["dataQuery"] == f"({query.strip()})"


# ---- render_plan and the golden files ---------------------------------------------------------------

def test_render_plan_writes_one_file_per_run_and_skips_pending_query_steps(tmp_path: Path) -> None:
    c = campaign_from_dict({
        "name": "test-campaign", "description": "d", "operator": "op", "profile": "p",
        "stack": {"tag": "local"}, "butler": {"repo": "/r", "inputs": ["in"], "output": "out"},
        "pipeline": "p.yaml",
        "steps": [{"name": "a", "subsets": ["a"],
                   "split": {"by": "values", "dimension": "tract", "values": [1, 2]}},
                  {"name": "b", "subsets": ["b"],
                   "split": {"by": "query", "dimension": "visit", "max_size": 9}}]},
        PROFILE)
    paths = render_plan(make_plan(c), tmp_path / "out")
    assert [p.name for p in paths] == ["a__tract1.yaml", "a__tract2.yaml"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a__tract1.yaml", "a__tract2.yaml"]
    before = [p.read_bytes() for p in paths]
    render_plan(make_plan(c), tmp_path / "out")
    assert [p.read_bytes() for p in paths] == before


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_renders_match_the_golden_files(name: str, tmp_path: Path) -> None:
    """Any change to rendered configs shows up here; regenerate with UPDATE_GOLDEN=1 and review the diff."""
    golden = GOLDEN / name
    out = golden if os.environ.get("UPDATE_GOLDEN") == "1" else tmp_path
    if out is golden and golden.exists():
        for stale in golden.glob("*.yaml"):
            stale.unlink()
    paths = render_plan(make_plan(example(name)), out, root=ROOT)
    assert sorted(p.name for p in golden.glob("*.yaml")) == sorted(p.name for p in paths), \
        "groups changed: regenerate with UPDATE_GOLDEN=1 and review"
    for p in paths:
        assert p.read_bytes() == (golden / p.name).read_bytes(), f"{p.name} differs from tests/golden/{name}"


needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")


@needs_libyaml
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_libyaml_and_pure_python_emitters_write_the_same_bytes(value: str) -> None:
    # Renders must not depend on whether PyYAML was built with libyaml on the runner.
    from campaignops.planning.render import dump

    data = {"a": value, "b": {"c": [value, 1, 2.5, True, None]}, "d": 3}
    assert dump(data) == dump(data, pure_python=True)


@needs_libyaml
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_render_the_same_with_either_emitter(name: str) -> None:
    from campaignops.planning.render import dump, submit_config

    c = example(name)
    for run in make_plan(c).runs:
        config = submit_config(c, run, 1, root=ROOT)
        assert dump(config) == dump(config, pure_python=True)


def test_render_command_writes_the_golden_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from campaignops.cli import main as cli

    assert cli.main(["--root", str(ROOT), "render", "hsc-rc2-w_2026_47", "-o", str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == sorted(p.name for p in (GOLDEN / "hsc-rc2-w_2026_47").glob("*.yaml"))
    assert all(p.read_bytes() == (GOLDEN / "hsc-rc2-w_2026_47" / p.name).read_bytes() for p in written)
    assert "22 submit config(s) written" in capsys.readouterr().out
