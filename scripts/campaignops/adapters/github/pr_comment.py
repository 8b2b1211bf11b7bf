"""The sticky plan comment on a pull request: one comment (or numbered parts) updated in place."""

from __future__ import annotations

import re
from typing import Any

from .client import GitHubClient, GitHubError

MAX_BODY = 65_536
MARKER = "<!-- campaignops:plan -->"
_ANY_MARKER = re.compile(r"<!-- campaignops:plan(?: part (\d+)/(\d+))? -->")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
EMPTY_PLAN = "No campaign changed in this pull request: nothing to plan."


def part_marker(i: int, n: int) -> str:
    return f"<!-- campaignops:plan part {i}/{n} -->"


def _hard_wrap(line: str, width: int) -> list[str]:
    return [line[i:i + width] for i in range(0, len(line), width)] or [""]


def split_markdown(markdown: str, limit: int = MAX_BODY) -> list[str]:
    """The comment bodies for `markdown`: one when it fits, else parts each within `limit`.

    Parts are cut at line ends; a code block cut in two is closed at the end of a part and
    reopened at the start of the next, so every part renders on its own.
    """
    markdown = markdown.strip("\n") or EMPTY_PLAN
    single = f"{MARKER}\n{markdown}\n"
    if len(single) <= limit:
        return [single]
    # Room for the longest header ("part 999/999" and a title line) and a closing fence.
    reserve = len(part_marker(999, 999)) + 80 + 2 * 12
    width = limit - reserve
    chunks: list[list[str]] = [[]]
    size = 0
    fence: str | None = None  # the fence line opening the code block we are in, if any
    for raw in markdown.split("\n"):
        for line in _hard_wrap(raw, width - 20):
            if size + len(line) + 1 > width and chunks[-1]:
                if fence:
                    chunks[-1].append(_closing(fence))
                chunks.append([fence] if fence else [])
                size = len(fence) + 1 if fence else 0
            chunks[-1].append(line)
            size += len(line) + 1
            match = _FENCE.match(line)
            if match:
                if fence is None:
                    fence = line
                elif match.group(1)[0] == _closing(fence)[0] and len(match.group(1)) >= len(_closing(fence)):
                    fence = None
    n = len(chunks)
    return [f"{part_marker(i, n)}\n_Plan, part {i} of {n}._\n\n" + "\n".join(lines) + "\n"
            for i, lines in enumerate(chunks, start=1)]


def _closing(fence_line: str) -> str:
    match = _FENCE.match(fence_line)
    return match.group(1) if match else "```"


def _ours(comment: dict[str, Any], login: str) -> bool:
    """A plan comment is ours only when our own identity wrote it: anyone can type the marker."""
    return (comment.get("user") or {}).get("login") == login and bool(_ANY_MARKER.match(comment.get("body") or ""))


def _create_once(client: GitHubClient, repo: str, pr_number: int, body: str) -> dict[str, Any]:
    """Post a comment; when the outcome is unknown, look for its marker before posting again."""
    try:
        return client.create_comment(repo, pr_number, body)
    except GitHubError as exc:
        if not exc.maybe_applied:
            raise
    marker = body.partition("\n")[0]
    for comment in client.list_comments(repo, pr_number):
        if _ours(comment, client.login()) and (comment.get("body") or "").partition("\n")[0] == marker:
            return comment
    return client.create_comment(repo, pr_number, body)


def post_plan(client: GitHubClient, repo: str, pr_number: int, markdown: str) -> list[str]:
    """Post or update the plan comment(s) of a pull request; returns what was done, for people.

    Existing plan comments are updated in place (oldest first) and never re-posted; parts no
    longer needed are deleted; an unchanged comment is left alone. Only comments written by the
    token's own identity are ours: a comment by anyone else is never edited or deleted.
    """
    bodies = split_markdown(markdown)
    login = client.login()
    existing = sorted((c for c in client.list_comments(repo, pr_number) if _ours(c, login)),
                      key=lambda c: int(c["id"]))
    actions = []
    n = len(bodies)
    for i, body in enumerate(bodies, start=1):
        what = "plan comment" if n == 1 else f"plan comment part {i}/{n}"
        if i <= len(existing):
            old = existing[i - 1]
            if (old.get("body") or "") == body:
                actions.append(f"{what} unchanged: {old.get('html_url', old['id'])}")
                continue
            new = client.update_comment(repo, int(old["id"]), body)
            actions.append(f"updated {what}: {new.get('html_url', old['id'])}")
        else:
            new = _create_once(client, repo, pr_number, body)
            actions.append(f"posted {what}: {new.get('html_url', new.get('id'))}")
    for stale in existing[n:]:
        client.delete_comment(repo, int(stale["id"]))
        actions.append(f"deleted stale plan comment {stale.get('html_url', stale['id'])}")
    return actions
