"""`campaign doctor --setup`: one check per step of the set-up checklist, judged from plain facts, and the command on a
control repository made by `campaign init` (real git, a bare origin) against the fake GitHub on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters import setup_facts
from campaignops.adapters.setup_facts import pinned_middleware
from campaignops.cli.commands import doctor as doctor_cmd
from campaignops.domain.checklist import CHECKLIST
from campaignops.domain.model import Profile
from campaignops.domain.runner import Facts, Runner, SetupFacts
from campaignops.domain.wms import WmsKind
from campaignops.engine.doctor import Level
from campaignops.engine.doctor_setup import SETUP_CHECKS, next_step, run_setup_checks
from fakes.github_api import PAT, REPO, TOKEN, FakeGitHub

pytest_plugins = ["fakes.github_api"]

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PINS = (("lsst-ctrl-bps", "30.2026.4300"), ("lsst-daf-butler", "30.2026.4300"))
DONE = SetupFacts(
    repository=REPO, actions_enabled=True, allowed_actions="all", runner_label="usdf", label_source="default",
    runners=(Runner("usdf-1", "online", ("self-hosted", "Linux", "X64", "usdf")),), venv="/opt/venv",
    venv_python=True, prefix="/opt/venv", pinned=PINS, installed=PINS, workdir="/sdf/work", workdir_exists=True,
    workdir_writable=True, checkout="/home/runner/_work/campaigns/campaigns", temporary=("/tmp",),
    can_push=True, can_read_issues=True, forks=Facts(REPO, "private", self_hosted=True), campaigns=1, submitted=1)


def levels(facts: SetupFacts) -> dict[str, Level]:
    return {s.key: f.level for s, f in zip(CHECKLIST, run_setup_checks(facts, NOW), strict=True)}


def test_every_checklist_step_has_its_check_in_the_checklists_order() -> None:
    assert list(SETUP_CHECKS) == [s.key for s in CHECKLIST]
    findings = run_setup_checks(DONE, NOW)
    assert [f.check for f in findings] == [f"{i}. {s.title}" for i, s in enumerate(CHECKLIST, start=1)]
    assert all(f.level == Level.OK for f in findings), [f for f in findings if f.level != Level.OK]
    assert next_step(findings) is None


def test_the_next_step_is_the_first_not_done_in_order_and_says_how() -> None:
    facts = replace(DONE, venv=None, workdir=None)
    following = next_step(run_setup_checks(facts, NOW))
    assert following is not None and following.check.startswith("4. Build CAMPAIGNOPS_VENV")
    assert "python3.12 -m venv" in following.fix
    unknown_only = replace(DONE, runners=None, runners_note="403")
    following = next_step(run_setup_checks(unknown_only, NOW))
    assert following is not None and following.level == Level.UNKNOWN and following.check.startswith("3.")


def test_a_runner_without_the_label_the_jobs_ask_for_is_an_error_naming_its_labels() -> None:
    facts = replace(DONE, runner_label="frdf", label_source="repository variable")
    [finding] = [f for f in run_setup_checks(facts, NOW) if f.check.startswith("3.")]
    assert finding.level == Level.ERROR
    assert "label 'frdf' (repository variable)" in finding.message and "usdf-1: self-hosted, Linux, X64, usdf" in \
        finding.message and "--labels" in finding.fix
    offline = replace(DONE, runners=(Runner("usdf-1", "offline", ("self-hosted", "usdf")),))
    assert levels(offline)["runner"] == Level.WARNING
    assert levels(replace(DONE, runners=None, in_job=True))["runner"] == Level.OK  # the job got onto it


def test_with_a_runner_per_facility_each_facility_needs_its_own_runner_online() -> None:
    per_site = replace(DONE, site_labels=(("USDF", "USDF"), ("FrDF", "ccin2p3-1")),
                       runners=(Runner("s3df-1", "online", ("self-hosted", "Linux", "usdf")),))  # labels: any case
    [finding] = [f for f in run_setup_checks(per_site, NOW) if f.check.startswith("3.")]
    assert finding.level == Level.ERROR and "no runner for FrDF (label 'ccin2p3-1')" in finding.message
    both = replace(per_site, runners=(*(per_site.runners or ()), Runner("cc-1", "offline", ("self-hosted", "ccin2p3-1"))))
    [finding] = [f for f in run_setup_checks(both, NOW) if f.check.startswith("3.")]
    assert finding.level == Level.WARNING and "FrDF: cc-1" in finding.message
    up = replace(both, runners=(*(per_site.runners or ()), Runner("cc-1", "online", ("self-hosted", "ccin2p3-1"))))
    [finding] = [f for f in run_setup_checks(up, NOW) if f.check.startswith("3.")]
    assert finding.level == Level.OK and finding.message.endswith("USDF: s3df-1; FrDF: cc-1")


def test_the_venv_must_hold_the_pinned_middleware() -> None:
    older = replace(DONE, installed=(("lsst-ctrl-bps", "30.2026.4000"), ("lsst-daf-butler", None)))
    [finding] = [f for f in run_setup_checks(older, NOW) if f.check.startswith("4.")]
    assert finding.level == Level.ERROR
    assert "lsst-ctrl-bps 30.2026.4000 (pinned 30.2026.4300)" in finding.message
    assert "lsst-daf-butler missing" in finding.message
    assert levels(replace(DONE, venv_python=False))["venv"] == Level.ERROR
    assert levels(replace(DONE, prefix="/usr"))["venv"] == Level.WARNING  # checked another Python than the jobs'


def test_pinned_middleware_is_read_from_the_installed_campaignops() -> None:
    pins = dict(pinned_middleware())
    assert pins.get("lsst-ctrl-bps") == "30.2026.4300" and pins.get("lsst-daf-butler") == "30.2026.4300"


@pytest.mark.parametrize(("workdir", "level"), [
    ("/home/runner/_work/campaigns/campaigns/work", Level.ERROR),  # inside the checkout: cleaned every job
    ("/tmp/campaignops", Level.ERROR),  # does not outlive a reboot
    ("/sdf/work", Level.OK),
    (None, Level.ERROR),
])
def test_the_work_directory_must_be_outside_the_checkout_and_persistent(workdir: str | None, level: Level) -> None:
    assert levels(replace(DONE, workdir=workdir))["workdir"] == level


def test_token_record_branch_facility_and_first_campaign() -> None:
    assert levels(replace(DONE, can_push=False))["token"] == Level.ERROR
    assert levels(replace(DONE, can_push=None, token_note="installation token"))["token"] == Level.UNKNOWN
    assert levels(replace(DONE, record_branch="records", record_branch_exists=False))["records"] == Level.OK
    assert levels(replace(DONE, record_branch="records", record_note="no origin"))["records"] == Level.UNKNOWN
    usdf = Profile("usdf-panda", "", "USDF", WmsKind.PANDA, "", (), monitor=(("url", "https://mon/"),))
    panda = replace(DONE, panda_in_use=True, site="USDF", profiles=(usdf,), panda_env=(("PANDA_URL", "https://p"),))
    assert levels(panda)["facility"] == Level.ERROR  # no token
    [no_url] = [f for f in run_setup_checks(replace(panda, panda_env=()), NOW) if f.check.startswith("9.")]
    assert no_url.level == Level.ERROR and "PANDA_URL is not set" in no_url.message
    assert levels(replace(panda, panda_token_expires=NOW + timedelta(days=3)))["facility"] == Level.OK
    assert levels(replace(panda, panda_token_expires=NOW + timedelta(hours=12)))["facility"] == Level.WARNING
    assert levels(replace(DONE, slurm_in_use=True, slurm_problem="`squeue` failed"))["facility"] == Level.ERROR
    assert levels(replace(DONE, submitted=0))["first-campaign"] == Level.WARNING


# ---- the command on a control repository made by `campaign init` --------------------------------------------

def _control_repository(tmp_path: Path) -> Path:
    target = tmp_path / "control"
    subprocess.run([sys.executable, "-m", "campaignops.cli", "init", str(target), "--package", "campaignops"],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    for args in (["remote", "add", "origin", str(origin)], ["push", "-q", "origin", "main"]):
        subprocess.run(["git", *args], cwd=target, check=True, capture_output=True)
    return target


def _doctor(root: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    doctor_cmd.add_arguments(parser)
    args = parser.parse_args(["--setup", "--repo", REPO, *argv])
    args.root = str(root)
    return doctor_cmd.run(args)


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer, tmp_path: Path) -> Path:
    venv = Path(sys.prefix)
    for key, value in {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": httpserver.url_for(""),
                       "CAMPAIGNOPS_VENV": str(venv), "CAMPAIGNOPS_WORKDIR": str(tmp_path / "persistent")}.items():
        monkeypatch.setenv(key, value)
    for key in ("GITHUB_ACTIONS", "RUNNER_ENVIRONMENT", "RUNNER_NAME", "GITHUB_REPOSITORY", "CAMPAIGNOPS_DOCTOR_TOKEN",
                "CAMPAIGNOPS_RECORD_BRANCH", "CAMPAIGNOPS_RUNNER_LABEL", "PANDA_AUTH_ID_TOKEN", "PANDA_CONFIG_ROOT"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def _tmp_path_is_storage(monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    """pytest's tmp_path (under /tmp) stands for the facility's persistent storage here."""
    monkeypatch.setattr(setup_facts, "TEMPORARY", ())
    monkeypatch.setattr(tempfile, "tempdir", str(where / "scratch"))


def test_doctor_setup_on_a_fresh_control_repository_names_the_next_step(
        runner_env: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _tmp_path_is_storage(monkeypatch, runner_env)
    root = _control_repository(runner_env)
    assert _doctor(root) == 1  # the PanDA token of usdf-panda is missing
    out = capsys.readouterr().out
    assert f"ok: 1. Push the control repository to GitHub: {REPO} is on GitHub" in out
    # Actions' token cannot read runners, variables nor Actions permissions: said, with the token that could
    assert "could not check: 2. Let the workflows' actions run" in out and "CAMPAIGNOPS_DOCTOR_TOKEN" in out
    assert "could not check: 3. Register a self-hosted runner" in out
    assert "could not check: 8. Let the jobs' token write" in out  # an installation token: no `permissions`
    assert "error: 9. Give the runner the facility's credentials" in out and "panda_auth" in out
    assert "warning: 11." in out and "none submitted yet" in out
    assert out.rstrip().splitlines()[-1].startswith("next: step 9. Give the runner the facility's credentials")


def test_with_an_admin_token_the_runner_label_variable_and_runners_are_read(
        runner_env: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _tmp_path_is_storage(monkeypatch, runner_env)
    root = _control_repository(runner_env)
    github.admin_tokens = (PAT,)
    monkeypatch.setenv("CAMPAIGNOPS_DOCTOR_TOKEN", PAT)
    github.variables = {"CAMPAIGNOPS_RUNNER_LABEL": "frdf"}
    github.runners = [("cc-runner-1", "online", ("self-hosted", "Linux", "X64", "usdf"))]
    github.actions_permissions = {"enabled": True, "allowed_actions": "local_only"}
    _doctor(root)
    out = capsys.readouterr().out
    assert "error: 2. Let the workflows' actions run: only local only actions may run" in out
    assert "error: 3. Register a self-hosted runner" in out and "label 'frdf' (repository variable)" in out
    assert "cc-runner-1: self-hosted, Linux, X64, usdf" in out
    assert out.rstrip().splitlines()[-1].startswith("next: step 2.")
    github.runners = [("cc-runner-1", "online", ("self-hosted", "Linux", "X64", "frdf"))]
    github.actions_permissions = {"enabled": True, "allowed_actions": "selected"}
    _doctor(root)
    out = capsys.readouterr().out
    assert "ok: 2. Let the workflows' actions run: actions allowed: selected" in out
    assert "ok: 3. Register a self-hosted runner at the facility, with its label: cc-runner-1 online" in out
    # a runner per facility: the facilities and their labels are the repository variables the workflows read
    github.variables = {"CAMPAIGNOPS_SITES": '["USDF", "FrDF"]', "CAMPAIGNOPS_RUNNER_LABEL_FrDF": "frdf"}
    _doctor(root)
    out = capsys.readouterr().out
    assert "error: 3. Register a self-hosted runner" in out and "no runner for USDF (label 'USDF')" in out


def test_the_record_branch_is_asked_of_the_real_remote_and_a_missing_one_needs_nothing(
        runner_env: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = _control_repository(runner_env)
    monkeypatch.setenv("CAMPAIGNOPS_RECORD_BRANCH", "records")
    _doctor(root)
    assert "record branch records does not exist yet: the first `campaign publish` makes it" in capsys.readouterr().out
    subprocess.run(["git", "push", "-q", "origin", "main:records"], cwd=root, check=True, capture_output=True)
    _doctor(root)
    assert "ok: 7. Decide where the ledgers are committed: main, or a record branch: record branch records exists" \
        in capsys.readouterr().out


def test_a_work_directory_inside_the_checkout_and_slurm_without_squeue_are_errors(
        runner_env: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = _control_repository(runner_env / "c")
    spec = root / "campaigns" / next(p.name for p in (root / "campaigns").iterdir() if p.name.startswith("ci-hsc"))
    (spec / "campaign.yaml").write_text((spec / "campaign.yaml").read_text().replace("profile: usdf-panda",
                                                                                     "profile: local-slurm"))
    (root / "campaigns/profiles/local-slurm.yaml").write_text((ROOT / "campaigns/profiles/local-slurm.yaml").read_text())
    monkeypatch.setenv("CAMPAIGNOPS_WORKDIR", str(root / "work"))
    bin_dir = runner_env / "bin"  # git, and no Slurm client commands
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert _doctor(root) == 1
    out = capsys.readouterr().out
    assert "error: 5. Give the runner a work directory" in out and "is inside the checkout" in out
    assert "error: 9. Give the runner the facility's credentials (PanDA token, Slurm): Slurm does not answer: " \
           "`squeue` is not installed here" in out
