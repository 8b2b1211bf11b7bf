"""The sticky plan comment: one per pull request, edited in place, split above GitHub's limit."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters.github.client import GitHubClient
from campaignops.adapters.github.pr_comment import MAX_BODY, post_plan, split_markdown
from fakes.github_api import REPO, TOKEN, FakeGitHub, Sleeps, TimesOut, make_client

pytest_plugins = ["fakes.github_api"]  # the fake GitHub and its fixtures

PLAN = "## Plan: hsc-rc2-w47\n\n| step | group | query |\n|---|---|---|\n| step1 | all | visit > 0 |\n"


@pytest.fixture
def pr(github: FakeGitHub) -> int:
    number: int = github.add_issue("Add hsc-rc2-w47", pull_request=True)["number"]
    github.add_comment(number, "LGTM, but check step3")  # a person's comment, never touched
    return number


@pytest.fixture
def client(httpserver: HTTPServer, sleeps: Sleeps) -> GitHubClient:
    return make_client(httpserver, sleeps)


def plan_comments(github: FakeGitHub, pr: int) -> list[str]:
    return [c["body"] for c in github.comments[pr] if c["body"].startswith("<!-- campaignops:plan")]


def big_plan(rows: int) -> str:
    lines = ["## Plan: dp1-release", "", "```yaml"]
    lines += [f"- run: step1/g{i:05d}  # query: visit IN ({i}..{i + 999}) AND detector != 9" for i in range(rows)]
    lines += ["```", "", "That is all."]
    return "\n".join(lines) + "\n"


def test_first_plan_posts_one_comment_with_the_marker(github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    actions = post_plan(client, REPO, pr, PLAN)

    assert plan_comments(github, pr) == [f"<!-- campaignops:plan -->\n{PLAN}"]
    assert actions == [f"posted plan comment: https://github.test/{REPO}/issues/{pr}#issuecomment-1002"]


def test_a_new_plan_edits_the_comment_in_place_never_reposts(
        github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    post_plan(client, REPO, pr, PLAN)
    [first_id] = [c["id"] for c in github.comments[pr] if c["body"].startswith("<!--")]

    actions = post_plan(client, REPO, pr, PLAN.replace("visit > 0", "visit > 100"))

    assert [c["id"] for c in github.comments[pr]] == [1001, first_id]  # same comments, same order
    assert "visit > 100" in plan_comments(github, pr)[0]
    assert actions[0].startswith("updated plan comment")
    assert len(github.calls("POST")) == 1 and len(github.calls("PATCH")) == 1


def test_an_unchanged_plan_sends_no_edit(github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    post_plan(client, REPO, pr, PLAN)
    actions = post_plan(client, REPO, pr, PLAN)

    assert actions[0].startswith("plan comment unchanged")
    assert github.calls("PATCH") == [] and len(github.calls("POST")) == 1


def test_a_plan_above_the_limit_is_split_into_numbered_parts(github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    markdown = big_plan(2500)
    assert len(markdown) > 2 * MAX_BODY

    post_plan(client, REPO, pr, markdown)
    parts = plan_comments(github, pr)

    assert len(parts) == 3
    for i, body in enumerate(parts, start=1):
        assert body.startswith(f"<!-- campaignops:plan part {i}/3 -->\n_Plan, part {i} of 3._\n")
        assert len(body) <= MAX_BODY
        assert len(re.findall(r"^```", body, re.MULTILINE)) % 2 == 0  # every code block closed in its part
    rows = [line for body in parts for line in body.splitlines() if line.startswith("- run:")]
    assert rows == [line for line in markdown.splitlines() if line.startswith("- run:")]  # nothing lost
    assert parts[-1].rstrip().endswith("That is all.")


def test_parts_no_longer_needed_are_deleted_and_the_rest_edited(
        github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    post_plan(client, REPO, pr, big_plan(2500))
    ids = [c["id"] for c in github.comments[pr] if c["body"].startswith("<!--")]

    actions = post_plan(client, REPO, pr, PLAN)

    assert plan_comments(github, pr) == [f"<!-- campaignops:plan -->\n{PLAN}"]
    assert [c["id"] for c in github.comments[pr]] == [1001, ids[0]]
    assert github.comments[pr][0]["body"] == "LGTM, but check step3"
    assert sum(a.startswith("deleted stale plan comment") for a in actions) == 2
    assert len(github.calls("DELETE")) == 2


def test_a_growing_plan_edits_the_existing_comment_and_adds_parts(
        github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    post_plan(client, REPO, pr, PLAN)
    post_plan(client, REPO, pr, big_plan(1500))

    parts = plan_comments(github, pr)
    assert len(parts) == 2 and parts[0].startswith("<!-- campaignops:plan part 1/2 -->")
    assert len(github.calls("POST")) == 2 and len(github.calls("PATCH")) == 1


def test_a_plan_comment_whose_post_timed_out_is_not_posted_twice(
        github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps, pr: int) -> None:
    client = make_client(httpserver, sleeps, session=TimesOut({"POST"}))

    post_plan(client, REPO, pr, PLAN)

    assert len(plan_comments(github, pr)) == 1


def test_an_empty_plan_says_nothing_changed() -> None:
    expected = "<!-- campaignops:plan -->\nNo campaign changed in this pull request: nothing to plan.\n"
    assert split_markdown("\n\n") == [expected]


def test_a_single_line_longer_than_the_limit_is_still_split() -> None:
    parts = split_markdown("x" * 200_000)
    assert len(parts) == 4 and all(len(p) <= MAX_BODY for p in parts)
    assert "".join(p.split("\n\n", 1)[1].replace("\n", "") for p in parts) == "x" * 200_000


# ---- the command -----------------------------------------------------------------------------------

def _command(*argv: str) -> int:
    from campaignops.cli.commands import pr_comment

    parser = argparse.ArgumentParser()
    pr_comment.add_arguments(parser)
    return pr_comment.run(parser.parse_args(list(argv)))


def test_command_posts_the_plan_file_and_appends_the_step_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: FakeGitHub, httpserver: HTTPServer, pr: int,
        capsys: pytest.CaptureFixture[str]) -> None:
    plan_file, summary = tmp_path / "plan.md", tmp_path / "summary.md"
    plan_file.write_text(PLAN)
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for(""))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert _command("--pr", str(pr), "--plan-file", str(plan_file), "--summary") == 0
    assert _command("--pr", str(pr), "--plan-file", str(plan_file)) == 0

    assert plan_comments(github, pr) == [f"<!-- campaignops:plan -->\n{PLAN}"]
    assert summary.read_text() == f"# earlier step\n{PLAN}\n"
    out = capsys.readouterr().out
    assert "posted plan comment" in out and "plan comment unchanged" in out and TOKEN not in out


def test_command_without_a_token_says_what_the_workflow_needs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plan.md").write_text(PLAN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)

    assert _command("--pr", "3", "--repo", REPO, "--plan-file", str(tmp_path / "plan.md")) == 2
    assert "pull-requests: write" in capsys.readouterr().err


def test_command_with_a_missing_plan_file_says_how_to_make_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _command("--pr", "3", "--plan-file", str(tmp_path / "nope.md")) == 2
    assert "campaign plan CAMPAIGN --format markdown" in capsys.readouterr().err


# ---- only our own comments are ours --------------------------------------------------------------

def test_a_strangers_comment_with_the_plan_marker_is_never_edited_or_deleted(
        github: FakeGitHub, client: GitHubClient, pr: int) -> None:
    from fakes.github_api import STRANGER
    fake = github.add_comment(pr, "<!-- campaignops:plan -->\nApproved, merge me", login=STRANGER)
    part = github.add_comment(pr, "<!-- campaignops:plan part 2/2 -->\nstale?", login=STRANGER)

    post_plan(client, REPO, pr, PLAN)
    post_plan(client, REPO, pr, PLAN.replace("visit > 0", "visit > 1"))

    bodies = {c["id"]: c["body"] for c in github.comments[pr]}
    assert bodies[fake["id"]] == "<!-- campaignops:plan -->\nApproved, merge me"
    assert bodies[part["id"]] == "<!-- campaignops:plan part 2/2 -->\nstale?"
    ours = [c for c in github.comments[pr] if c["user"]["login"] == "github-actions[bot]"
            and c["body"].startswith("<!-- campaignops:plan")]
    assert len(ours) == 1 and "visit > 1" in ours[0]["body"]
    assert github.calls("DELETE") == [] and len(github.calls("PATCH")) == 1
