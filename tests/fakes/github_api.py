"""A stateful fake of GitHub's REST API on a real HTTP server (pytest-httpserver on 127.0.0.1), shared by the
tests of the GitHub client, the failure issues and the sticky plan comment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from campaignops.adapters.github.client import GitHubClient

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


