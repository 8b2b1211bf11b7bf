"""Failure issues: one per failing run, updated once per failed attempt, closed on success."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.adapters.github.tracker import GitHubTracker
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.model import Campaign
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.engine import notify as issues_mod
from campaignops.engine.notify import sync
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.ports import Tracker
from fakes.github_api import REPO, TOKEN, FakeGitHub, Sleeps, TimesOut, make_client

pytest_plugins = ["fakes.github_api"]  # the fake GitHub and its fixtures

PROFILE = {"name": "usdf-panda", "description": "USDF via PanDA", "site": "USDF",
           "wms": "panda", "bps": {"computeSite": "SLAC"}}


def campaign_dict(name: str = "hsc-rc2-w47", **extra: Any) -> dict[str, Any]:
    return {
        "name": name, "description": "HSC RC2 reprocessing", "operator": "lsstsvc1",
        "profile": "usdf-panda", "stack": {"tag": "w_2026_47"},
        "butler": {"repo": "/repo/main", "inputs": ["HSC/RC2/defaults"], "output": "HSC/runs/{campaign}"},
        "pipeline": "$DRP_PIPE_DIR/pipelines/HSC/DRP-RC2.yaml",
        "notifications": {"labels": ["hsc"], "assignees": ["pilot1"]},
        "steps": [{"name": "step1", "subsets": ["step1"]}, {"name": "step3", "subsets": ["step3"]}],
        **extra,
    }


def make_campaign(name: str = "hsc-rc2-w47") -> Campaign:
    return campaign_from_dict(campaign_dict(name), profile_from_dict(PROFILE))


def attempt(number: int, state: RunState, *, errors: tuple[str, ...] = (), failed: int = 2) -> Attempt:
    tasks: tuple[TaskCounts, ...] = ()
    if state in (RunState.FAILED, RunState.HELD):
        tasks = (TaskCounts("calibrate", (("FAILED", failed), ("SUCCEEDED", 40))),
                 TaskCounts("isr", (("SUCCEEDED", 42),)),
                 TaskCounts("writeSourceTable", (("PRUNED", 2),)))
    elif state == RunState.SUCCEEDED:
        tasks = (TaskCounts("calibrate", (("SUCCEEDED", 42),)), TaskCounts("isr", (("SUCCEEDED", 42),)))
    return Attempt(
        number=number, kind="submit" if number == 1 else "restart",
        output_run=f"HSC/runs/hsc-rc2-w47/step1/g0001/a{number}", config_hash="abc",
        config_path="submit/step1-g0001.yaml", launch_dir=f"/work/launch/a{number}",
        submit_dir=f"/sdf/submit/step1-g0001/a{number}", wms_id=f"{1000 + number}",
        submitted_at="2026-11-20T10:00:00+00:00", state=state,
        tasks=tasks, exit_codes=(("calibrate", (1,)),) if state == RunState.FAILED else (),
        errors=errors or (("Traceback (most recent call last):", "  File \"calibrate.py\", line 3",
                           "RuntimeError: PSF determination failed for detector 42")
                          if state == RunState.FAILED else ()),
        transitions=(Transition("2026-11-20T11:00:00+00:00", state),))


def ledger_with(*attempts: Attempt, step: str = "step1", group: str = "g0001") -> Ledger:
    return Ledger("hsc-rc2-w47", (RunRecord(step, group, "visit IN (1..9)", tuple(attempts)),))


TrackerFactory = Callable[[], Tracker]


@pytest.fixture(params=["github", "folder"])
def trackers(request: pytest.FixtureRequest, tmp_path: Path) -> TrackerFactory:
    """A new tracker each call, as a new status job would build one, on the same issue store."""
    if request.param == "folder":
        return lambda: FolderTracker(tmp_path / "issues")
    server: HTTPServer = request.getfixturevalue("httpserver")
    request.getfixturevalue("github")
    recorder: Sleeps = request.getfixturevalue("sleeps")
    return lambda: GitHubTracker(make_client(server, recorder), REPO)


def state_of(tracker: Tracker, campaign: str = "hsc-rc2-w47") -> list[tuple[str, str, list[str]]]:
    return [(i.key, i.state, tracker.comments(i)) for i in tracker.issues(campaign)]


# ---- the life of one failing run ----------------------------------------------------------------

def test_a_failed_run_gets_exactly_one_issue_however_often_sync_runs(trackers: TrackerFactory) -> None:
    campaign, ledger = make_campaign(), ledger_with(attempt(1, RunState.FAILED))

    first = sync(campaign, ledger, trackers())
    second = sync(campaign, ledger, trackers())  # the next status job
    third = sync(campaign, ledger, trackers())

    assert len(first) == 1 and first[0].startswith("hsc-rc2-w47 step1/g0001: opened ")
    assert second == [] and third == []
    assert state_of(trackers()) == [("hsc-rc2-w47/step1/g0001", "open", [])]


def test_the_issue_says_what_failed_where_the_logs_are_and_how_to_retry(trackers: TrackerFactory) -> None:
    sync(make_campaign(), ledger_with(attempt(1, RunState.FAILED)), trackers())

    [issue] = trackers().issues("hsc-rc2-w47")
    assert issue.title == "[hsc-rc2-w47] step1 g0001 failed: calibrate"
    body = issue.body
    assert body.startswith("<!-- campaignops:run hsc-rc2-w47/step1/g0001 -->\n<!-- campaignops:attempt 1 -->")
    assert "| task | succeeded | failed | other |" in body
    assert "| `calibrate` ❌ | 40 | 2 | 0 |" in body and "| `writeSourceTable` | 0 | 0 | 2 |" in body
    assert "| `calibrate` | 1 |" in body  # exit codes
    assert "```text\nTraceback (most recent call last):" in body
    assert "RuntimeError: PSF determination failed for detector 42\n```" in body
    assert "`/sdf/submit/step1-g0001/a1`" in body and "`HSC/runs/hsc-rc2-w47/step1/g0001/a1`" in body
    assert "| attempt | 1 (submit) |" in body
    for command in ("campaign retry hsc-rc2-w47 step1/g0001",
                    "campaign retry hsc-rc2-w47 step1/g0001 --memory-multiplier 2",
                    "campaign rescue hsc-rc2-w47 step1/g0001"):
        assert command in body


def test_each_new_failed_attempt_is_one_comment_and_success_closes(trackers: TrackerFactory) -> None:
    campaign = make_campaign()
    sync(campaign, ledger_with(attempt(1, RunState.FAILED)), trackers())

    # a retry is running: nothing to say
    assert sync(campaign, ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.RUNNING)), trackers()) == []
    failed_again = ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.FAILED))
    actions = sync(campaign, failed_again, trackers())
    assert sync(campaign, failed_again, trackers()) == []
    assert len(actions) == 1 and "commented on" in actions[0] and "attempt 2 failed" in actions[0]
    [(_, state, comments)] = state_of(trackers())
    assert state == "open" and len(comments) == 1
    assert comments[0].startswith("<!-- campaignops:attempt 2 -->\n## Attempt 2 failed")
    assert "| attempt | 2 (restart) |" in comments[0]

    fixed = ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.FAILED), attempt(3, RunState.SUCCEEDED))
    closed = sync(campaign, fixed, trackers())
    assert sync(campaign, fixed, trackers()) == []
    assert len(closed) == 1 and "closed" in closed[0] and "succeeded on attempt 3" in closed[0]
    [(_, state, comments)] = state_of(trackers())
    assert state == "closed" and len(comments) == 2
    assert "succeeded on attempt 3" in comments[1]


def test_a_held_run_opens_a_blocked_issue_then_its_failure_is_added(trackers: TrackerFactory) -> None:
    campaign = make_campaign()
    actions = sync(campaign, ledger_with(attempt(1, RunState.HELD)), trackers())

    [issue] = trackers().issues("hsc-rc2-w47")
    assert "blocked" in actions[0]
    assert issue.title == "[hsc-rc2-w47] step1 g0001 blocked: jobs held (attempt 1)"
    assert sync(campaign, ledger_with(attempt(1, RunState.HELD)), trackers()) == []
    assert len(sync(campaign, ledger_with(attempt(1, RunState.FAILED)), trackers())) == 1  # now it failed
    assert [len(c) for _, _, c in state_of(trackers())] == [1]


@pytest.mark.parametrize("state", [RunState.UNKNOWN, RunState.RUNNING, RunState.PENDING, RunState.SUBMITTING,
                                   RunState.CANCELLED, RunState.SUCCEEDED])
def test_runs_that_are_not_failing_open_nothing(trackers: TrackerFactory, state: RunState) -> None:
    assert sync(make_campaign(), ledger_with(attempt(1, state)), trackers()) == []
    assert trackers().issues("hsc-rc2-w47") == []


def test_unknown_after_a_failure_neither_comments_nor_closes(trackers: TrackerFactory) -> None:
    campaign = make_campaign()
    sync(campaign, ledger_with(attempt(1, RunState.FAILED)), trackers())

    assert sync(campaign, ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.UNKNOWN)), trackers()) == []
    assert state_of(trackers()) == [("hsc-rc2-w47/step1/g0001", "open", [])]


def test_runs_of_other_campaigns_and_steps_get_their_own_issues(trackers: TrackerFactory) -> None:
    ledger = Ledger("hsc-rc2-w47", (RunRecord("step1", "g0001", "", (attempt(1, RunState.FAILED),)),
                                    RunRecord("step1", "g0002", "", (attempt(1, RunState.FAILED),)),
                                    RunRecord("step3", "g0001", "", (attempt(1, RunState.SUCCEEDED),))))
    other = replace(ledger, campaign="dc2-test-med-1")
    sync(make_campaign(), ledger, trackers())
    sync(make_campaign("dc2-test-med-1"), other, trackers())
    sync(make_campaign(), ledger, trackers())

    assert [k for k, _, _ in state_of(trackers())] == ["hsc-rc2-w47/step1/g0001", "hsc-rc2-w47/step1/g0002"]
    assert [k for k, _, _ in state_of(trackers(), "dc2-test-med-1")] == [
        "dc2-test-med-1/step1/g0001", "dc2-test-med-1/step1/g0002"]


def test_an_issue_a_person_closed_is_not_reopened_for_the_same_attempt(trackers: TrackerFactory) -> None:
    campaign = make_campaign()
    ledger = ledger_with(attempt(1, RunState.FAILED))
    sync(campaign, ledger, trackers())
    tracker = trackers()
    tracker.close(tracker.issues("hsc-rc2-w47")[0])

    assert sync(campaign, ledger, trackers()) == []
    # a new failed attempt is news again: a new issue
    assert "opened" in sync(campaign, ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.FAILED)),
                            trackers())[0]
    assert [s for _, s, _ in state_of(trackers())] == ["closed", "open"]


def test_huge_error_output_is_cut_to_fit_githubs_limit(trackers: TrackerFactory) -> None:
    errors = tuple(f"line {i}: " + "x" * 2000 for i in range(5000)) + ("```",)
    sync(make_campaign(), ledger_with(attempt(1, RunState.FAILED, errors=errors)), trackers())

    [issue] = trackers().issues("hsc-rc2-w47")
    assert len(issue.body) < 65_536
    assert "more line(s) not shown: read the full logs in `/sdf/submit/step1-g0001/a1`" in issue.body
    assert "````text\nline 0: " in issue.body  # a fence longer than the ``` inside the errors
    assert "campaign rescue hsc-rc2-w47 step1/g0001" in issue.body  # the commands survive the cut


def test_a_run_that_failed_before_any_quantum_ran_still_gets_a_useful_title(trackers: TrackerFactory) -> None:
    bare = replace(attempt(1, RunState.FAILED), tasks=(), exit_codes=(), message="pipetaskInit failed")
    sync(make_campaign(), ledger_with(bare), trackers())

    [issue] = trackers().issues("hsc-rc2-w47")
    assert issue.title == "[hsc-rc2-w47] step1 g0001 failed: no quantum ran (see the issue)"
    assert "> pipetaskInit failed" in issue.body and "No per-task counts" in issue.body


# ---- GitHub specifics -----------------------------------------------------------------------------

def test_github_issue_carries_labels_and_assignees_and_missing_labels_are_created(
        github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps) -> None:
    github.labels = ["campaignops"]
    sync(make_campaign(), ledger_with(attempt(1, RunState.FAILED)), GitHubTracker(make_client(httpserver, sleeps), REPO))

    [issue] = github.open_issues()
    assert [lab["name"] for lab in issue["labels"]] == ["campaignops", "campaign:hsc-rc2-w47", "hsc"]
    assert [a["login"] for a in issue["assignees"]] == ["pilot1"]
    assert github.labels == ["campaignops", "campaign:hsc-rc2-w47", "hsc"]
    assert len(github.calls("POST", "/labels$")) == 2


def test_existing_issues_are_found_by_label_and_marker_among_many(
        github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps) -> None:
    for i in range(230):  # other campaignops issues, pull requests and unrelated issues
        github.add_issue(f"other {i}", f"<!-- campaignops:run other/step1/g{i:04d} -->", ("campaignops",))
    github.add_issue("a PR", "<!-- campaignops:run hsc-rc2-w47/step1/g0001 -->", ("campaignops",), pull_request=True)
    github.add_issue("ours", "<!-- campaignops:run hsc-rc2-w47/step1/g0001 -->\n<!-- campaignops:attempt 1 -->",
                     ("campaignops",))
    tracker = GitHubTracker(make_client(httpserver, sleeps), REPO)

    assert sync(make_campaign(), ledger_with(attempt(1, RunState.FAILED)), tracker) == []
    assert github.calls("POST") == []
    assert all(args.get("labels") == "campaignops" for m, p, args in github.log if p.endswith("/issues"))


def test_an_issue_whose_creation_timed_out_is_found_again_not_duplicated(
        github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps) -> None:
    client = make_client(httpserver, sleeps, session=TimesOut({"POST"}, times=3))
    github.labels = ["campaignops", "campaign:hsc-rc2-w47", "hsc"]

    actions = sync(make_campaign(), ledger_with(attempt(1, RunState.FAILED)), GitHubTracker(client, REPO))

    assert len(github.open_issues()) == 1 and "opened #1" in actions[0]


def test_a_comment_whose_post_timed_out_is_not_posted_twice(
        github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps) -> None:
    campaign = make_campaign()
    sync(campaign, ledger_with(attempt(1, RunState.FAILED)), GitHubTracker(make_client(httpserver, sleeps), REPO))
    client = make_client(httpserver, sleeps, session=TimesOut({"POST"}))

    sync(campaign, ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.FAILED)), GitHubTracker(client, REPO))

    assert len(github.comments[1]) == 1


def test_open_issue_urls_feed_the_status_pages(github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps) -> None:
    tracker = GitHubTracker(make_client(httpserver, sleeps), REPO)
    sync(make_campaign(), ledger_with(attempt(1, RunState.FAILED)), tracker)

    assert issues_mod.open_issue_urls(tracker, ["hsc-rc2-w47"]) == {
        "hsc-rc2-w47/step1/g0001": f"https://github.test/{REPO}/issues/1"}


# ---- folder specifics -----------------------------------------------------------------------------

def test_folder_issues_are_readable_markdown_files(tmp_path: Path) -> None:
    tracker = FolderTracker(tmp_path / "issues")
    campaign = make_campaign()
    sync(campaign, ledger_with(attempt(1, RunState.FAILED)), tracker)
    sync(campaign, ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.FAILED)), tracker)

    path = tmp_path / "issues" / "hsc-rc2-w47__step1__g0001.md"
    text = path.read_text()
    assert text.startswith("---\ntitle: '[hsc-rc2-w47] step1 g0001 failed: calibrate'\nstate: open\n")
    assert "labels:\n- campaignops\n- campaign:hsc-rc2-w47\n- hsc\nassignees:\n- pilot1\n" in text
    assert "\n# [hsc-rc2-w47] step1 g0001 failed: calibrate\n" in text
    assert "### Comment 1\n<!-- campaignops:attempt 2 -->" in text

    sync(campaign, ledger_with(attempt(1, RunState.FAILED), attempt(2, RunState.SUCCEEDED)), tracker)
    assert "\nstate: closed\n" in path.read_text()
    assert "\nlabels:\n- campaignops\n" in path.read_text()  # labels kept through rewrites


# ---- the command ---------------------------------------------------------------------------------

def _root_with_campaign(tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Path:
    from campaignops.campaign_spec import load as spec
    from campaignops.ledger import store

    d = tmp_path / "repo" / "campaigns" / "hsc-rc2-w47"
    d.mkdir(parents=True)
    (d / "campaign.yaml").write_text("name: hsc-rc2-w47\n")
    store.save(d, ledger)
    monkeypatch.setattr(spec, "load_campaign", lambda path, root=None: make_campaign(path.parent.name))
    return tmp_path / "repo"


def _notify(root: Path, *argv: str) -> int:
    from campaignops.cli.commands import notify

    parser = argparse.ArgumentParser()
    notify.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.root = str(root)
    return notify.run(args)


def test_notify_without_a_token_writes_folder_issues(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    root = _root_with_campaign(tmp_path, ledger_with(attempt(1, RunState.FAILED)), monkeypatch)

    assert _notify(root, "--all") == 0
    assert _notify(root, "hsc-rc2-w47") == 0

    out = capsys.readouterr().out
    assert "issues as files in" in out and "(no GITHUB_TOKEN / GH_TOKEN set)" in out
    assert out.count("opened") == 1 and "hsc-rc2-w47: issues up to date" in out
    assert (root / ".demo" / "issues" / "hsc-rc2-w47__step1__g0001.md").is_file()


def test_notify_with_a_token_uses_github(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: FakeGitHub, httpserver: HTTPServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for(""))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    root = _root_with_campaign(tmp_path, ledger_with(attempt(1, RunState.FAILED)), monkeypatch)

    assert _notify(root, "--all") == 0
    assert _notify(root, "--all") == 0

    out = capsys.readouterr().out
    assert len(github.open_issues()) == 1 and "opened #1" in out
    assert TOKEN not in out


def test_notify_reports_github_errors_and_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: FakeGitHub, httpserver: HTTPServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "not-the-token")
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for(""))
    root = _root_with_campaign(tmp_path, ledger_with(attempt(1, RunState.FAILED)), monkeypatch)

    assert _notify(root, "--all", "--repo", REPO) == 1
    err = capsys.readouterr().err
    assert "401 Bad credentials" in err and "not-the-token" not in err


def test_notify_pages_links_the_open_issues_from_status_md(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    root = _root_with_campaign(tmp_path, ledger_with(attempt(1, RunState.FAILED)), monkeypatch)

    assert _notify(root, "--all", "--pages") == 0

    page = (root / "campaigns" / "hsc-rc2-w47" / "STATUS.md").read_text()
    assert "[issue](/.demo/issues/hsc-rc2-w47__step1__g0001.md)" in page
