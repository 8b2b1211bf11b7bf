"""`campaign doctor`: pure checks on gathered facts, and the command against a fake GitHub on 127.0.0.1."""

from __future__ import annotations

import argparse

import pytest
from pytest_httpserver import HTTPServer

from campaignops.cli.commands import doctor as doctor_cmd
from campaignops.domain.runner import Facts, RunnerGroup
from campaignops.engine.doctor import CHECKS, Finding, Level, check_public_runner, run_checks, worst
from fakes.github_api import PAT, REPO, TOKEN, FakeGitHub

pytest_plugins = ["fakes.github_api"]  # the fake GitHub and its fixtures

OURS = tuple(f"{REPO}/.github/workflows/{w}@refs/heads/main" for w in ("status.yml", "submit.yml"))


def level(facts: Facts) -> Level:
    [finding] = check_public_runner(facts)
    return finding.level


def test_a_private_repository_is_fine_whatever_the_runner_group() -> None:
    assert level(Facts(REPO, "private", self_hosted=True)) == Level.OK
    assert level(Facts(REPO, "internal", self_hosted=True)) == Level.OK


def test_a_public_repository_with_an_open_runner_group_warns_with_the_settings_to_change() -> None:
    open_group = RunnerGroup("Default", "all", restricted_to_workflows=False, allows_public_repositories=True)
    [finding] = check_public_runner(Facts(REPO, "public", self_hosted=True, runner_name="usdf-1",
                                          runner_group=open_group))
    assert finding.level == Level.WARNING and "'Default' is not restricted to selected workflows" in finding.message
    assert "Workflow access: Selected workflows" in finding.fix and f"{REPO}/.github/workflows/status.yml" in finding.fix
    assert "Require approval for all external contributors" in finding.fix


def test_a_public_repository_with_a_group_restricted_to_its_workflows_is_fine() -> None:
    group = RunnerGroup("usdf", "selected", restricted_to_workflows=True, selected_workflows=OURS)
    assert level(Facts(REPO, "public", self_hosted=True, runner_group=group)) == Level.OK
    other = RunnerGroup("usdf", "selected", True, (*OURS, "someone/else/.github/workflows/x.yml@main"))
    assert level(Facts(REPO, "public", self_hosted=True, runner_group=other)) == Level.WARNING


def test_what_could_not_be_read_is_said_not_guessed() -> None:
    [unknown] = check_public_runner(Facts(REPO, None, "GET /repos: 401"))
    assert unknown.level == Level.UNKNOWN and "could not check whether" in unknown.message and "401" in unknown.message
    [blind] = check_public_runner(Facts(REPO, "public", self_hosted=True, runner_name="usdf-1",
                                        runner_group_note="403"))
    assert blind.level == Level.WARNING and "could not be checked (403)" in blind.message


def test_checks_are_a_list_others_can_extend() -> None:
    def check_workdir(facts: Facts) -> list[Finding]:
        return [Finding("work directory", Level.ERROR, "missing")]

    findings = run_checks(Facts(REPO, "private"), [*CHECKS, check_workdir])
    assert [f.check for f in findings] == ["runner reachable from forks", "work directory"]
    assert worst(findings) == Level.ERROR and worst([]) == Level.OK


# ---- the command -------------------------------------------------------------------------------

def _doctor(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    doctor_cmd.add_arguments(parser)
    return doctor_cmd.run(parser.parse_args(["--only", "runner", *argv]))


@pytest.fixture
def on_runner(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> None:
    for key, value in {"GITHUB_ACTIONS": "true", "RUNNER_ENVIRONMENT": "self-hosted", "RUNNER_NAME": "usdf-1",
                       "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN,
                       "GITHUB_API_URL": httpserver.url_for("")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CAMPAIGNOPS_DOCTOR_TOKEN", raising=False)


@pytest.mark.usefixtures("on_runner")
def test_on_a_public_repository_the_actions_token_cannot_see_runner_groups_and_says_so(
        github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    github.visibility = "public"
    assert _doctor("--format", "github") == 0
    out = capsys.readouterr().out
    assert out.startswith("::warning title=campaign doctor: runner reachable from forks::")
    assert "could not be checked" in out and "CAMPAIGNOPS_DOCTOR_TOKEN" in out and "Selected workflows" in out


@pytest.mark.usefixtures("on_runner")
def test_with_an_admin_token_the_open_runner_group_is_found(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    github.visibility = "public"
    github.admin_tokens = (PAT,)
    github.runner_groups = [({"id": 1, "name": "Default", "visibility": "all", "restricted_to_workflows": False,
                              "selected_workflows": [], "allows_public_repositories": True}, ["usdf-1"]),
                            ({"id": 2, "name": "other", "visibility": "all", "restricted_to_workflows": True,
                              "selected_workflows": list(OURS)}, ["elsewhere"])]
    monkeypatch.setenv("CAMPAIGNOPS_DOCTOR_TOKEN", PAT)
    assert _doctor() == 0
    out = capsys.readouterr().out
    assert "warning: runner reachable from forks:" in out and "'Default' is not restricted" in out
    github.runner_groups[0][0].update(restricted_to_workflows=True, selected_workflows=list(OURS))
    assert _doctor() == 0
    assert capsys.readouterr().out.startswith("ok: runner reachable from forks:")


@pytest.mark.usefixtures("on_runner")
def test_a_private_repository_needs_no_runner_group_request(github: FakeGitHub,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _doctor() == 0
    assert "is private" in capsys.readouterr().out
    assert github.calls("GET") == [f"/repos/{REPO}"]
