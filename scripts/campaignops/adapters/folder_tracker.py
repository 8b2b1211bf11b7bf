"""Failure issues as markdown files in a folder: the tracker of runs without a GitHub token (the demo)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from ..domain.errors import ServiceError
from ..domain.markers import key_of
from ..ports import Issue

_COMMENT_SEP = "\n\n<!-- campaignops:comment -->\n"


class FolderTracker:
    """The same issues as markdown files in a folder, for runs without a GitHub token (the demo).

    `<dir>/<campaign>__<step>__<group>.md` holds the first issue of a run (`__2.md`, … later ones);
    a YAML header says its title, state, labels and assignees; comments are appended.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    def _read(self, path: Path) -> Issue | None:
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---\n"):
            return None
        header_text, _, rest = text[4:].partition("\n---\n")
        header = yaml.safe_load(header_text) or {}
        body, *comments = rest.split(_COMMENT_SEP)
        body = body.lstrip("\n")
        if body.startswith("# "):
            body = body.partition("\n")[2].lstrip("\n")
        key = key_of(body)
        if key is None:
            return None
        return Issue(path.name, key, str(header.get("title", "")), body.rstrip("\n") + "\n", str(path),
                     str(header.get("state", "open")),
                     tuple(c.partition("\n")[2].strip("\n") + "\n" for c in comments))

    @staticmethod
    def _write(path: Path, issue: Issue, labels: Iterable[str], assignees: Iterable[str]) -> None:
        header = {"title": issue.title, "state": issue.state, "labels": list(labels),
                  "assignees": list(assignees), "run": issue.key}
        parts = ["---\n", yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000), "---\n",
                 f"# {issue.title}\n\n", issue.body.rstrip("\n") + "\n"]
        for i, c in enumerate(issue.comments or (), start=1):
            parts.append(f"{_COMMENT_SEP}### Comment {i}\n{c.rstrip()}\n")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text("".join(parts), encoding="utf-8")
        tmp.replace(path)

    def _header(self, path: Path) -> dict[str, Any]:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text[4:].partition("\n---\n")[0]) if text.startswith("---\n") else {}
        return data if isinstance(data, dict) else {}

    def _all(self) -> list[Issue]:
        if not self.dir.is_dir():
            return []
        found = (self._read(p) for p in sorted(self.dir.glob("*.md")))
        return [i for i in found if i is not None]

    def issues(self, campaign: str) -> list[Issue]:
        return [i for i in self._all() if i.key.startswith(f"{campaign}/")]

    def list_open_for(self, run_key: str) -> list[Issue]:
        return [i for i in self._all() if i.key == run_key and i.open]

    def comments(self, issue: Issue) -> list[str]:
        fresh = self._read(self.dir / issue.ref)
        return list(fresh.comments or ()) if fresh else []

    def finish(self) -> None:
        pass  # files: nothing to list again

    def describe(self) -> str:
        return ""

    def create(self, key: str, title: str, body: str, labels: Iterable[str], assignees: Iterable[str]) -> Issue:
        stem = key.replace("/", "__")
        path = self.dir / f"{stem}.md"
        n = 1
        while path.exists():
            n += 1
            path = self.dir / f"{stem}__{n}.md"
        issue = Issue(path.name, key, title, body, str(path), "open", ())
        self._write(path, issue, labels, assignees)
        return issue

    def comment(self, issue: Issue, body: str) -> None:
        path = self.dir / issue.ref
        fresh = self._read(path)
        if fresh is None:
            raise ServiceError(f"{path}: the issue file is gone or not a campaignops issue; "
                               "run `campaign notify` again to open a new one")
        header = self._header(path)
        self._write(path, replace(fresh, comments=(*(fresh.comments or ()), body)),
                    header.get("labels") or (), header.get("assignees") or ())

    def close(self, issue: Issue) -> None:
        path = self.dir / issue.ref
        fresh = self._read(path)
        if fresh is None:
            raise ServiceError(f"{path}: the issue file is gone or not a campaignops issue; "
                               "run `campaign notify` again to open a new one")
        header = self._header(path)
        self._write(path, replace(fresh, state="closed"), header.get("labels") or (),
                    header.get("assignees") or ())
