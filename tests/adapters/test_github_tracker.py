"""Failure issues on a GitHub that answers like GitHub: other people's markers, 304s, late POSTs, pacing.

The fake GitHub (tests/fakes/github_api.py) is a real HTTP server on 127.0.0.1; the client's clock
and sleep are injected, so "a second between writes" is checked without waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters.github.tracker import GitHubTracker, state_path_for
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.markers import attempt_marker, run_marker
from campaignops.domain.model import Campaign
from campaignops.domain.states import RunState
from campaignops.engine.notify import sync
from campaignops.ledger.records import Ledger
from fakes.github_api import REPO, STRANGER, FakeGitHub, Sleeps, make_client
from fakes.ledgers import CAMPAIGN, attempt, run

pytest_plugins = ["fakes.github_api"]  # the fake GitHub and its fixtures

Factory = Callable[[], GitHubTracker]
FAILED = (RunState.SUBMITTING, RunState.RUNNING, RunState.FAILED)


def make_campaign() -> Campaign:
    profile = profile_from_dict({"name": "local", "description": "local", "site": "local", "wms": "panda",
                                 "bps": {}})
    return campaign_from_dict({
        "name": CAMPAIGN, "description": "RC2", "operator": "pilot", "profile": "local",
        "stack": {"tag": "w_2026_47"}, "pipeline": "$DRP_PIPE_DIR/pipelines/HSC/DRP-RC2.yaml",
        "butler": {"repo": "/repo/main", "inputs": ["HSC/RC2/defaults"], "output": "HSC/runs/{campaign}"},
        "steps": [{"name": "step1", "subsets": ["step1"]}]}, profile)


def failing(n: int, attempts: int = 1) -> Ledger:
    return Ledger(CAMPAIGN, tuple(
        run(f"g{i:04d}", *(attempt(a, FAILED, failed=2, kind="submit" if a == 1 else "restart")
                           for a in range(1, attempts + 1)))
        for i in range(n)))


@pytest.fixture
def tracker_for(httpserver: HTTPServer, github: FakeGitHub, sleeps: Sleeps, tmp_path: Path) -> Factory:
    """A new tracker each call, as each status job builds one, keeping its state in the work directory."""
    github.clock = sleeps.time

    def make() -> GitHubTracker:
        return GitHubTracker(make_client(httpserver, sleeps), REPO, state_path=state_path_for(tmp_path, REPO))
    return make


def key(group: str) -> str:
    return f"{CAMPAIGN}/step1/{group}"


# ---- trust only our own markers -------------------------------------------------------------------

def test_an_issue_by_someone_else_with_our_marker_is_ignored(github: FakeGitHub, tracker_for: Factory) -> None:
    github.add_issue("fake", f"{run_marker(key('g0000'))}\n{attempt_marker(1)}\n", ("campaignops",),
                     login=STRANGER)
    actions = sync(make_campaign(), failing(1), tracker_for())
    assert actions[0].startswith(f"{CAMPAIGN} step1/g0000: opened #2")
    assert github.issues[0]["state"] == "open" and github.comments[1] == []  # theirs untouched


def test_a_strangers_comment_with_our_attempt_marker_does_not_silence_the_notification(
        github: FakeGitHub, tracker_for: Factory) -> None:
    sync(make_campaign(), failing(1), tracker_for())
    github.add_comment(1, f"{attempt_marker(2)}\nnothing to see here", login=STRANGER)

    actions = sync(make_campaign(), failing(1, attempts=2), tracker_for())

    assert actions == [f"{CAMPAIGN} step1/g0000: commented on #1 (attempt 2 failed) https://github.test/{REPO}/issues/1"]
    bodies = [c["body"] for c in github.comments[1]]
    assert bodies[0] == f"{attempt_marker(2)}\nnothing to see here"  # the stranger's, never edited
    assert bodies[1].startswith(attempt_marker(2)) and len(bodies) == 2
    assert sync(make_campaign(), failing(1, attempts=2), tracker_for()) == []  # our own comment counts


# ---- a POST that GitHub applies late -------------------------------------------------------------

def test_an_issue_created_after_its_504_is_closed_as_a_duplicate_on_the_next_sync(
        github: FakeGitHub, tracker_for: Factory) -> None:
    github.late_issue_posts = 1
    first = sync(make_campaign(), failing(1), tracker_for())  # 504, re-listed: not there, re-sent
    assert len(github.calls("POST", "/issues$")) == 2 and first[0].startswith(f"{CAMPAIGN} step1/g0000: opened #1")
    github.apply_late()  # GitHub applies the first POST after all: issue #2

    actions = sync(make_campaign(), failing(1), tracker_for())

    assert actions == [f"{CAMPAIGN} step1/g0000: closed #2 as a duplicate of #1 https://github.test/{REPO}/issues/1"]
    assert [i["state"] for i in github.issues] == ["open", "closed"]
    assert f"Duplicate of #1 (https://github.test/{REPO}/issues/1)" in github.comments[2][0]["body"]
    assert sync(make_campaign(), failing(1), tracker_for()) == []


def test_a_504_whose_issue_exists_when_re_listed_is_not_sent_again(github: FakeGitHub, tracker_for: Factory) -> None:
    github.late_issue_posts = 1
    tracker = tracker_for()
    original = tracker.client.issues_changed
    listings: list[int] = []

    def list_issues(*args: Any, **kwargs: Any) -> Any:
        listings.append(1)
        if len(listings) == 2:
            github.apply_late()  # GitHub finished creating it before we looked again
        return original(*args, **kwargs)

    tracker.client.issues_changed = list_issues  # type: ignore[method-assign]
    actions = sync(make_campaign(), failing(1), tracker)  # listing, POST → 504, listing: there
    assert len(listings) == 2 and actions[0].startswith(f"{CAMPAIGN} step1/g0000: opened #1")
    assert len(github.open_issues()) == 1 and len(github.calls("POST", "/issues$")) == 1


# ---- 30 failing runs: pacing, labels, conditional requests ----------------------------------------

def test_thirty_failing_runs_paced_labels_once_and_a_quiet_sync_costs_only_304s(
        github: FakeGitHub, tracker_for: Factory, sleeps: Sleeps) -> None:
    first = tracker_for()
    assert len(sync(make_campaign(), failing(30), first)) == 30
    first.finish()

    writes = [t for t, method, _ in github.writes()]
    assert len(writes) == 30 + 2  # 30 issues and the two labels the repository lacked
    assert min(b - a for a, b in itertools.pairwise(writes)) >= 1.0
    assert len(github.calls("GET", "/labels$")) == 1

    before = len(github.log)
    second = tracker_for()  # the next status job: a new process, the state file from the work directory
    assert sync(make_campaign(), failing(30), second) == []
    second.finish()
    new = github.log[before:]
    issue_gets = [a for m, p, a in new if p.endswith("/issues")]
    assert len(issue_gets) == 1 and second.client.counts.get("304") == 1
    assert [(m, p) for m, p, _ in new if not p.endswith("/issues")] == []  # nothing else: a quiet sync is free
    assert [m for m, _, _ in new].count("POST") == 0


def test_new_activity_is_listed_with_since_once_the_window_grows(github: FakeGitHub, tracker_for: Factory) -> None:
    first = tracker_for()
    sync(make_campaign(), failing(60), first)
    first.finish()
    second = tracker_for()
    sync(make_campaign(), failing(61), second)  # one more failing run
    since = [a.get("since") for m, p, a in github.log if m == "GET" and p.endswith("/issues")][-1]
    newest = max(i["updated_at"] for i in github.issues[:60])
    assert since is not None and since < newest  # the newest update seen, a minute back for clock skew
    assert len(github.open_issues()) == 61


def test_a_damaged_state_file_costs_a_full_listing_and_nothing_else(
        github: FakeGitHub, tracker_for: Factory, tmp_path: Path) -> None:
    sync(make_campaign(), failing(2), tracker_for())
    state_path_for(tmp_path, REPO).write_text("{not json")
    assert sync(make_campaign(), failing(2), tracker_for()) == []
    assert len(github.open_issues()) == 2


def test_a_huge_issue_body_fits_after_its_markers(github: FakeGitHub, tracker_for: Factory) -> None:
    ledger = failing(1)
    record = ledger.runs[0]
    huge = tuple(f"task{i:05d} " + "x" * 40 for i in range(3000))
    big = attempt(1, FAILED, failed=2)
    big = replace(big, tasks=tuple(replace(big.tasks[0], label=f"task{i:05d}") for i in range(3000)), errors=huge)
    ledger = Ledger(CAMPAIGN, (replace(record, attempts=(big,)),))
    actions = sync(make_campaign(), ledger, tracker_for())
    assert actions and "opened #1" in actions[0]
    body = github.issues[0]["body"]
    assert len(body) <= 65_536 and body.startswith(f"{run_marker(key('g0000'))}\n{attempt_marker(1)}\n")
