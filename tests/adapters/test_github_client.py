"""The GitHub client over real HTTP against a stateful fake GitHub (pytest-httpserver on 127.0.0.1)."""

from __future__ import annotations

import itertools
import logging
import re

import pytest
from pytest_httpserver import HTTPServer

from campaignops.adapters.github.client import GitHubClient, GitHubError
from fakes.github_api import REPO, TOKEN, FakeGitHub, Sleeps, TimesOut, fault, make_client

pytest_plugins = ["fakes.github_api"]  # the fake GitHub and its fixtures

# ---- pagination -----------------------------------------------------------------------------------

def test_issues_list_follows_link_headers_and_skips_pull_requests(github: FakeGitHub, client: GitHubClient) -> None:
    for i in range(250):
        github.add_issue(f"issue {i}", labels=("campaignops",))
        if i % 100 == 0:
            github.add_issue(f"pr {i}", labels=("campaignops",), pull_request=True)
    github.add_issue("unrelated", labels=("bug",))

    issues = client.list_issues(REPO, labels=["campaignops"])

    assert [i["title"] for i in issues] == [f"issue {i}" for i in reversed(range(250))]  # GitHub: newest first
    gets = [args for m, _, args in github.log if m == "GET"]
    assert len(gets) == 3  # 253 labelled items, 100 per page
    assert gets[0]["per_page"] == "100" and "cursor" not in gets[0]
    assert [g.get("cursor") for g in gets[1:]] == ["c100", "c200"]  # opaque: only known from Link


def test_token_is_not_sent_to_a_host_a_link_points_to(github: FakeGitHub, client: GitHubClient) -> None:
    github.check_auth = False
    github.link_host = "localhost"
    for i in range(150):
        github.add_issue(f"issue {i}")

    assert len(client.list_issues(REPO)) == 150
    assert github.auth_seen == [f"Bearer {TOKEN}", None]


