"""GitHub REST client: token from the environment, Link pagination, rate limits and retries, and GitHub's
etiquette: writes at least a second apart, conditional requests, bodies within the limit, who we are."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ...domain.errors import ServiceError
from ..lock import paced

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum
MAX_BODY = 65_536  # characters in an issue or comment body
SECONDARY_MIN_WAIT = 60.0  # GitHub: "wait at least one minute" when no retry-after is given
WRITE_INTERVAL = 1.0  # GitHub: "wait at least one second between each [mutating] request"
MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
REDACTED = "***"
ACTIONS_BOT = "github-actions[bot]"  # who GITHUB_TOKEN writes as
_OUR_MARKER = re.compile(r"<!-- campaignops:[^>]*-->")
CUT_NOTE = "\n\n_… cut to fit GitHub's 65,536-character limit._\n"


def fit_body(body: str, limit: int = MAX_BODY) -> str:
    """`body` within GitHub's limit: the content is cut, every campaignops marker in it is kept."""
    if len(body) <= limit:
        return body
    markers = _OUR_MARKER.findall(body)
    head = "".join(f"{m}\n" for m in dict.fromkeys(markers))
    rest = _OUR_MARKER.sub("", body).lstrip("\n")
    return head + rest[:max(0, limit - len(head) - len(CUT_NOTE))] + CUT_NOTE


