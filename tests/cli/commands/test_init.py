"""`campaign init DIR`: a control repository ready to push, made by the real command in a subprocess, committed by
real git, and validated by `campaign validate --all` run inside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from campaignops.campaign_spec.starter import WORKFLOWS, profiles_for, runner_requirement
from campaignops.domain.checklist import CHECKLIST
from campaignops.domain.wms import WmsKind

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "campaignops @ git+https://github.com/lsst-dm/campaignops@v0.1.0"


def campaign(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "campaignops.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "scripts"), **(env or {})}, timeout=120)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_init_makes_a_committed_repository_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "rubin-campaigns"
    made = campaign("init", str(target), "--facility", "usdf,frdf,ukdf", "--wms", "panda", "--package", PACKAGE,
                    "--stack", "w_2026_48", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "one commit on main" in made.stdout and "next: step 1 of" in made.stdout
    files = set(git(target, "ls-files").split())
    assert {f".github/workflows/{w}" for w in WORKFLOWS} <= files
    assert ".github/workflows/tests.yml" not in files  # this project's own suite, not the control repository's
    assert {"campaigns/profiles/usdf-panda.yaml", "campaigns/profiles/frdf-panda.yaml",
            "campaigns/profiles/ukdf-panda.yaml", "campaigns/rules.yaml", "campaigns/templates/ci-hsc-weekly.yaml",
            "campaigns/ci-hsc-w_2026_48/campaign.yaml", "README.md", "requirements.txt", ".python-version",
            ".github/actions/setup-campaignops/action.yml", ".github/actions/setup-campaignops/setup.sh"} <= files
    assert git(target, "status", "--porcelain") == ""  # everything written is committed
    assert git(target, "log", "--format=%s").splitlines() == ["Control repository made by `campaign init`"]
    assert "100755" in git(target, "ls-files", "-s", ".github/actions/setup-campaignops/setup.sh")
    assert PACKAGE in (target / "requirements.txt").read_text().splitlines()

    checked = campaign("validate", "--all", cwd=target)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: 6 files checked" in checked.stdout  # 3 profiles, the rules, the template, the first campaign
    planned = campaign("plan", "ci-hsc-w_2026_48", cwd=target)
    assert planned.returncode == 0 and "step1" in planned.stdout, planned.stderr


def test_the_control_repository_runs_this_projects_workflows_and_profiles(tmp_path: Path) -> None:
    target = tmp_path / "c"
    assert campaign("init", str(target), "--package", PACKAGE, cwd=tmp_path).returncode == 0
    for workflow in WORKFLOWS:
        assert (target / ".github/workflows" / workflow).read_bytes() == \
            (ROOT / ".github/workflows" / workflow).read_bytes()
    assert (target / "campaigns/profiles/usdf-panda.yaml").read_bytes() == \
        (ROOT / "campaigns/profiles/usdf-panda.yaml").read_bytes()
    assert (target / "campaigns/rules.yaml").read_bytes() == (ROOT / "campaigns/rules.yaml").read_bytes()


def test_slurm_facilities_get_their_slurm_profiles_and_the_first_campaign_the_first_of_them(tmp_path: Path) -> None:
    target = tmp_path / "c"
    made = campaign("init", str(target), "--facility", "frdf,usdf", "--wms", "slurm", "--package", PACKAGE,
                    "--stack", "w_2026_47", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in (target / "campaigns/profiles").iterdir()) == ["frdf-slurm.yaml", "usdf-s3df.yaml"]
    spec = (target / "campaigns/ci-hsc-w_2026_47/campaign.yaml").read_text()
    assert re.search(r"(?m)^profile: frdf-slurm$", spec)
    assert re.search(r"(?m)^profile: frdf-slurm$", (target / "campaigns/templates/ci-hsc-weekly.yaml").read_text())
    assert "set the repository variable CAMPAIGNOPS_RUNNER_LABEL=frdf" in (target / "README.md").read_text()
    assert campaign("validate", "--all", cwd=target).returncode == 0


def test_a_non_empty_folder_is_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    refused = campaign("init", str(target), cwd=tmp_path)
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    forced = campaign("init", str(target), "--force", "--package", PACKAGE, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (target / "notes.txt").read_text() == "mine\n"  # left alone, and not committed by init
    assert "notes.txt" not in git(target, "ls-files").split()


def test_a_facility_without_a_profile_for_the_wms_is_refused_naming_those_that_exist(tmp_path: Path) -> None:
    refused = campaign("init", str(tmp_path / "c"), "--facility", "usdf,ukdf", "--wms", "slurm", cwd=tmp_path)
    assert refused.returncode == 1
    assert "no slurm profile for ukdf" in refused.stderr and "usdf --wms slurm" in refused.stderr
    assert not (tmp_path / "c").exists()


def test_without_a_git_identity_the_files_are_added_and_the_missing_commit_is_said(tmp_path: Path) -> None:
    nobody = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
              "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.useConfigOnly", "GIT_CONFIG_VALUE_0": "true"}
    nobody_env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER", "EMAIL"))}
    made = subprocess.run([sys.executable, "-m", "campaignops.cli", "init", str(tmp_path / "c"), "--package", PACKAGE],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**nobody_env, "PYTHONPATH": str(ROOT / "scripts"), **nobody})
    assert made.returncode == 0, made.stderr
    assert "added but not committed" in made.stdout and "git config --global user.name" in made.stdout
    assert "README.md" in git(tmp_path / "c", "diff", "--cached", "--name-only").split()


def test_the_readme_numbers_the_checklist_as_doctor_setup_does(tmp_path: Path) -> None:
    target = tmp_path / "c"
    assert campaign("init", str(target), "--package", PACKAGE, cwd=tmp_path).returncode == 0
    readme = (target / "README.md").read_text()
    numbered = re.findall(r"(?m)^(\d+)\. \*\*(.+?)\*\*", readme)
    assert numbered == [(str(i), s.title) for i, s in enumerate(CHECKLIST, start=1)]
    assert f"pip install '{runner_requirement(PACKAGE)}'" in readme
    assert "campaignops[lsst] @ git+https://github.com/lsst-dm/campaignops@v0.1.0" in readme


def test_the_runner_requirement_adds_the_lsst_extra_to_any_form() -> None:
    assert runner_requirement("campaignops==0.1.0") == "campaignops[lsst]==0.1.0"
    assert runner_requirement("campaignops[rucio] @ git+https://x/y@v1") == "campaignops[rucio,lsst] @ git+https://x/y@v1"
    assert runner_requirement("campaignops[lsst]") == "campaignops[lsst]"
    assert profiles_for(("usdf", "usdf"), WmsKind.PANDA) == ["usdf-panda"]


@pytest.mark.parametrize("wanted", ["--help"])
def test_init_help_says_what_it_makes_and_that_nothing_is_pushed(tmp_path: Path, wanted: str) -> None:
    out = campaign("init", wanted, cwd=tmp_path).stdout
    assert "Nothing is pushed and nothing is submitted" in out and "--facility" in out and "--force" in out


def test_the_setup_guide_has_the_checklists_steps_in_order_and_the_readme_links_it() -> None:
    guide = (ROOT / "docs" / "setup.md").read_text(encoding="utf-8")
    assert guide.startswith("# Your organisation, step by step")
    headings = re.findall(r"(?m)^## (\d+)\. (.+)$", guide)
    assert headings == [(str(i), s.title) for i, s in enumerate(CHECKLIST, start=1)]
    assert "python tests/workflows/act_local.py" in guide and (ROOT / "tests/workflows/act_local.py").is_file()
    assert "(docs/setup.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
