"""Every production profile prepares the demo campaign through the real PanDA, HTCondor or parsl plugin, offline.

The demo campaign is rendered for usdf-panda, frdf-panda, ukdf-panda, htcondor, usdf-s3df and frdf-slurm against a
demo Butler (each test its own copy: tests/conftest.py), and `bps prepare` (ctrl_bps's prepare_driver, no server
asked) builds the quantum graph and the plugin's own workflow. The PanDA site files are ctrl_bps_panda's real ones
(tests/fixtures/ctrl_bps_panda).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.adapters.bps.prepare import PreparedRun, PrepareError, prepare
from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign
from campaignops.planning.plan import make_plan
from campaignops.planning.render import render_run

pytestmark = [pytest.mark.lsst, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SITE_FILES = ROOT / "tests" / "fixtures" / "ctrl_bps_panda"
PACKAGE = "/sdf/group/rubin/shared/dev/DM-48211/pipe_tasks"


@pytest.fixture(autouse=True)
def panda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTRL_BPS_PANDA_DIR", str(SITE_FILES))  # what the stack's EUPS set-up defines
    monkeypatch.setenv("PANDA_BEHIND_REAL_LB", "1")
    monkeypatch.delenv("LSST_RUN_TEMP_SPACE", raising=False)


def demo(profile: str, butler: Path, stack: dict[str, Any] | None = None, clustered: bool = False) -> Campaign:
    """The demo campaign's step 1 on `profile`: calibrateDemo with raised memory, 3 attempts per job; unclustered
    unless asked."""
    path = ROOT / "campaigns" / "demo" / "campaign.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data |= {"profile": profile, "stack": stack or {"tag": "w_2026_47"}}
    data["butler"] |= {"repo": str(butler), "output": f"prepare/{profile}"}  # one output per prepare
    data["resources"] = {"numberOfRetries": 3, "tasks": {"calibrateDemo": {"requestMemory": 6000}}}
    data["steps"] = data["steps"][:1]
    if not clustered:  # one job per quantum, labelled by its task (the demo clusters step1 by visit)
        data["steps"][0].pop("clustering", None)
    return campaign_from_dict(data, spec.load_profile(profile, ROOT), path=path)


def prepared(campaign: Campaign, tmp: Path, attempt: int = 1, multiplier: float = 1.0) -> PreparedRun:
    run = make_plan(campaign).runs[0]  # visits 1001-1002: 8 calibrateDemo quanta
    config = tmp / f"{campaign.profile.name}-a{attempt}.yaml"
    config.write_text(render_run(campaign, run, attempt, root=ROOT, memory_multiplier=multiplier), encoding="utf-8")
    return prepare(config, tmp / f"work-{campaign.profile.name}-a{attempt}")


@pytest.mark.parametrize(("profile", "site", "cloud", "queues"), [
    ("usdf-panda", "SLAC", "US", ("SLAC_Rubin", "SLAC_Rubin_Medium", "SLAC_Rubin_Merge")),
    ("frdf-panda", "CC-IN2P3", "EU", (None, None, "CC-IN2P3_Rubin_Merge")),
    ("ukdf-panda", "LANCS", "EU", (None, None, "LANCS_Rubin_Merge")),
])
def test_panda_profiles_reach_panda_with_site_cloud_queues_memory_retries_and_command(
        profile: str, site: str, cloud: str, queues: tuple[str | None, ...], demo_butler: Path,
        tmp_path: Path) -> None:
    stack = {"tag": "w_2026_47+DM-48211", "packages": [PACKAGE]} if profile == "usdf-panda" else None
    out = prepared(demo(profile, demo_butler, stack), tmp_path)

    assert out.service == "lsst.ctrl.bps.panda.PanDAService"
    assert [t.label for t in out.tasks] == ["pipetaskInit", "calibrateDemo", "finalJob"]
    init, calibrate, final = out.tasks
    assert all((t.site, t.cloud) == (site, cloud) for t in out.tasks)
    assert (init.queue, calibrate.queue, final.queue) == queues
    assert calibrate.name.endswith("_02_calibrateDemo_01") and calibrate.jobs == 8
    assert (init.memory, calibrate.memory) == (2048, 6000)
    assert calibrate.retries == 3
    # The payload each job runs, as ctrl_bps_panda's edge-node decoder gets it.
    assert calibrate.command.startswith("pipetask --long-log --log-level=VERBOSE --log-file payload-log.json")
    assert f"run-qbb {demo_butler} " in calibrate.command and "--qgraph-node-id {qgraphNodeId}" in calibrate.command
    # The job's stack: the site file's setupLSSTEnv with the campaign's base release, then its packages.
    assert "unset PYTHONPATH; source /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib/w_2026_47/loadLSST.bash;" \
           " setup lsst_distrib;" in calibrate.wrapper
    assert (f"setup -k -r {PACKAGE};" in calibrate.wrapper) == (stack is not None)
    assert Path(out.submit_dir, "final_job.bash").is_file()


def test_a_more_memory_retry_reaches_panda_on_the_bigger_queue(demo_butler: Path, tmp_path: Path) -> None:
    out = prepared(demo("usdf-panda", demo_butler), tmp_path, attempt=2, multiplier=2.0)
    assert (out.task("pipetaskInit").memory, out.task("pipetaskInit").queue) == (4096, "SLAC_Rubin")
    assert (out.task("calibrateDemo").memory, out.task("calibrateDemo").queue) == (12000, "SLAC_Rubin_Himem")
    assert out.submit_dir.endswith("/a02")


def test_a_clustered_step_reaches_panda_as_one_job_per_cluster_with_its_tasks_memory_and_queue(
        demo_butler: Path, tmp_path: Path) -> None:
    """The demo's step 1 as it is (`clustering: {visit: {pipetasks: calibrateDemo, dimensions: visit}}`): one PanDA
    job per visit, each running that visit's four detectors, on the queue that fits its task's memory."""
    out = prepared(demo("usdf-panda", demo_butler, clustered=True), tmp_path)
    assert [t.label for t in out.tasks] == ["pipetaskInit", "visit", "finalJob"]
    cluster = out.task("visit")
    assert (cluster.jobs, cluster.memory, cluster.queue, cluster.retries) == (2, 6000, "SLAC_Rubin_Medium", 3)


def test_htcondor_profile_writes_the_dag_and_submit_files(demo_butler: Path, tmp_path: Path) -> None:
    campaign = demo("htcondor", demo_butler, {"tag": "w_2026_47+DM-48211", "packages": [PACKAGE]})
    out = prepared(campaign, tmp_path)
    assert out.service == "lsst.ctrl.bps.htcondor.HTCondorService"
    assert {t.label: t.jobs for t in out.tasks} == {"pipetaskInit": 1, "calibrateDemo": 8, "finalJob": 1}
    calibrate = out.task("calibrateDemo")
    assert (calibrate.memory, calibrate.retries) == (6000, 3)
    assert " --long-log --log-level=VERBOSE run-qbb " in calibrate.command
    assert calibrate.command.split()[0].endswith("/pipetask")
    # HTCondor jobs take the submitting environment: a developer stack set up there reaches them.
    assert calibrate.wrapper == "getenv=True"
    assert campaign.setup_command().endswith(f"setup -k -r {PACKAGE}")


@pytest.mark.parametrize(("profile", "site", "queues"), [
    ("usdf-s3df", "sdf", ("local", "sdf", "local")),  # pipetaskInit and finalJob run in the bps process
    ("frdf-slurm", "ccin2p3", ("local", "medium", "local")),  # Ccin2p3.select_executor: 6000 MB, the 10 GB slot
])
def test_slurm_profiles_prepare_a_parsl_workflow_with_the_sites_executors_offline(
        profile: str, site: str, queues: tuple[str, ...], demo_butler: Path, tmp_path: Path) -> None:
    out = prepared(demo(profile, demo_butler), tmp_path)
    assert out.service == "lsst.ctrl.bps.parsl.ParslService"
    assert {t.label: t.jobs for t in out.tasks} == {"pipetaskInit": 1, "calibrateDemo": 8, "finalJob": 1}
    assert tuple(out.task(label).queue for label in ("pipetaskInit", "calibrateDemo", "finalJob")) == queues
    assert {t.site for t in out.tasks} == {site}
    calibrate = out.task("calibrateDemo")
    assert (calibrate.memory, calibrate.retries) == (6000, 3)
    assert " run-qbb " in calibrate.command and str(demo_butler) in calibrate.command
    assert "{" not in calibrate.command  # every bps variable and file resolved, as the worker runs it
    assert list(Path(out.submit_dir).glob("*.pickle"))  # parsl's workflow, what `bps restart` reads back


def test_a_config_bps_cannot_prepare_is_a_clear_error(demo_butler: Path, tmp_path: Path) -> None:
    campaign = demo("usdf-panda", demo_butler)
    config = tmp_path / "bad.yaml"
    text = render_run(campaign, make_plan(campaign).runs[0], 1, root=ROOT)
    config.write_text(text.replace("DemoCam/defaults", "DemoCam/no-such-collection"), encoding="utf-8")
    with pytest.raises(PrepareError, match=r"bps prepare of .*bad\.yaml failed: BpsSubprocessError: Generating "
                                           r"quantum graph failed"):
        prepare(config, tmp_path / "work")
