"""A stateful fake of GitHub's REST API on a real HTTP server (pytest-httpserver on 127.0.0.1), shared by the
tests of the GitHub client, the failure issues and the sticky plan comment."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from campaignops.adapters.github.client import GitHubClient

TOKEN = "ghs_s3cr3tT0kenValue"  # an installation token, like Actions' GITHUB_TOKEN: writes as github-actions[bot]
PAT = "ghp_pers0nalT0kenValue"  # a person's token: GET /user answers
REPO = "lsst-dm/campaigns"
BOT = "github-actions[bot]"
STRANGER = "mallory"
EPOCH = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass
class FakeGitHub:
    """Just enough of GitHub's REST API, kept in memory: issues (and PRs), comments, labels, /user.

    `faults` are canned responses served, first in first out, before any real handling, to
    exercise rate limits and server errors. Pages are linked with opaque cursors, so a client
    that builds page URLs itself instead of following `Link` fails. As GitHub does: every issue and
    comment has its author (`user.login`) and `updated_at` (a comment updates its issue); list
    answers carry an ETag and a request with a matching If-None-Match gets 304 and no body; the
    issue list takes `since`, `sort=updated` and `direction`; an installation token (`ghs_…`) gets
    403 "Resource not accessible by integration" from GET /user. `late_issue_posts` makes the
    next POSTs of an issue answer 504 while the issue is created only later (`apply_late()`), as a
    slow GitHub does. `clock` (an injected client clock) stamps each request in `stamps`.
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
    tokens: dict[str, str] = field(default_factory=lambda: {TOKEN: BOT, PAT: "octo-operator"})
    late_issue_posts: int = 0
    late: list[dict[str, Any]] = field(default_factory=list)
    ticks: int = 0  # server time: EPOCH + one second per write
    clock: Callable[[], float] | None = None
    stamps: list[tuple[float, str, str]] = field(default_factory=list)
    visibility: str = "private"
    # GET /orgs/{org}/actions/runner-groups: (group, runner names); readable only with `admin_tokens`
    runner_groups: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    admin_tokens: tuple[str, ...] = ()
    # What only a token with Administration / Variables read (`admin_tokens`) may ask of the repository, in the
    # shapes of GitHub's REST reference: Actions permissions, selected actions, variables, self-hosted runners.
    actions_permissions: dict[str, Any] = field(default_factory=lambda: {"enabled": True, "allowed_actions": "all"})
    selected_actions: dict[str, Any] = field(default_factory=lambda: {"github_owned_allowed": True,
                                                                      "verified_allowed": False,
                                                                      "patterns_allowed": []})
    variables: dict[str, str] = field(default_factory=dict)
    runners: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # (name, status, labels)
    # `permissions` of GET /repos/{repo} for a person's token (GitHub's per-user view); an installation token
    # gets none here, so a client must not count on it
    user_permissions: dict[str, bool] = field(default_factory=lambda: {"admin": False, "push": True, "pull": True})

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self)

    # ---- state helpers for tests
    def now(self) -> str:
        self.ticks += 1
        return (EPOCH + timedelta(seconds=self.ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def user(login: str) -> dict[str, str]:
        return {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"}

    def add_issue(self, title: str, body: str = "", labels: tuple[str, ...] = (), state: str = "open",
                  pull_request: bool = False, login: str = BOT) -> dict[str, Any]:
        return self._insert(self._new_issue(title, body, labels, state, login, pull_request))

    def _new_issue(self, title: str, body: str, labels: tuple[str, ...], state: str, login: str,
                   pull_request: bool = False) -> dict[str, Any]:
        now = self.now()
        issue: dict[str, Any] = {
            "title": title, "body": body, "state": state, "labels": [{"name": n} for n in labels],
            "assignees": [], "user": self.user(login), "created_at": now, "updated_at": now}
        if pull_request:
            issue["pull_request"] = {"url": "..."}
        return issue

    def _insert(self, issue: dict[str, Any]) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue.update(number=number, html_url=f"https://github.test/{REPO}/issues/{number}")
        self.issues.append(issue)
        self.comments.setdefault(number, [])
        return issue

    def apply_late(self) -> list[dict[str, Any]]:
        """The issues whose POST answered 504 appear now, as a slow GitHub applies them."""
        done = [self._insert(i) for i in self.late]
        self.late = []
        return done

    def add_comment(self, number: int, body: str, login: str = BOT) -> dict[str, Any]:
        self.next_id += 1
        now = self.now()
        comment = {"id": self.next_id, "body": body, "user": self.user(login), "created_at": now,
                   "updated_at": now,
                   "html_url": f"https://github.test/{REPO}/issues/{number}#issuecomment-{self.next_id}"}
        self.comments.setdefault(number, []).append(comment)
        if 0 < number <= len(self.issues):
            self.issues[number - 1]["updated_at"] = now
        return comment

    def writes(self) -> list[tuple[float, str, str]]:
        """(client clock, method, path) of every mutating request, when a clock was given."""
        return [s for s in self.stamps if s[1] != "GET"]

    def calls(self, method: str, pattern: str = "") -> list[str]:
        return [path for m, path, _ in self.log if m == method and re.search(pattern, path)]

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues if i["state"] == "open" and "pull_request" not in i]

    # ---- the HTTP side
    def __call__(self, request: Request) -> Response:
        path = request.path
        self.log.append((request.method, path, dict(request.args)))
        self.auth_seen.append(request.headers.get("Authorization"))
        if self.clock is not None:
            self.stamps.append((self.clock(), request.method, path))
        if self.faults:
            return self.faults.pop(0)
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.check_auth and token not in self.tokens:
            return self._json({"message": "Bad credentials"}, 401)
        login = self.tokens.get(token, BOT)
        if path == self.prefix + "/user":
            if token.startswith("ghs_"):
                return self._json({"message": "Resource not accessible by integration",
                                   "documentation_url": "https://docs.github.com/rest/users/users"}, 403)
            return self._json({"login": login, "type": "User"})
        if path == self.prefix + f"/repos/{REPO}":
            info: dict[str, Any] = {"full_name": REPO, "private": self.visibility != "public",
                                    "visibility": self.visibility}
            if not token.startswith("ghs_"):
                info["permissions"] = self.user_permissions
            return self._json(info)
        if path.startswith(self.prefix + f"/repos/{REPO}/actions/"):
            return self._actions(path[len(self.prefix + f"/repos/{REPO}/actions/"):], token)
        org = REPO.partition("/")[0]
        if path.startswith(self.prefix + f"/orgs/{org}/actions/runner-groups"):
            if token not in self.admin_tokens:
                return self._json({"message": "Resource not accessible by integration"}, 403)
            if path.endswith("/runner-groups"):
                groups = [g for g, _ in self.runner_groups]
                return self._json({"total_count": len(groups), "runner_groups": groups})
            if m := re.fullmatch(r".*/runner-groups/(\d+)/runners", path):
                names = next((n for g, n in self.runner_groups if g["id"] == int(m.group(1))), [])
                return self._json({"total_count": len(names), "runners": [{"name": n} for n in names]})
        if not path.startswith(self.prefix + f"/repos/{REPO}/"):
            return self._json({"message": "Not Found"}, 404)
        rest = path[len(self.prefix + f"/repos/{REPO}/"):]
        body = request.get_json(silent=True) or {}
        method = request.method
        if rest == "issues" and method == "GET":
            found = [i for i in self.issues if request.args.get("state", "open") in ("all", i["state"])]
            wanted = [w for w in request.args.get("labels", "").split(",") if w]
            found = [i for i in found if all(w in [lab["name"] for lab in i["labels"]] for w in wanted)]
            if "since" in request.args:
                found = [i for i in found if i["updated_at"] >= request.args["since"]]
            key = "updated_at" if request.args.get("sort") == "updated" else "number"
            found.sort(key=lambda i: (i[key], i["number"]), reverse=request.args.get("direction", "desc") == "desc")
            return self._page(request, found)
        if rest == "issues" and method == "POST":
            if len(body.get("body", "")) > 65536:
                return self._json({"message": "Validation Failed", "errors": [
                    {"resource": "Issue", "code": "custom", "field": "body",
                     "message": "body is too long (maximum is 65536 characters)"}]}, 422)
            for name in body.get("labels", []):
                if name not in self.labels:
                    self.labels.append(name)
            issue = self._new_issue(body["title"], body.get("body", ""), tuple(body.get("labels", [])), "open",
                                    login)
            issue["assignees"] = [{"login": a} for a in body.get("assignees", [])]
            if self.late_issue_posts > 0:
                self.late_issue_posts -= 1
                self.late.append(issue)
                return self._json({"message": "We couldn't respond to your request in time. Sorry about that."},
                                  504)
            return self._json(self._insert(issue), 201)
        if m := re.fullmatch(r"issues/(\d+)", rest):
            issue = self.issues[int(m.group(1)) - 1]
            if method == "PATCH":
                issue.update({k: v for k, v in body.items() if k in ("state", "title", "body", "state_reason")})
                issue["updated_at"] = self.now()
            return self._json(issue)
        if m := re.fullmatch(r"issues/(\d+)/comments", rest):
            number = int(m.group(1))
            if method == "POST":
                if len(body["body"]) > 65536:
                    return self._json({"message": "Validation Failed", "errors": ["body is too long"]}, 422)
                return self._json(self.add_comment(number, body["body"], login), 201)
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
                        c["updated_at"] = self.now()
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

    def _actions(self, rest: str, token: str) -> Response:
        if token not in self.admin_tokens:
            return self._json({"message": "Resource not accessible by integration",
                               "documentation_url": "https://docs.github.com/rest"}, 403)
        if rest == "permissions":
            return self._json({**self.actions_permissions, "selected_actions_url":
                               f"https://api.github.com/repos/{REPO}/actions/permissions/selected-actions"})
        if rest == "permissions/selected-actions":
            return self._json(self.selected_actions)
        if m := re.fullmatch(r"variables/([A-Za-z0-9_]+)", rest):
            if m.group(1) not in self.variables:
                return self._json({"message": "Not Found"}, 404)
            return self._json({"name": m.group(1), "value": self.variables[m.group(1)],
                               "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z"})
        if rest == "runners":
            return self._json({"total_count": len(self.runners), "runners": [
                {"id": i, "name": name, "os": "linux", "status": status, "busy": False, "ephemeral": False,
                 "labels": [{"id": j, "name": lab, "type": "read-only" if lab == "self-hosted" else "custom"}
                            for j, lab in enumerate(labels)]}
                for i, (name, status, labels) in enumerate(self.runners, start=1)]})
        return self._json({"message": "Not Found"}, 404)

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        per_page = min(int(request.args.get("per_page", 30)), 100)
        start = int(request.args["cursor"].removeprefix("c")) if "cursor" in request.args else 0
        text = json.dumps(items[start:start + per_page])
        etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        resp = Response(text, status=200, headers={"ETag": etag}, content_type="application/json")
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
    """An injected sleep and clock: records how long the client wanted to wait, waits for nothing,
    and moves its clock (`time`) on by that much."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        super().__init__()
        self.now = start

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


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
    kwargs.setdefault("token", TOKEN)
    return GitHubClient(httpserver.url_for(""), sleep=sleeps, clock=sleeps.time, **kwargs)


@pytest.fixture
def client(httpserver: HTTPServer, github: FakeGitHub, sleeps: Sleeps) -> GitHubClient:
    return make_client(httpserver, sleeps)


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