def test_enterprise_base_url_and_token_come_from_the_environment(
        httpserver: HTTPServer, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    github = FakeGitHub(httpserver, prefix="/api/v3")
    github.add_issue("on GHES")
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for("/api/v3"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GH_TOKEN", TOKEN)

    client = GitHubClient(sleep=sleeps)

    assert [i["title"] for i in client.list_issues(REPO)] == ["on GHES"]


# ---- rate limits and retries ----------------------------------------------------------------------

def test_primary_rate_limit_waits_until_reset_then_succeeds(
        github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.add_issue("x")
    github.faults.append(fault(403, "API rate limit exceeded", x_ratelimit_remaining="0",
                               x_ratelimit_reset=str(1_000_000 + 120)))

    assert len(client.list_issues(REPO)) == 1
    assert sleeps == [121.0]  # until the reset, plus a second of margin


def test_primary_rate_limit_reset_too_far_away_fails_with_advice(
        github: FakeGitHub, httpserver: HTTPServer, sleeps: Sleeps) -> None:
    client = make_client(httpserver, sleeps, max_wait=600)
    github.faults.append(fault(429, "API rate limit exceeded", x_ratelimit_remaining="0",
                               x_ratelimit_reset=str(1_000_000 + 3000)))

    with pytest.raises(GitHubError, match="run again later"):
        client.list_issues(REPO)
    assert sleeps == []


def test_secondary_rate_limit_honours_retry_after(github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.faults.append(fault(429, "You have exceeded a secondary rate limit", retry_after="7"))

    client.create_issue(REPO, "t", "b")
    assert sleeps == [7.0]
    assert len(github.open_issues()) == 1  # a rate-limited POST was refused, so it is retried


def test_secondary_rate_limit_without_retry_after_waits_a_minute_doubling(
        github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    for _ in range(2):
        github.faults.append(fault(403, "You have exceeded a secondary rate limit. Please wait a few minutes"))

    client.list_issues(REPO)
    assert sleeps == [60.0, 120.0]


def test_secondary_rate_limit_gives_up_after_max_tries(
        github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.faults.extend(fault(429, "secondary rate limit") for _ in range(5))

    with pytest.raises(GitHubError, match=r"gave up after 5 tries.*rate limited"):
        client.list_issues(REPO)
    assert len(sleeps) == 4


def test_server_errors_are_retried_with_backoff(github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.add_issue("x")
    github.faults.extend([fault(502, "Bad Gateway"), fault(503, "Unavailable")])

    assert len(client.list_issues(REPO)) == 1
    assert sleeps == [1.0, 2.0]


def test_server_errors_give_up_with_a_clear_error(github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.faults.extend(fault(502, "Server Error") for _ in range(5))

    with pytest.raises(GitHubError) as info:
        client.list_issues(REPO)
    assert "GET http://127.0.0.1" in str(info.value) and "/repos/lsst-dm/campaigns/issues" in str(info.value)
    assert "gave up after 5 tries" in str(info.value) and "502" in str(info.value)
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_a_post_answered_by_a_server_error_is_not_blindly_repeated(
        github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.faults.append(fault(502, "Server Error"))

    with pytest.raises(GitHubError) as info:
        client.create_issue(REPO, "t", "b")
    assert info.value.maybe_applied
    assert len(github.calls("POST")) == 1 and sleeps == []


def test_a_get_that_timed_out_is_retried(httpserver: HTTPServer, github: FakeGitHub, sleeps: Sleeps) -> None:
    github.add_issue("x")
    client = make_client(httpserver, sleeps, session=TimesOut({"GET"}))

    assert len(client.list_issues(REPO)) == 1
    assert sleeps == [1.0]


def test_a_post_that_timed_out_is_not_retried(httpserver: HTTPServer, github: FakeGitHub, sleeps: Sleeps) -> None:
    client = make_client(httpserver, sleeps, session=TimesOut({"POST"}))

    with pytest.raises(GitHubError, match="may have been applied") as info:
        client.create_issue(REPO, "t", "b")
    assert info.value.maybe_applied
    assert len(github.open_issues()) == 1  # it was created: a blind retry would have made two


def test_a_page_of_html_instead_of_json_is_a_clear_error_not_a_traceback(httpserver: HTTPServer,
                                                                          sleeps: Sleeps) -> None:
    page = "<html><body><h1>Sign in to the proxy</h1></body></html>"
    httpserver.expect_request(re.compile(r"^/repos/.*")).respond_with_data(page, content_type="text/html")
    client = make_client(httpserver, sleeps)
    with pytest.raises(GitHubError, match=r"answered 200 with text/html, not JSON .*Sign in to the proxy"):
        list(client.list_issues(REPO, labels=["campaignops"], state="all"))
    with pytest.raises(GitHubError, match="not JSON") as info:
        client.create_issue(REPO, "t", "b")
    assert info.value.maybe_applied  # a POST whose answer cannot be read may have been applied


def test_a_permission_error_fails_at_once_with_what_to_do(
        github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.faults.append(fault(403, "Resource not accessible by integration"))

    with pytest.raises(GitHubError, match="issues: write") as info:
        client.create_issue(REPO, "t", "b")
    assert info.value.status == 403 and sleeps == []


# ---- the token stays secret -----------------------------------------------------------------------

def test_token_never_appears_in_repr_errors_or_logs(
        github: FakeGitHub, client: GitHubClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert TOKEN not in repr(client) and TOKEN not in str(client) and "***" in repr(client)
    errors = []
    github.faults.extend([fault(401, f"Bad credentials: {TOKEN}"),  # a server echoing it back
                          *(fault(500, f"boom {TOKEN}") for _ in range(5)),
                          fault(403, "secondary rate limit", retry_after="1")])
    for _ in range(2):
        with pytest.raises(GitHubError) as info:
            client.list_issues(REPO)
        errors.append(info.value)
    client.list_issues(REPO)  # after the rate limit
    github.check_auth = True
    bad = GitHubClient(client.base_url, "wrong-" + TOKEN, sleep=lambda s: None)
    with pytest.raises(GitHubError) as info:
        bad.list_issues(REPO)
    errors.append(info.value)

    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [caplog.text]
    assert all(TOKEN not in t for t in texts)
    assert "Bad credentials: ***" in str(errors[0])
    assert "GITHUB_TOKEN" in str(errors[2])


# ---- helpers ------------------------------------------------------------------------------------

def test_missing_labels_are_created_once(github: FakeGitHub, client: GitHubClient) -> None:
    github.labels = ["campaignops", "bug"]

    assert client.ensure_labels(REPO, ["campaignops", "campaign:hsc-rc2", "weekly"]) == ["campaign:hsc-rc2", "weekly"]
    assert client.ensure_labels(REPO, ["campaignops", "campaign:hsc-rc2", "weekly"]) == []
    assert github.labels == ["campaignops", "bug", "campaign:hsc-rc2", "weekly"]


def test_comments_are_listed_updated_and_issues_closed(github: FakeGitHub, client: GitHubClient) -> None:
    issue = github.add_issue("t")
    for i in range(120):
        github.add_comment(issue["number"], f"c{i}")

    comments = client.list_comments(REPO, issue["number"])
    assert [c["body"] for c in comments] == [f"c{i}" for i in range(120)]
    client.update_comment(REPO, comments[0]["id"], "edited")
    client.close_issue(REPO, issue["number"])

    assert github.comments[1][0]["body"] == "edited"
    assert github.issues[0]["state"] == "closed"
    assert github.calls("PATCH") == [f"/repos/{REPO}/issues/comments/{comments[0]['id']}", f"/repos/{REPO}/issues/1"]


def test_a_repository_that_is_not_owner_slash_name_is_refused(client: GitHubClient) -> None:
    with pytest.raises(GitHubError, match="OWNER/NAME"):
        client.list_issues("campaigns")


# ---- GitHub's etiquette -------------------------------------------------------------------------

def test_mutating_requests_are_at_least_a_second_apart(github: FakeGitHub, httpserver: HTTPServer,
                                                       sleeps: Sleeps) -> None:
    github.clock = sleeps.time  # the fake stamps each request with the client's (injected) clock
    client = make_client(httpserver, sleeps)
    issue = client.create_issue(REPO, "t", "b")
    client.create_comment(REPO, issue["number"], "c1")
    client.list_issues(REPO)  # reads are not paced
    comment = client.create_comment(REPO, issue["number"], "c2")
    client.update_comment(REPO, comment["id"], "c2 edited")
    client.close_issue(REPO, issue["number"])

    writes = [t for t, method, _ in github.stamps if method != "GET"]
    assert len(writes) == 5
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(writes))
    assert sum(sleeps) == pytest.approx(4.0)  # no real time passed: each write waited the full second
    reads = [t for t, method, _ in github.stamps if method == "GET"]
    assert reads == [writes[1]]  # the GET right after a write did not wait


def test_a_write_after_a_slow_step_does_not_wait_again(github: FakeGitHub, httpserver: HTTPServer,
                                                       sleeps: Sleeps) -> None:
    client = make_client(httpserver, sleeps)
    client.create_issue(REPO, "t", "b")
    sleeps(5.0)  # the caller spent 5 s doing something else
    client.create_issue(REPO, "t2", "b")
    assert sleeps == [5.0]


def test_a_success_with_no_requests_left_waits_for_the_reset_before_the_next_call(
        github: FakeGitHub, client: GitHubClient, sleeps: Sleeps) -> None:
    github.add_issue("x")
    spent = fault(200, "", x_ratelimit_remaining="0", x_ratelimit_reset=str(1_000_000 + 30))
    spent.set_data(b"[]")
    github.faults.append(spent)
    assert client.list_issues(REPO) == []  # the last request of the window: answered
    assert sleeps == []
    assert len(client.list_issues(REPO)) == 1  # the next call waited for the reset first
    assert sleeps == [31.0]


def test_labels_are_listed_once_per_client_however_many_issues(github: FakeGitHub, client: GitHubClient) -> None:
    github.labels = ["campaignops"]
    for i in range(30):
        client.ensure_labels(REPO, ["campaignops", "campaign:hsc", f"extra-{i % 2}"])
    assert len(github.calls("GET", "/labels$")) == 1
    assert len(github.calls("POST", "/labels$")) == 3


def test_an_unchanged_listing_is_a_304_and_costs_nothing(github: FakeGitHub, client: GitHubClient) -> None:
    github.add_issue("a", labels=("campaignops",))
    items, etag = client.issues_changed(REPO, labels=["campaignops"])
    assert [i["title"] for i in items or []] == ["a"] and etag
    again, same = client.issues_changed(REPO, labels=["campaignops"], etag=etag)
    assert again is None and same == etag
    assert client.counts["304"] == 1
    github.add_comment(1, "an update")  # any change to an issue in the window changes the answer
    changed, newer = client.issues_changed(REPO, labels=["campaignops"], etag=etag)
    assert changed is not None and newer != etag


def test_since_and_updated_order_are_sent(github: FakeGitHub, client: GitHubClient) -> None:
    github.add_issue("old", labels=("campaignops",))
    github.ticks += 3600
    github.add_issue("new", labels=("campaignops",))
    items, _ = client.issues_changed(REPO, labels=["campaignops"], since="2026-11-30T12:30:00Z")
    assert [i["title"] for i in items or []] == ["new"]
    [args] = [a for m, p, a in github.log if p.endswith("/issues")]
    assert args["since"] == "2026-11-30T12:30:00Z" and args["sort"] == "updated" and args["state"] == "all"


@pytest.mark.parametrize("size", [65_536, 70_000, 300_000])
def test_bodies_fit_the_limit_after_the_markers_and_keep_them(github: FakeGitHub, client: GitHubClient,
                                                              size: int) -> None:
    markers = "<!-- campaignops:run c/step1/g0001 -->\n<!-- campaignops:attempt 3 -->\n"
    body = markers + "x" * (size - len(markers))
    issue = client.create_issue(REPO, "t", body)
    comment = client.create_comment(REPO, issue["number"], markers + "y" * size)
    for text in (github.issues[0]["body"], github.comments[1][0]["body"]):
        assert len(text) <= 65_536
        assert text.startswith(markers)
    assert comment["id"] and (size == 65_536) == (github.issues[0]["body"] == body)


def test_the_identity_of_an_installation_token_is_the_actions_bot(github: FakeGitHub, client: GitHubClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGNOPS_BOT_LOGIN", raising=False)
    assert client.login() == "github-actions[bot]"
    assert github.calls("GET", "^/user$") == []  # a ghs_ token is an installation token: /user would be a 403


def test_an_unknown_token_that_gets_403_on_user_is_an_integration(github: FakeGitHub, httpserver: HTTPServer,
                                                                  sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    monkeypatch.delenv("CAMPAIGNOPS_BOT_LOGIN", raising=False)
    github.tokens["v1.0123456789abcdef"] = "github-actions[bot]"  # an older installation token format
    github.faults.append(fault(403, "Resource not accessible by integration"))
    client = make_client(httpserver, sleeps, token="v1.0123456789abcdef")
    assert client.login() == "github-actions[bot]" and len(github.calls("GET", "^/user$")) == 1


def test_the_identity_of_an_app_token_and_of_a_persons_token(github: FakeGitHub, httpserver: HTTPServer,
                                                             sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNOPS_BOT_LOGIN", "campaignops-records[bot]")
    assert make_client(httpserver, sleeps).login() == "campaignops-records[bot]"
    from fakes.github_api import PAT
    assert make_client(httpserver, sleeps, token=PAT).login() == "octo-operator"


def test_a_refused_token_is_not_taken_for_an_integration(github: FakeGitHub, httpserver: HTTPServer,
                                                         sleeps: Sleeps) -> None:
    with pytest.raises(GitHubError, match="401"):
        make_client(httpserver, sleeps, token="nope").login()
