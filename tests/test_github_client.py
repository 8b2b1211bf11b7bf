"""The GitHub client over real HTTP against a stateful fake GitHub (pytest-httpserver on 127.0.0.1)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from campaignops.github import GitHubClient, GitHubError

TOKEN = "ghs_s3cr3tT0kenValue"
REPO = "lsst-dm/campaigns"


@dataclass
class FakeGitHub:
    """Just enough of GitHub's REST API, kept in memory: issues (and PRs), comments, labels.

    `faults` are canned responses served, first in first out, before any real handling, to
    exercise rate limits and server errors. Pages are linked with opaque cursors, so a client
    that builds page URLs itself instead of following `Link` fails.
    """

    server: HTTPServer
    prefix: str = ""  # "/api/v3" for GitHub Enterprise Server
    check_auth: bool = True
    link_host: str | None = None  # serve `next` links on another host name
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    faults: list[Response] = field(default_factory=list)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    auth_seen: list[str | None] = field(default_factory=list)
    next_id: int = 1000

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self)

    # ---- state helpers for tests
    def add_issue(self, title: str, body: str = "", labels: tuple[str, ...] = (), state: str = "open",
                  pull_request: bool = False) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue: dict[str, Any] = {
            "number": number, "title": title, "body": body, "state": state,
            "labels": [{"name": n} for n in labels], "assignees": [],
            "html_url": f"https://github.test/{REPO}/issues/{number}"}
        if pull_request:
            issue["pull_request"] = {"url": "..."}
        self.issues.append(issue)
        self.comments.setdefault(number, [])
        return issue

    def add_comment(self, number: int, body: str) -> dict[str, Any]:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body,
                   "html_url": f"https://github.test/{REPO}/issues/{number}#issuecomment-{self.next_id}"}
        self.comments.setdefault(number, []).append(comment)
        return comment

    def calls(self, method: str, pattern: str = "") -> list[str]:
        return [path for m, path, _ in self.log if m == method and re.search(pattern, path)]

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues if i["state"] == "open" and "pull_request" not in i]

    # ---- the HTTP side
    def __call__(self, request: Request) -> Response:
        path = request.path
        self.log.append((request.method, path, dict(request.args)))
        self.auth_seen.append(request.headers.get("Authorization"))
        if self.faults:
            return self.faults.pop(0)
        if self.check_auth and request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json({"message": "Bad credentials"}, 401)
        if not path.startswith(self.prefix + f"/repos/{REPO}/"):
            return self._json({"message": "Not Found"}, 404)
        rest = path[len(self.prefix + f"/repos/{REPO}/"):]
        body = request.get_json(silent=True) or {}
        method = request.method
        if rest == "issues" and method == "GET":
            found = [i for i in self.issues if request.args.get("state", "open") in ("all", i["state"])]
            wanted = [w for w in request.args.get("labels", "").split(",") if w]
            found = [i for i in found if all(w in [lab["name"] for lab in i["labels"]] for w in wanted)]
            return self._page(request, found)
        if rest == "issues" and method == "POST":
            for name in body.get("labels", []):
                if name not in self.labels:
                    self.labels.append(name)
            issue = self.add_issue(body["title"], body.get("body", ""), tuple(body.get("labels", [])))
            issue["assignees"] = [{"login": a} for a in body.get("assignees", [])]
            return self._json(issue, 201)
        if m := re.fullmatch(r"issues/(\d+)", rest):
            issue = self.issues[int(m.group(1)) - 1]
            if method == "PATCH":
                issue.update({k: v for k, v in body.items() if k in ("state", "title", "body")})
            return self._json(issue)
        if m := re.fullmatch(r"issues/(\d+)/comments", rest):
            number = int(m.group(1))
            if method == "POST":
                if len(body["body"]) > 65536:
                    return self._json({"message": "Validation Failed", "errors": ["body is too long"]}, 422)
                return self._json(self.add_comment(number, body["body"]), 201)
            return self._page(request, self.comments.get(number, []))
        if m := re.fullmatch(r"issues/comments/(\d+)", rest):
            cid = int(m.group(1))
            for thread in self.comments.values():
                for c in thread:
                    if c["id"] == cid:
                        if method == "DELETE":
                            thread.remove(c)
                            return Response(status=204)
                        if len(body.get("body", "")) > 65536:
                            return self._json({"message": "Validation Failed"}, 422)
                        c["body"] = body["body"]
                        return self._json(c)
            return self._json({"message": "Not Found"}, 404)
        if rest == "labels" and method == "GET":
            return self._page(request, [{"name": n} for n in self.labels])
        if rest == "labels" and method == "POST":
            if body["name"] in self.labels:
                return self._json({"message": "Validation Failed", "errors": [{"code": "already_exists"}]}, 422)
            self.labels.append(body["name"])
            return self._json({"name": body["name"]}, 201)
        return self._json({"message": "Not Found"}, 404)

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        per_page = min(int(request.args.get("per_page", 30)), 100)
        start = int(request.args["cursor"].removeprefix("c")) if "cursor" in request.args else 0
        resp = self._json(items[start:start + per_page])
        if start + per_page < len(items):
            base = self.server.url_for(request.path)
            if self.link_host:
                base = base.replace(self.server.host, self.link_host)
            args = {k: v for k, v in request.args.items() if k != "cursor"}
            query = "&".join(f"{k}={v}" for k, v in {**args, "cursor": f"c{start + per_page}"}.items())
            resp.headers["Link"] = f'<{base}?{query}>; rel="next", <{base}?cursor=last>; rel="last"'
        return resp

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


def fault(status: int, message: str = "", **headers: str) -> Response:
    return Response(json.dumps({"message": message}), status=status,
                    headers={k.replace("_", "-"): v for k, v in headers.items()}, content_type="application/json")


class Sleeps(list[float]):
    """An injected sleep: records how long the client wanted to wait, waits for nothing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def httpserver(loopback_server: HTTPServer) -> Iterator[HTTPServer]:
    """A real HTTP server on 127.0.0.1, emptied of handlers after every test."""
    yield loopback_server
    loopback_server.clear()


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(httpserver: HTTPServer, sleeps: Sleeps, **kwargs: Any) -> GitHubClient:
    kwargs.setdefault("max_tries", 5)
    return GitHubClient(httpserver.url_for(""), TOKEN, sleep=sleeps, clock=lambda: 1_000_000.0, **kwargs)


@pytest.fixture
def client(httpserver: HTTPServer, github: FakeGitHub, sleeps: Sleeps) -> GitHubClient:
    return make_client(httpserver, sleeps)


# ---- pagination -----------------------------------------------------------------------------------

def test_issues_list_follows_link_headers_and_skips_pull_requests(github: FakeGitHub, client: GitHubClient) -> None:
    for i in range(250):
        github.add_issue(f"issue {i}", labels=("campaignops",))
        if i % 100 == 0:
            github.add_issue(f"pr {i}", labels=("campaignops",), pull_request=True)
    github.add_issue("unrelated", labels=("bug",))

    issues = client.list_issues(REPO, labels=["campaignops"])

    assert [i["title"] for i in issues] == [f"issue {i}" for i in range(250)]
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


class TimesOut(requests.Session):
    """A real session whose answers to chosen methods are lost after the server handled them."""

    def __init__(self, methods: set[str], times: int = 1) -> None:
        super().__init__()
        self.methods, self.times = methods, times

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        resp = super().request(method, url, *args, **kwargs)
        if str(method) in self.methods and self.times > 0:
            self.times -= 1
            raise requests.ReadTimeout("Read timed out. (read timeout=30)")
        return resp


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
