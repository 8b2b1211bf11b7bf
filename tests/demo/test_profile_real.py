"""`campaign profile` on a real demo run: per-task memory and time from the quanta's own metadata in the
Butler, the suggestion written into the spec (comments kept), the table on the campaign page."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML
from test_e2e_local import campaign_cli

from campaignops.demo.run import make_control_repo
from campaignops.ledger import store
from fakes.bps_wait import settle

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lsst, pytest.mark.slow]


def cli(control: Path, *args: str) -> str:
    """`campaign ARGS` on `control` (in this process, as tests/demo/test_e2e_local.py runs it)."""
    return campaign_cli(control, control.parent / "work", *args).stdout


def test_profile_reports_real_usage_and_writes_a_right_sized_request(tmp_path: Path, demo_butler: Path) -> None:
    control = make_control_repo(ROOT, tmp_path / "control", demo_butler)
    spec_file = control / "campaigns" / "demo" / "campaign.yaml"
    ry = YAML()
    data = ry.load(spec_file)
    del data["steps"][1:]
    data["steps"][0]["split"] = {"by": "values", "dimension": "visit", "values": [[1001, 1002]]}
    ry.dump(data, spec_file)

    cli(control, "apply", "demo")
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        cli(control, "reconcile", "demo", "--no-pages")
        ledger = store.load(control / "campaigns" / "demo", "demo")
        if all(r.state is not None and r.state.finished for r in ledger.runs):
            break
        settle(control.parent / "work")  # until bps ends, then one look
    assert [r.state.value for r in ledger.runs if r.state] == ["SUCCEEDED"]

    report = json.loads(cli(control, "profile", "demo", "--format", "json"))
    (task,) = report["tasks"]
    assert (task["step"], task["label"], task["quanta"]) == ("step1", "calibrateDemo", 8)  # 2 visits x 4 detectors
    memory, cpu, wall = task["memory_mb"], task["cpu_s"], task["wall_s"]
    # a pipetask process with the middleware imported: tens to hundreds of MB, never zero or absurd
    assert 30 < memory["p50"] <= memory["p95"] <= memory["max"] < 4096
    # the demo's quanta use a few ms of CPU: on an idle machine the metadata may round that to 0
    assert 0 <= cpu["p50"] <= cpu["p95"] <= cpu["max"] < 300 and 0 < wall["p50"] <= wall["max"] < 300
    assert task["requested_mb"] == 2048  # the demo asks for nothing: the BPS default
    assert task["suggested_mb"] >= memory["p99"] * 1.2 and task["suggested_mb"] % 256 == 0
    assert report["suggested"] == {"step1": {"calibrateDemo": task["suggested_mb"]}}
    # the cost from the quanta's own metadata (the local WMS reports none): 8 single-core quanta, nothing lost
    step_cost, campaign_cost = report["cost"]
    assert (step_cost["what"], step_cost["attempts"], step_cost["jobs"], step_cost["sources"]) == (
        "step1", 1, 8, ["metadata"])
    assert 0 < step_cost["core_hours"] == campaign_cost["core_hours"] < 8 * 300 / 3600
    assert step_cost["peak_memory_mb"] == pytest.approx(memory["max"], abs=0.1) and step_cost["lost_core_hours"] == 0

    text = cli(control, "profile", "demo", "--record", "--write")
    assert "calibrateDemo" in text and "over-requested" in text
    assert "recorded in campaigns/demo/profile.yaml" in text
    spec = spec_file.read_text()
    assert "# Transient failure injection" in spec  # comments kept
    step1 = yaml.safe_load(spec)["steps"][0]
    assert step1["resources"]["tasks"]["calibrateDemo"]["requestMemory"] == task["suggested_mb"]
    assert "note: step1 already ran" in text and "supersede:" in text
    # the edit changes runs that were submitted: validation says so, and `supersede:` makes it a new attempt
    refused = campaign_cli(control, control.parent / "work", "validate", str(spec_file), check=False)
    assert refused.returncode == 1 and "supersede: {visit1001-1002:" in refused.stdout, refused.stdout
    spec_file.write_text(spec.replace("  - name: step1\n", "  - name: step1\n    supersede: {'*': right-sized}\n", 1))
    cli(control, "validate", str(spec_file))
    again = cli(control, "profile", "demo")
    assert "Every request already matches its suggestion." in again

    cli(control, "status", "demo")
    page = (control / "campaigns" / "demo" / "STATUS.md").read_text()
    table = page.split("## Resource use per task")[1]
    assert "| step1 | calibrateDemo | 8 |" in table
    cost = page.split("## Cost")[1]
    assert "| step1 | 1 | 8 |" in cost and "| **campaign** | 1 | 8 |" in cost and "0.0 (0%) | metadata |" in cost
