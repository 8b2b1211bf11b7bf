"""The 3×3 campaign from the command line, without its site Butlers: it validates and plans (every site and
transfer shown); `campaign apply` refuses loudly when a site's Butler cannot be asked; the status job warns,
keeps those groups pending and goes on with the other campaigns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from campaignops.domain.errors import ButlerQueryError
from campaignops.workspace import open_campaign

ROOT = Path(__file__).resolve().parents[2]


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "campaigns" / "profiles", root / "campaigns" / "profiles")
    shutil.copytree(ROOT / "campaigns" / "demo-3x3", root / "campaigns" / "demo-3x3",
                    ignore=shutil.ignore_patterns("ledger", "STATUS.md"))
    spec = root / "campaigns" / "demo-3x3" / "campaign.yaml"
    yaml = YAML()
    data = yaml.load(spec)
    data["pipeline"] = str(ROOT / data["pipeline"])
    yaml.dump(data, spec)
    return root


def campaign(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "campaignops.cli", "--root", str(root), *args], capture_output=True,
                          text=True, env={**os.environ, "CAMPAIGNOPS_WORKDIR": str(root.parent / "work")},
                          timeout=300, check=False)


def test_without_its_butlers_the_campaign_validates_and_its_plan_shows_sites_and_transfers(tmp_path: Path) -> None:
    root = repo(tmp_path)
    assert campaign(root, "validate").returncode == 0
    plan = campaign(root, "plan", "demo-3x3", "--format", "markdown")
    assert plan.returncode == 0, plan.stderr
    assert "| step1 | pending-query.local-frdf |" in plan.stdout and "| local-frdf |" in plan.stdout
    assert plan.stdout.count("| demo_coadd |") == 2 and "**Transfers between sites**" in plan.stdout


def test_apply_refuses_when_a_sites_butler_cannot_be_asked_and_the_status_job_goes_on(tmp_path: Path) -> None:
    root = repo(tmp_path)
    with pytest.raises(ButlerQueryError, match="cannot open Butler repository"):
        open_campaign(root, "demo-3x3", workdir=tmp_path / "apply", say=lambda _: None)
    said: list[str] = []
    ws = open_campaign(root, "demo-3x3", workdir=tmp_path / "look", say=said.append, strict_groups=False)
    assert all(r.pending for r in ws.plan.runs_of("step1")) and ws.ledger.frozen_groups == ()
    assert any("step1: its groups stay pending" in line for line in said)
    reconcile = campaign(root, "reconcile", "--all", "--no-pages")  # its own work dir: no lock held here
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "its groups stay pending" in reconcile.stdout
