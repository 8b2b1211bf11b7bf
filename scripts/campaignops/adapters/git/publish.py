"""Record: commit ledgers and status pages, push, and merge ledgers when two jobs raced (the git adapter)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...domain.errors import PublishError
from ...ledger.merge import Change, commit_message, diff_ledgers, merge_ledgers
from ...ledger.store import dumps, parse_version
from .repo import Git

# What the bot writes. New campaign folders (from `campaign new`) are added separately, and only
# when untracked: a reviewed campaign.yaml is never changed behind a pull request's back.
DEFAULT_PATHSPECS = (
    ":(glob)campaigns/*/ledger.yaml",
    ":(glob)campaigns/*/STATUS.md",
    ":(glob)campaigns/*/progress.svg",
    ":(glob)campaigns/*/profile.yaml",
    ":(glob)STATUS.md",
)
NEW_CAMPAIGN_PATHSPEC = ":(glob)campaigns/*/campaign.yaml"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


@dataclass(frozen=True)
class Published:
    """What `publish` did: the commit pushed (None: nothing changed), its transitions, tries used."""

    commit: str | None
    changes: tuple[Change, ...] = ()
    tries: int = 0
    merged: tuple[str, ...] = ()  # ledger files merged after a raced push


def _identity(git: Git) -> list[str]:
    if git.run("config", "user.email", check=False).stdout.strip():
        return []
    return ["-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}"]


def stage(git: Git, extra: Sequence[str] = ()) -> list[str]:
    """Stage the bot's files (and new campaign folders); returns the staged paths."""
    specs = [*DEFAULT_PATHSPECS, *extra]
    changed = git.out("ls-files", "-z", "--modified", "--deleted", "--others", "--exclude-standard",
                      "--", *specs).split("\0")
    new = git.out("ls-files", "-z", "--others", "--exclude-standard", "--", NEW_CAMPAIGN_PATHSPEC).split("\0")
    paths = sorted({p for p in (*changed, *new) if p})
    if paths:
        git.run("add", "-A", "--", *paths)
    return [p for p in git.out("diff", "--cached", "--name-only", "-z").split("\0") if p]


def staged_changes(git: Git, paths: Iterable[str]) -> tuple[list[Change], list[str]]:
    """Transitions of the staged ledgers against HEAD, and the campaigns added."""
    has_head = git.run("rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0
    changes: list[Change] = []
    added: list[str] = []
    for path in paths:
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "campaigns":
            continue
        if parts[2] == "campaign.yaml" and (not has_head or git.show(f"HEAD:{path}") is None):
            added.append(parts[1])
        if parts[2] == "ledger.yaml":
            new = parse_version(git.show(f":{path}"))
            if new is not None:
                old = parse_version(git.show(f"HEAD:{path}")) if has_head else None
                changes += diff_ledgers(old, new)
    return changes, added


def _resolve_conflicts(git: Git) -> list[str]:
    """Resolve a stopped rebase: merge conflicting ledgers, keep our status pages; anything else is
    a person's job. Returns the ledger files merged."""
    conflicted = [p for p in git.out("diff", "--name-only", "--diff-filter=U", "-z").split("\0") if p]
    merged: list[str] = []
    for path in conflicted:
        name = Path(path).name
        # During a rebase stage 2 is the upstream side, stage 3 the commit being replayed (ours).
        upstream, ours = git.show(f":2:{path}"), git.show(f":3:{path}")
        if name == "ledger.yaml":
            a, b = parse_version(ours), parse_version(upstream)
            if a is None or b is None:
                result = ours if a is not None else upstream
                if result is None:
                    raise PublishError(f"{path}: deleted on one side and unreadable on the other; "
                                       "resolve by hand")
                text = result
            else:
                text = dumps(merge_ledgers(a, b))
            merged.append(path)
        elif name in ("STATUS.md", "progress.svg"):
            # A status page is a rendering of the ledgers: the next `campaign status` rewrites it.
            text = ours if ours is not None else (upstream or "")
        else:
            raise PublishError(f"{path}: conflicting change that is not a ledger or status page; "
                               "resolve it by hand and push")
        (git.cwd / path).write_text(text, encoding="utf-8")
        git.run("add", "--", path)
    return merged


def rebase_onto(git: Git, upstream: str) -> list[str]:
    """Rebase the local commits onto `upstream`, merging ledgers on conflict; returns merged files."""
    merged: list[str] = []
    proc = git.run("rebase", "--autostash", upstream, check=False)
    for _ in range(1000):  # one stop per replayed commit at most
        if proc.returncode == 0:
            return merged
        if not git.out("diff", "--name-only", "--diff-filter=U"):
            if git.run("diff", "--cached", "--quiet", check=False).returncode == 0:
                # the replayed commit became empty (upstream already had the same content)
                proc = git.run("rebase", "--skip", check=False)
                continue
            git.run("rebase", "--abort", check=False)
            raise PublishError(f"rebase onto {upstream} failed: {proc.stderr.strip()}")
        try:
            merged += _resolve_conflicts(git)
        except PublishError:
            git.run("rebase", "--abort", check=False)
            raise
        proc = git.run("-c", "core.editor=true", "rebase", "--continue", check=False)
    raise PublishError("rebase did not finish")


def _ahead(git: Git, remote: str, branch: str) -> bool:
    ref = f"refs/remotes/{remote}/{branch}"
    if git.run("rev-parse", "--verify", "-q", ref, check=False).returncode != 0:
        return git.run("rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0
    return bool(git.out("rev-list", f"{ref}..HEAD").strip())


def publish(git: Git, message: str | None = None, paths: Sequence[str] = (), remote: str = "origin",
            branch: str = "main", max_tries: int = 5, backoff: float = 2.0,
            sleep: Callable[[float], None] = time.sleep) -> Published:
    """Commit what the bot wrote and push it to `remote`/`branch`; on a raced push fetch, rebase
    (merging ledgers) and try again, up to `max_tries` pushes. Raises PublishError after that,
    leaving the commit in place so a re-run pushes it."""
    staged = stage(git, paths)
    changes: list[Change] = []
    if staged:
        changes, added = staged_changes(git, staged)
        git.run(*_identity(git), "commit", "--no-verify", "-q", "-F", "-",
                stdin=commit_message(changes, message, added))
    elif not _ahead(git, remote, branch):
        return Published(None)
    merged: list[str] = []
    last_error = ""
    for attempt in range(1, max_tries + 1):
        push = git.run("push", "--porcelain", remote, f"HEAD:refs/heads/{branch}", check=False)
        if push.returncode == 0:
            return Published(git.out("rev-parse", "HEAD").strip(), tuple(changes), attempt, tuple(merged))
        last_error = (push.stderr or push.stdout).strip()
        if attempt == max_tries:
            break
        sleep(backoff * 2 ** (attempt - 1))
        fetch = git.run("fetch", "--quiet", remote, branch, check=False)
        if fetch.returncode != 0:
            last_error = fetch.stderr.strip()
            continue  # the remote may be briefly unreachable: try again after the next wait
        merged += rebase_onto(git, "FETCH_HEAD")
    head = git.out("rev-parse", "--short", "HEAD").strip()
    last_error = " ".join(line.strip() for line in last_error.splitlines() if line.strip())
    raise PublishError(
        f"could not push to {remote} {branch} after {max_tries} tries (last error: {last_error}). "
        f"The commit {head} is kept in this checkout: run `campaign publish` again to push it, "
        f"or `git pull --rebase {remote} {branch} && git push {remote} HEAD:{branch}` by hand.")
