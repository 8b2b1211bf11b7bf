"""Rendered configs read by the real lsst.ctrl.bps BpsConfig resolve to what the campaign says."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign, PlannedRun
from campaignops.planning.plan import make_plan
from campaignops.planning.render import file_name, render_plan, render_run

pytestmark = pytest.mark.lsst

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("hsc-rc2-w_2026_47", "dc2-test-med-1-w_2026_47")
# ctrl_bps_panda's real site files (bps_usdf.yaml …, tests/fixtures/ctrl_bps_panda/README.md): they set
# project, campaign, payload.butlerConfig and the job's setupLSSTEnv, which the rendered config must
# override or feed (LSST_VERSION).
SITE_FILES = ROOT / "tests" / "fixtures" / "ctrl_bps_panda"


@pytest.fixture(autouse=True)
def bps_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # pandaclient resolves DNS at import time unless told it sits behind a real load balancer.
    monkeypatch.setenv("PANDA_BEHIND_REAL_LB", "1")
    monkeypatch.setenv("CTRL_BPS_PANDA_DIR", str(SITE_FILES))


def load_bps(path: Path) -> Any:
    """The config exactly as `bps submit` builds it (drivers.submit_driver)."""
    bps = pytest.importorskip("lsst.ctrl.bps")
    return bps.BpsConfig(str(path), search_order=bps.BPS_SEARCH_ORDER, defaults=bps.BPS_DEFAULTS)


def example(name: str, profile: str | None = None) -> Campaign:
    path = ROOT / "campaigns" / name / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return campaign_from_dict(data, spec.load_profile(profile or data["profile"], ROOT), path=path)


def qgraph_argv(config: Any) -> list[str]:
    """The `pipetask qgraph` command line bps would run, split the way bps splits it."""
    found, command = config.search("createQuantumGraph", opt={"curvals": {"qgraphFile": "run.qg"}})
    assert found
    return shlex.split(command)


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def rendered_examples() -> Iterator[tuple[str, str]]:
    for name in EXAMPLES:
        for run in make_plan(example(name)).runs:
            yield name, run.key


@pytest.mark.parametrize(("name", "key"), list(rendered_examples()))
def test_every_example_config_resolves_in_bps_as_the_campaign_says(
        name: str, key: str, tmp_path: Path) -> None:
    campaign = example(name)
    run = next(r for r in make_plan(campaign).runs if r.key == key)
    (path,) = [p for p in render_plan(make_plan(campaign), tmp_path, root=ROOT) if p.name == file_name(run)]
    config = load_bps(path)
    out_run = f"{campaign.output}/{run.step}/{run.group}/a01"

    assert config[".payload.dataQuery"] == run.data_query
    assert config["outputRun"] == out_run  # not the default "{output}/{timestamp}"
    assert config["pipelineYaml"] == f"{campaign.pipeline}#{','.join(run.subsets)}"
    assert (config["campaign"], config["project"], config["operator"]) == (
        campaign.name, campaign.project, campaign.operator)
    # The campaign's values win over the included PanDA site file; its stack reaches the job setup.
    assert config["butlerConfig"] == campaign.butler_repo
    assert config["computeSite"] == "SLAC"
    assert config[".finalJob.queue"] == "SLAC_Rubin_Merge"
    assert f"/lsst_distrib/{campaign.stack_tag}/loadLSST.bash" in config["setupLSSTEnv"]
    resources = dict(run.resources.values)
    assert config["requestMemory"] == resources.get("requestMemory", 2048)
    assert config["numberOfRetries"] == resources["numberOfRetries"]
    for label, values in run.resources.tasks:
        for key_, value in values:
            found, got = config.search(key_, opt={"curvals": {"curr_pipetask": label}})
            assert (found, got) == (True, value), f"{label}.{key_}"

    argv = qgraph_argv(config)
    assert option(argv, "-d") == run.data_query
    assert option(argv, "--output-run") == out_run
    assert option(argv, "-i") == ",".join(campaign.inputs)


def test_per_task_memory_override_applies_only_to_that_task(tmp_path: Path) -> None:
    campaign = example("hsc-rc2-w_2026_47")
    run = make_plan(campaign).runs_of("step3")[0]
    path = tmp_path / "step3.yaml"
    path.write_text(render_run(campaign, run, 1, root=ROOT), encoding="utf-8")
    config = load_bps(path)
    assert config.search("requestMemory", opt={"curvals": {"curr_pipetask": "makeWarp"}})[1] == 8192
    assert config.search("requestMemory", opt={"curvals": {"curr_pipetask": "assembleCoadd"}})[1] == 16384
    assert config.search("requestMemory", opt={"curvals": {"curr_pipetask": "detection"}})[1] == 4096


def test_step1_clustering_reaches_bps(tmp_path: Path) -> None:
    campaign = example("hsc-rc2-w_2026_47")
    run = make_plan(campaign).runs_of("step1")[0]
    path = tmp_path / "step1.yaml"
    path.write_text(render_run(campaign, run, 1, root=ROOT), encoding="utf-8")
    config = load_bps(path)
    assert config["clusterAlgorithm"] == "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"
    assert config[".cluster.visit_detector.dimensions"] == "visit,detector"


def test_retry_and_rescue_reach_the_qgraph_command(tmp_path: Path) -> None:
    campaign = example("hsc-rc2-w_2026_47")
    run = make_plan(campaign).runs_of("step3")[0]
    earlier = (f"{campaign.output}/step3/tract9615/a01",)
    path = tmp_path / "rescue.yaml"
    path.write_text(render_run(campaign, run, 2, root=ROOT, memory_multiplier=2.0, rescue_from=earlier),
                    encoding="utf-8")
    config = load_bps(path)
    argv = qgraph_argv(config)
    assert option(argv, "--skip-existing-in") == earlier[0]
    assert option(argv, "-i") == "HSC/RC2/defaults", "the rescued run is read through the output chain"
    assert option(argv, "--output-run").endswith("/a02")
    assert config["requestMemory"] == 8192
    assert config.search("requestMemory", opt={"curvals": {"curr_pipetask": "makeWarp"}})[1] == 16384


@pytest.mark.parametrize(("profile", "site", "cloud", "queue"), [
    ("usdf-panda", "SLAC", "US", "SLAC_Rubin_Merge"),
    ("frdf-panda", "CC-IN2P3", "EU", "CC-IN2P3_Rubin_Merge"),
    ("ukdf-panda", "LANCS", "EU", "LANCS_Rubin_Merge"),
])
def test_panda_profiles_send_runs_to_their_site(profile: str, site: str, cloud: str, queue: str,
                                                tmp_path: Path) -> None:
    campaign = example("hsc-rc2-w_2026_47", profile)
    path = tmp_path / "run.yaml"
    path.write_text(render_run(campaign, make_plan(campaign).runs[0], 1, root=ROOT), encoding="utf-8")
    config = load_bps(path)
    assert config["wmsServiceClass"] == "lsst.ctrl.bps.panda.PanDAService"
    assert (config["computeSite"], config["computeCloud"], config[".finalJob.queue"]) == (site, cloud, queue)
    assert config["maxJobsPerTask"] == 10000


def test_htcondor_profile_keeps_bps_defaults(tmp_path: Path) -> None:
    campaign = example("hsc-rc2-w_2026_47", "htcondor")
    path = tmp_path / "run.yaml"
    path.write_text(render_run(campaign, make_plan(campaign).runs[0], 1, root=ROOT), encoding="utf-8")
    config = load_bps(path)
    assert config["wmsServiceClass"] == "lsst.ctrl.bps.htcondor.HTCondorService"
    assert config["submitPath"].endswith(f"/submit/{campaign.output}/step1/visit0-9999/a01")
    assert "LSST_VERSION" not in yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("query", ["band = 'g' AND visit = 1 # not a comment", "a = 'x: y'\nAND b = 2",
                                   "physical_filter IN ('HSC-I', 'HSC-I2')"])
def test_accepted_hostile_queries_reach_pipetask_unchanged(query: str, tmp_path: Path) -> None:
    campaign = example("hsc-rc2-w_2026_47", "htcondor")
    run: PlannedRun = make_plan(campaign).runs[0]
    run = PlannedRun(**{**run.__dict__, "data_query": query})
    path = tmp_path / "run.yaml"
    path.write_text(render_run(campaign, run, 1, root=ROOT), encoding="utf-8")
    assert option(qgraph_argv(load_bps(path)), "-d") == query

