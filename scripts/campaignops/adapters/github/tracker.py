"""Failure issues in a GitHub repository, found by the `campaignops` label and the run marker.

Only what the token's own identity wrote counts (an issue or comment by anyone else carrying our
markers is ignored). What a sync learnt is kept in a small state file between syncs: the issues'
markers and states, the `since` and ETag of the listing, each issue's comment markers. A sync with
nothing new then costs only conditional requests (304s, which GitHub does not count).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ...domain.markers import LABEL, key_of
from ...ports import Issue
from .client import GitHubClient, GitHubError

STATE_VERSION = 1
WINDOW = 50  # once a listing returns this many issues, `since` moves up to the newest update seen
SINCE_MARGIN = timedelta(seconds=60)  # GitHub's clocks and replicas: look a minute further back
_MARKER = re.compile(r"<!-- campaignops:[^>]*-->")


def markers(body: str | None) -> str:
    """The campaignops markers of a body, one a line: all a sync needs of it."""
    return "\n".join(_MARKER.findall(body or ""))


def state_path_for(workdir: Path, repo: str) -> Path:
    """Where the sync state of `repo` lives: in the runner's work directory, which outlives checkouts."""
    return workdir / "github" / f"{repo.replace('/', '--')}.json"


def _iso_minus(stamp: str, delta: timedelta) -> str:
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - delta
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubTracker:
    """Issues in a GitHub repository, found by the `campaignops` label and the run marker."""

    def __init__(self, client: GitHubClient, repo: str, *, state_path: Path | None = None,
                 trusted: Iterable[str] = ()) -> None:
        self.client = client
        self.repo = repo
        self.state_path = state_path
        self._extra_trusted = frozenset(trusted)
        self._state: dict[str, Any] | None = None
        self._listed = False  # listed in this run
        self._wrote = False  # created, commented or closed in this run
        self._bodies: dict[str, str] = {}  # number -> full body, for issues seen in this run (not kept)
        self._comments: dict[str, list[str]] = {}  # number -> trusted comment bodies fetched in this run
        self._commented: set[str] = set()  # issues we commented on in this run

    # ---- who counts -------------------------------------------------------------------------------

    @property
    def trusted(self) -> frozenset[str]:
        """The logins whose issues and comments count: the token's own (and any given)."""
        return self._extra_trusted | {self.client.login()}

    # ---- the state kept between syncs ----------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        if self._state is None:
            old: dict[str, Any] = {}
            if self.state_path is not None and self.state_path.exists():
                try:
                    old = json.loads(self.state_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    old = {}  # a damaged cache only costs a full listing
            login = self.client.login()
            if old.get("version") != STATE_VERSION or old.get("repo") != self.repo or old.get("login") != login:
                old = {}
            self._state = {"version": STATE_VERSION, "repo": self.repo, "login": login,
                           "since": old.get("since"), "etag": old.get("etag"), "issues": old.get("issues", {})}
        return self._state

    def _save(self) -> None:
        if self.state_path is None or self._state is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self._state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_path)

    def _remember(self, data: dict[str, Any]) -> None:
        entries: dict[str, Any] = self._load()["issues"]
        old = entries.get(str(data["number"]), {})
        self._bodies[str(data["number"])] = data.get("body") or ""
        entries[str(data["number"])] = {
            **old, "title": data.get("title", ""), "markers": markers(data.get("body")),
            "state": data.get("state", "open"), "url": data.get("html_url", ""),
            "author": ((data.get("user") or {}).get("login") or ""),
            "updated_at": data.get("updated_at") or old.get("updated_at") or ""}

    def _list(self) -> None:
        """Bring the kept issues up to date: issues updated since the window's start, conditionally."""
        state = self._load()
        items, etag = self.client.issues_changed(self.repo, labels=[LABEL], since=state["since"],
                                                 etag=state["etag"])
        if items is not None:
            for data in items:
                self._remember(data)
            state["etag"] = etag
            stamps = [str(i["updated_at"]) for i in items if i.get("updated_at")]
            if len(items) >= WINDOW and stamps:
                # A stable URL keeps the ETag useful; move the window only when it has grown.
                state["since"] = _iso_minus(max(stamps), SINCE_MARGIN)
                state["etag"] = None
        self._listed = True
        self._save()

    def _issue(self, number: str, entry: dict[str, Any]) -> Issue | None:
        key = key_of(entry.get("markers", ""))
        if key is None or entry.get("author") not in self.trusted:
            return None
        return Issue(number, key, entry.get("title", ""), self._bodies.get(number, entry.get("markers", "")),
                     entry.get("url", ""), entry.get("state", "open"))

    def _listing(self) -> list[Issue]:
        if not self._listed:
            self._list()
        found = (self._issue(n, e) for n, e in self._load()["issues"].items())
        return sorted((i for i in found if i is not None), key=lambda i: int(i.ref))

    def refresh(self) -> None:
        self._listed = False

    def finish(self) -> None:
        """After a sync that wrote: list once more (and read back the comments we added), so the next sync
        with nothing new costs only conditional requests."""
        if self._wrote:
            self._wrote = False
            self._list()
            for ref in sorted(self._commented):
                self._forget_comments(ref)
                self.comments(Issue(ref, "", "", "", ""))
            self._commented.clear()

    def describe(self) -> str:
        counts = self.client.counts
        return (f"{sum(v for k, v in counts.items() if k != '304')} requests "
                f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")

    # ---- the Tracker port -----------------------------------------------------------------------

    def issues(self, campaign: str) -> list[Issue]:
        return [i for i in self._listing() if i.key.startswith(f"{campaign}/")]

    def list_open_for(self, run_key: str) -> list[Issue]:
        return [i for i in self._listing() if i.key == run_key and i.open]

    def comments(self, issue: Issue) -> list[str]:
        """The comments the trusted identity wrote (those of anyone else never count): their bodies when
        fetched in this run, else their markers as kept from an earlier sync."""
        if issue.comments is not None:
            return list(issue.comments)
        entry = self._load()["issues"].setdefault(issue.ref, {})
        if entry.get("comments_at") is not None and entry.get("comments_at") == entry.get("updated_at"):
            return list(self._comments.get(issue.ref, entry.get("comment_markers", [])))
        items, etag = self.client.comments_changed(self.repo, int(issue.ref), entry.get("comments_etag"))
        if items is not None:
            trusted = self.trusted
            mine = [str(c.get("body") or "") for c in items if (c.get("user") or {}).get("login") in trusted]
            self._comments[issue.ref] = mine
            entry["comment_markers"] = [markers(b) for b in mine]
            entry["comments_etag"] = etag
        entry["comments_at"] = entry.get("updated_at")
        self._save()
        return list(self._comments.get(issue.ref, entry.get("comment_markers", [])))

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        labels = list(dict.fromkeys(labels))
        self.client.ensure_labels(self.repo, labels)
        self._wrote = True
        try:
            data = self.client.create_issue(self.repo, title, body, labels=labels, assignees=assignees)
        except GitHubError as exc:
            if not exc.maybe_applied:
                raise
            # The POST may have created it: look for the marker before creating again. Should GitHub
            # apply it later still, the next sync finds two and closes the newer as a duplicate.
            self.refresh()
            existing = self.list_open_for(key)
            if existing:
                return existing[0]
            data = self.client.create_issue(self.repo, title, body, labels=labels, assignees=assignees)
        data.setdefault("user", {"login": self.client.login()})
        self._remember(data)
        self._save()
        issue = self._issue(str(data["number"]), self._load()["issues"][str(data["number"])])
        return issue or Issue(str(data["number"]), key, title, markers(body), data.get("html_url", ""))

    def comment(self, issue: Issue, body: str) -> None:
        self._wrote = True
        try:
            self.client.create_comment(self.repo, int(issue.ref), body)
        except GitHubError as exc:
            if not exc.maybe_applied:
                raise
            marker = body.splitlines()[0] if body else ""
            self._forget_comments(issue.ref)
            if not any(marker and marker in c for c in self.comments(replace(issue, comments=None))):
                self.client.create_comment(self.repo, int(issue.ref), body)
        entry = self._load()["issues"].setdefault(issue.ref, {})
        entry.setdefault("comment_markers", []).append(markers(body))
        self._commented.add(issue.ref)
        if issue.ref in self._comments:
            self._comments[issue.ref].append(body)
        self._save()

    def _forget_comments(self, ref: str) -> None:
        entry = self._load()["issues"].setdefault(ref, {})
        entry["comments_at"] = None

    def close(self, issue: Issue) -> None:
        self._wrote = True
        data = self.client.close_issue(self.repo, int(issue.ref))
        entry = self._load()["issues"].setdefault(issue.ref, {})
        entry["state"] = "closed"
        if isinstance(data, dict) and data.get("updated_at"):
            entry["updated_at"] = data["updated_at"]
        self._save()
