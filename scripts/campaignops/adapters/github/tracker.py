"""Failure issues in a GitHub repository, found by the `campaignops` label and the run marker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ...domain.markers import LABEL, key_of
from ...ports import Issue
from .client import GitHubClient, GitHubError


class GitHubTracker:
    """Issues in a GitHub repository, found by the `campaignops` label and the run marker."""

    def __init__(self, client: GitHubClient, repo: str) -> None:
        self.client = client
        self.repo = repo
        self._all: list[Issue] | None = None  # one listing serves every campaign of a sync

    def _issue(self, data: dict[str, Any]) -> Issue | None:
        body = data.get("body") or ""
        key = key_of(body)
        if key is None:
            return None
        return Issue(str(data["number"]), key, data.get("title", ""), body, data.get("html_url", ""),
                     data.get("state", "open"))

    def _listing(self) -> list[Issue]:
        if self._all is None:
            found = (self._issue(d) for d in self.client.list_issues(self.repo, labels=[LABEL], state="all"))
            self._all = sorted((i for i in found if i is not None), key=lambda i: int(i.ref))
        return self._all

    def refresh(self) -> None:
        self._all = None

    def issues(self, campaign: str) -> list[Issue]:
        return [i for i in self._listing() if i.key.startswith(f"{campaign}/")]

    def list_open_for(self, run_key: str) -> list[Issue]:
        return [i for i in self._listing() if i.key == run_key and i.open]

    def comments(self, issue: Issue) -> list[str]:
        if issue.comments is None:
            return [c.get("body") or "" for c in self.client.list_comments(self.repo, int(issue.ref))]
        return list(issue.comments)

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        labels = list(dict.fromkeys(labels))
        self.client.ensure_labels(self.repo, labels)
        try:
            data = self.client.create_issue(self.repo, title, body, labels=labels, assignees=assignees)
        except GitHubError as exc:
            if not exc.maybe_applied:
                raise
            # The POST may have created it: look for the marker before creating again.
            self.refresh()
            existing = self.list_open_for(key)
            if existing:
                return existing[0]
            data = self.client.create_issue(self.repo, title, body, labels=labels, assignees=assignees)
        issue = self._issue(data) or Issue(str(data["number"]), key, title, body, data.get("html_url", ""))
        self._listing().append(issue)
        return issue

    def comment(self, issue: Issue, body: str) -> None:
        try:
            self.client.create_comment(self.repo, int(issue.ref), body)
        except GitHubError as exc:
            if not exc.maybe_applied:
                raise
            marker = body.splitlines()[0] if body else ""
            if not any(marker and marker in c for c in self.comments(replace(issue, comments=None))):
                self.client.create_comment(self.repo, int(issue.ref), body)

    def close(self, issue: Issue) -> None:
        self.client.close_issue(self.repo, int(issue.ref))
        if self._all is not None:
            self._all = [replace(i, state="closed") if i.ref == issue.ref else i for i in self._all]