class GitHubError(ServiceError):
    """A GitHub request that failed for good; the message says what was asked and what to do.

    `status` is the HTTP status (None when no response came back). `maybe_applied` is True when
    a non-idempotent request (POST) may have taken effect anyway (timeout, 5xx): the caller must
    look for what it tried to create (by its marker) before trying again.
    """

    def __init__(self, message: str, *, status: int | None = None, maybe_applied: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.maybe_applied = maybe_applied


class _NotModified(Exception):
    """A conditional GET answered 304."""


def token_from_env(env: dict[str, str] | None = None) -> str | None:
    """GITHUB_TOKEN (set by Actions), else GH_TOKEN (the gh CLI's variable), else None."""
    env = dict(os.environ) if env is None else env
    return env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None


def api_url_from_env(env: dict[str, str] | None = None) -> str:
    """GITHUB_API_URL (set by Actions, GitHub Enterprise Server included), else api.github.com."""
    env = dict(os.environ) if env is None else env
    return (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


class GitHubClient:
    """A small GitHub REST client on `requests`.

    Retries what is safe to retry: primary rate limit (waits until `x-ratelimit-reset`),
    secondary rate limit (waits `retry-after`, else >= 60 s, doubling), 5xx and network errors
    with exponential backoff — except a POST whose outcome is unknown, which raises
    `GitHubError(maybe_applied=True)` so the caller re-lists before creating again.
    The token is only sent to the API's own host and never appears in repr, errors or logs.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_tries: int = 5,
        timeout: float = 30,
        clock: Callable[[], float] = time.time,
        max_wait: float = 3600.0,
        backoff: float = 2.0,
        monotonic: Callable[[], float] | None = None,
        write_interval: float = WRITE_INTERVAL,
        pace_file: Path | None = None,
    ) -> None:
        self.base_url = (base_url or api_url_from_env()).rstrip("/")
        self._token = token if token is not None else token_from_env()
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self.max_tries = max(1, max_tries)
        self.timeout = timeout
        self.max_wait = max_wait
        self.backoff = backoff
        # Pacing of writes uses a monotonic clock; with an injected wall clock (tests), that one.
        self._monotonic = monotonic or (time.monotonic if clock is time.time else clock)
        self.write_interval = write_interval
        # Writes paced across processes: the time the last one ended, in a file read and written under its
        # lock (held for the write), so two jobs of one runner never write less than a second apart.
        self.pace_file = pace_file
        self._last_write: float | None = None
        self._not_before: float | None = None  # wall-clock time the primary limit resets, once exhausted
        self._labels: dict[str, set[str]] = {}  # repository -> label names known to exist (this process)
        self._login: str | None = None
        self.counts: dict[str, int] = {}  # method (and "304") -> requests sent, for people and benchmarks

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r}, token={REDACTED if self._token else None})"

    __str__ = __repr__

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    # ---- low level ----------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """`text` with the token (should a server ever echo it) replaced by ***."""
        return text.replace(self._token, REDACTED) if self._token else text

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, url: str) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "campaignops",
        }
        # Never hand the token to another host, even if a Link header points there.
        if self._token and _origin(url) == _origin(self.base_url):
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _pace(self, method: str, where: str) -> None:
        """Before a request: wait for an exhausted primary limit to reset, and keep writes a second apart."""
        if self._not_before is not None:
            wait = self._not_before - self._clock()
            self._not_before = None
            if wait > self.max_wait:
                raise GitHubError(f"{where}: the rate limit is used up and resets in {wait:.0f} s, more than the "
                                  f"{self.max_wait:.0f} s this client waits: run again later")
            if wait > 0:
                self._wait(wait, where, "rate limit used up (x-ratelimit-remaining: 0)")
        if method in MUTATING and self.pace_file is None:
            if self._last_write is not None:
                gap = self._last_write + self.write_interval - self._monotonic()
                if gap > 0:
                    log.debug("%s: pacing writes, %.2f s", where, gap)
                    self._sleep(gap)
            self._last_write = self._monotonic()

    def _write_turn(self, method: str) -> AbstractContextManager[None]:
        if method in MUTATING and self.pace_file is not None:
            return paced(self.pace_file, self.write_interval, self._sleep)
        return nullcontext()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None, etag: str | None = None) -> requests.Response:
        """One API call with the retry rules above; returns the successful response (a 304 when `etag`
        was given and the resource has not changed since: it does not count against the rate limit)."""
        method = method.upper()
        url = self.url(path)
        where = f"{method} {self.redact(url)}"
        secondary_hits = 0
        last_problem = ""
        for attempt in range(1, self.max_tries + 1):
            last = attempt == self.max_tries
            self._pace(method, where)
            headers = self._headers(url)
            if etag:
                headers["If-None-Match"] = etag
            try:
                self.counts[method] = self.counts.get(method, 0) + 1
                with self._write_turn(method):
                    resp = self._session.request(method, url, params=params, json=json,
                                                 headers=headers, timeout=self.timeout)
            except requests.ConnectionError as exc:
                # A refused connection never reached GitHub: safe to retry even for POST.
                never_sent = isinstance(exc, requests.ConnectTimeout) or "refused" in str(exc).lower()
                last_problem = f"network error: {self.redact(type(exc).__name__)}"
                if method == "POST" and not never_sent:
                    raise GitHubError(f"{where}: {last_problem}; the request may have been applied, "
                                      "look for it before sending it again", maybe_applied=True) from None
                if last:
                    break
                self._wait(self._backoff(attempt), where, last_problem)
                continue
            except requests.Timeout:
                last_problem = f"no answer within {self.timeout:g} s"
                if method == "POST":
                    raise GitHubError(f"{where}: {last_problem}; the request may have been applied, "
                                      "look for it before sending it again", maybe_applied=True) from None
                if last:
                    break
                self._wait(self._backoff(attempt), where, last_problem)
                continue

            status = resp.status_code
            log.debug("%s -> %s", where, status)
            if status < 400:
                if status == 304:
                    self.counts["304"] = self.counts.get("304", 0) + 1
                self._note_remaining(resp)
                return resp
            message = self._message(resp)
            if status in (403, 429):
                wait = self._rate_limit_wait(resp, message, secondary_hits)
                if wait is not None:
                    if resp.headers.get("x-ratelimit-remaining") != "0":
                        secondary_hits += 1
                    last_problem = f"rate limited ({status}: {message})"
                    if last:
                        break
                    if wait > self.max_wait:
                        raise GitHubError(f"{where}: {last_problem}; the limit resets in {wait:.0f} s, "
                                          f"more than the {self.max_wait:.0f} s this client waits: run again "
                                          "later", status=status)
                    self._wait(wait, where, last_problem)
                    continue
            if status >= 500:
                last_problem = f"GitHub answered {status}: {message}"
                if method == "POST":
                    raise GitHubError(f"{where}: {last_problem}; the request may have been applied, "
                                      "look for it before sending it again", status=status,
                                      maybe_applied=True)
                if last:
                    break
                self._wait(self._backoff(attempt), where, last_problem)
                continue
            raise GitHubError(f"{where}: {status} {message}{self._hint(status)}", status=status)
        raise GitHubError(f"{where}: gave up after {self.max_tries} tries; last problem: {last_problem}")

    def _note_remaining(self, resp: requests.Response) -> None:
        """A success that used the last request of the window: the next call waits for the reset."""
        if resp.headers.get("x-ratelimit-remaining") == "0":
            try:
                self._not_before = float(resp.headers.get("x-ratelimit-reset", "")) + 1.0
            except ValueError:
                self._not_before = self._clock() + SECONDARY_MIN_WAIT

    def _backoff(self, attempt: int) -> float:
        return float(self.backoff ** (attempt - 1))

    def _wait(self, seconds: float, where: str, why: str) -> None:
        log.warning("%s: %s; waiting %.0f s", where, why, seconds)
        self._sleep(seconds)

    def _rate_limit_wait(self, resp: requests.Response, message: str, secondary_hits: int) -> float | None:
        """Seconds to wait when `resp` is a rate-limit answer, None when it is a real 403."""
        headers = resp.headers
        retry_after: str | None = headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(float(retry_after), 0.0)
            except ValueError:
                pass
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset")
            try:
                return max(float(reset) - self._clock(), 0.0) + 1.0 if reset else SECONDARY_MIN_WAIT
            except ValueError:
                return SECONDARY_MIN_WAIT
        if resp.status_code == 429 or "rate limit" in message.lower():
            return SECONDARY_MIN_WAIT * 2.0 ** secondary_hits
        return None

    def _message(self, resp: requests.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            return self.redact(resp.text[:200].strip() or resp.reason or "")
        if isinstance(data, dict):
            text = str(data.get("message", ""))
            errors = data.get("errors")
            if errors:
                text += f" ({self.redact(str(errors))[:300]})"
            return self.redact(text)
        return ""

    def _hint(self, status: int) -> str:
        if status == 401:
            return ": the token was refused; check GITHUB_TOKEN / GH_TOKEN"
        if status == 403:
            return (": the token lacks a permission; the workflow needs `permissions: issues: write` "
                    "(and `pull-requests: write` for PR comments)")
        if status == 404:
            return ": no such repository or resource, or the token cannot see it"
        if status == 422:
            return ": GitHub rejected the content"
        return ""

    def _json(self, resp: requests.Response, where: str) -> Any:
        """The body as JSON; a page of HTML (a proxy, a login portal, an outage page) is a GitHubError."""
        try:
            return resp.json()
        except ValueError:
            kind = resp.headers.get("content-type", "no content type")
            text = " ".join(resp.text[:160].split())
            raise GitHubError(f"{where}: GitHub answered {resp.status_code} with {kind}, not JSON ({text!r}); "
                              "is a proxy or login page in the way? Check GITHUB_API_URL", status=resp.status_code,
                              maybe_applied=resp.request.method == "POST") from None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self.request("GET", path, params=params), f"GET {self.redact(path)}")

    def post(self, path: str, json: Any) -> Any:
        return self._json(self.request("POST", path, json=json), f"POST {self.redact(path)}")

    def patch(self, path: str, json: Any) -> Any:
        return self._json(self.request("PATCH", path, json=json), f"PATCH {self.redact(path)}")

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following `Link: rel="next"` as given (never built)."""
        yield from self._pages(path, params)

    def paginate_if_changed(self, path: str, params: dict[str, Any] | None,
                            etag: str | None) -> tuple[list[Any] | None, str | None]:
        """Every item, or None when the first page is unchanged since `etag` (a 304, free of the
        rate limit); with the first page's ETag for the next call."""
        seen: list[str | None] = []
        try:
            items = list(self._pages(path, params, etag, seen))
        except _NotModified:
            return None, etag
        return items, seen[0] if seen else None

    def _pages(self, path: str, params: dict[str, Any] | None, etag: str | None = None,
               seen: list[str | None] | None = None) -> Iterator[Any]:
        query: dict[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        url: str | None = self.url(path)
        while url:
            resp = self.request("GET", url, params=query, etag=etag)
            if resp.status_code == 304:
                raise _NotModified
            if seen is not None and not seen:
                seen.append(resp.headers.get("etag"))
            etag = None
            data = self._json(resp, f"GET {self.redact(url)}")
            if not isinstance(data, list):
                raise GitHubError(f"GET {self.redact(url)}: expected a list, got {type(data).__name__}")
            yield from data
            url = resp.links.get("next", {}).get("url")
            query = None  # the next link carries every parameter itself

    # ---- issues, comments, labels -------------------------------------------------------------

    @staticmethod
    def _repo(repo: str) -> str:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise GitHubError(f"repository {repo!r} is not OWNER/NAME; pass --repo or set GITHUB_REPOSITORY")
        return f"/repos/{quote(owner)}/{quote(name)}"

    def list_issues(self, repo: str, *, labels: Iterable[str] = (), state: str = "open") -> list[dict[str, Any]]:
        """Issues (never pull requests) carrying every one of `labels`."""
        params: dict[str, Any] = {"state": state}
        wanted = ",".join(labels)
        if wanted:
            params["labels"] = wanted
        return [i for i in self.paginate(f"{self._repo(repo)}/issues", params) if "pull_request" not in i]

    def issues_changed(self, repo: str, *, labels: Iterable[str] = (), since: str | None = None,
                       etag: str | None = None) -> tuple[list[dict[str, Any]] | None, str | None]:
        """Issues (open and closed, never pull requests) with every one of `labels` updated at or after
        `since` (all when None), most recently updated first; None when nothing changed since `etag`."""
        params: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "desc"}
        wanted = ",".join(labels)
        if wanted:
            params["labels"] = wanted
        if since:
            params["since"] = since
        items, new_etag = self.paginate_if_changed(f"{self._repo(repo)}/issues", params, etag)
        if items is None:
            return None, new_etag
        return [i for i in items if "pull_request" not in i], new_etag

    def login(self) -> str:
        """Who this token writes as: `GET /user` for a person's token; an installation token (Actions'
        GITHUB_TOKEN, a GitHub App) cannot read /user (403 "Resource not accessible by integration"),
        so it is `$CAMPAIGNOPS_BOT_LOGIN` (an App: `<app-slug>[bot]`), else github-actions[bot]."""
        if self._login is None and (self._token or "").startswith("ghs_"):
            # GitHub's documented prefix of installation tokens (Actions' GITHUB_TOKEN, a GitHub App's):
            # /user would answer 403, so no request is spent on it.
            self._login = os.environ.get("CAMPAIGNOPS_BOT_LOGIN") or ACTIONS_BOT
        if self._login is None:
            try:
                self._login = str(self.get("/user")["login"])
            except GitHubError as exc:
                if exc.status != 403:
                    raise
                self._login = os.environ.get("CAMPAIGNOPS_BOT_LOGIN") or ACTIONS_BOT
        return self._login

    def create_issue(self, repo: str, title: str, body: str, *, labels: Iterable[str] = (),
                     assignees: Iterable[str] = ()) -> dict[str, Any]:
        payload: dict[str, Any] = {"title": title[:256], "body": fit_body(body)}
        if labels:
            payload["labels"] = list(labels)
        if assignees:
            payload["assignees"] = list(assignees)
        result: dict[str, Any] = self.post(f"{self._repo(repo)}/issues", payload)
        return result

    def close_issue(self, repo: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = self.patch(f"{self._repo(repo)}/issues/{number}",
                                            {"state": "closed", "state_reason": "completed"})
        return result

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"{self._repo(repo)}/issues/{number}/comments"))

    def comments_changed(self, repo: str, number: int,
                         etag: str | None = None) -> tuple[list[dict[str, Any]] | None, str | None]:
        """The comments of an issue, or None when unchanged since `etag` (a 304)."""
        return self.paginate_if_changed(f"{self._repo(repo)}/issues/{number}/comments", None, etag)

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        result: dict[str, Any] = self.post(f"{self._repo(repo)}/issues/{number}/comments", {"body": fit_body(body)})
        return result

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        result: dict[str, Any] = self.patch(f"{self._repo(repo)}/issues/comments/{comment_id}",
                                            {"body": fit_body(body)})
        return result

    def delete_comment(self, repo: str, comment_id: int) -> None:
        self.delete(f"{self._repo(repo)}/issues/comments/{comment_id}")

    def ensure_labels(self, repo: str, labels: Iterable[str], *, color: str = "ededed") -> list[str]:
        """Create the labels the repository lacks; returns the ones created. The repository's labels
        are listed once per client (one process, one sync), not once per issue."""
        if repo not in self._labels:
            self._labels[repo] = {str(label["name"]).lower() for label in self.paginate(f"{self._repo(repo)}/labels")}
        existing = self._labels[repo]
        created = []
        for name in dict.fromkeys(labels):
            if name.lower() in existing:
                continue
            try:
                self.post(f"{self._repo(repo)}/labels", {"name": name, "color": color})
            except GitHubError as exc:
                # 422 "already_exists": someone created it meanwhile — that is what we wanted;
                # an unknown outcome is fine too: GitHub creates missing labels with the issue.
                if exc.status != 422 and not exc.maybe_applied:
                    raise
            created.append(name)
            existing.add(name.lower())
        return created
