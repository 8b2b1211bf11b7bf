"""Record: commit ledgers and status pages, push, and merge ledgers when two jobs raced."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .ledger import Attempt, Ledger, RunRecord, RunState, dumps, from_dict

# What the bot writes. New campaign folders (from `campaign new`) are added separately, and only
# when untracked: a reviewed campaign.yaml is never changed behind a pull request's back.
DEFAULT_PATHSPECS = (
    ":(glob)campaigns/*/ledger.yaml",
    ":(glob)campaigns/*/STATUS.md",
    ":(glob)STATUS.md",
)
NEW_CAMPAIGN_PATHSPEC = ":(glob)campaigns/*/campaign.yaml"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


# ---- pure core: transitions between two versions of a ledger, and the merge of two ledgers -----

@dataclass(frozen=True)
class Change:
    """One attempt of one run moving from one state to another between two ledger versions."""

    campaign: str
    step: str
    group: str
    attempt: int
    kind: str
    old: RunState | None  # None: the attempt is new
    new: RunState
    failed: int = 0
    failed_in: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.campaign}: {self.describe()}"

    def describe(self) -> str:
        """The change without the campaign name: `step1 g0003 RUNNING→FAILED (12 failed in calibrate)`."""
        number = f" #{self.attempt} ({self.kind})" if self.attempt > 1 else ""
        old = self.old.value if self.old else "NEW"
        detail = ""
        if self.failed:
            where = f" in {', '.join(self.failed_in)}" if self.failed_in else ""
            detail = f" ({self.failed} failed{where})"
        return f"{self.step} {self.group}{number} {old}→{self.new.value}{detail}"


def _failed_detail(attempt: Attempt) -> tuple[int, tuple[str, ...]]:
    labels = tuple(t.label for t in attempt.tasks if t.get("FAILED"))
    return attempt.failed_quanta(), labels


def diff_ledgers(old: Ledger | None, new: Ledger) -> list[Change]:
    """State changes of every attempt from `old` (None: no ledger yet) to `new`, in ledger order."""
    changes: list[Change] = []
    for run in new.runs:
        before = old.run(run.key) if old else None
        old_attempts = {a.number: a for a in before.attempts} if before else {}
        for attempt in run.attempts:
            previous = old_attempts.get(attempt.number)
            if previous is not None and previous.state == attempt.state:
                continue
            failed, labels = _failed_detail(attempt) if attempt.state != RunState.SUCCEEDED else (0, ())
            changes.append(Change(new.campaign, run.step, run.group, attempt.number, attempt.kind,
                                  previous.state if previous else None, attempt.state, failed, labels))
    return changes


def summarize(changes: Sequence[Change]) -> str:
    """One line for a commit subject: how many transitions, into which states, in which campaigns."""
    if not changes:
        return "Update campaign records"
    campaigns = sorted({c.campaign for c in changes})
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.new.value] = counts.get(c.new.value, 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    where = campaigns[0] if len(campaigns) == 1 else f"{len(campaigns)} campaigns"
    plural = "s" if len(changes) != 1 else ""
    return f"{where}: {len(changes)} transition{plural} ({states})"


def commit_message(changes: Sequence[Change], message: str | None = None,
                   new_campaigns: Iterable[str] = ()) -> str:
    """Subject (the given message, else a summary), then one body line per transition."""
    added = sorted(new_campaigns)
    subject = message or (f"New campaign {', '.join(added)}" if added and not changes else summarize(changes))
    body = [f"New campaign: {name}" for name in added] + [str(c) for c in changes]
    return subject + ("\n\n" + "\n".join(body) if body else "") + "\n"


def _attempt_rank(a: Attempt) -> tuple[int, str]:
    # Transitions are only ever appended, and last_checked only moves forward: the attempt that
    # has seen more (then more recently) is the later record of the same submission.
    return len(a.transitions), a.last_checked


def _merge_runs(ours: RunRecord, theirs: RunRecord) -> RunRecord:
    attempts = {a.number: a for a in theirs.attempts}
    for a in ours.attempts:
        other = attempts.get(a.number)
        if other is None or _attempt_rank(a) >= _attempt_rank(other):
            attempts[a.number] = a
    return RunRecord(ours.step, ours.group, ours.data_query or theirs.data_query,
                     tuple(attempts[n] for n in sorted(attempts)))


def merge_ledgers(ours: Ledger, theirs: Ledger) -> Ledger:
    """Both jobs' updates of one ledger: the union of runs and attempts; for the same attempt the
    one with more transitions, then the later last_checked, then ours. Nothing either side
    recorded is dropped."""
    if ours.campaign != theirs.campaign:
        raise ValueError(f"cannot merge ledgers of different campaigns: {ours.campaign} and {theirs.campaign}")
    theirs_by_key = {r.key: r for r in theirs.runs}
    ours_keys = {r.key for r in ours.runs}
    runs = [_merge_runs(r, theirs_by_key[r.key]) if r.key in theirs_by_key else r for r in ours.runs]
    runs += [r for r in theirs.runs if r.key not in ours_keys]
    frozen = dict(theirs.frozen_groups) | dict(ours.frozen_groups)
    return Ledger(ours.campaign, tuple(runs), tuple(sorted(frozen.items())))


def parse_ledger(text: str | None) -> Ledger | None:
    """A ledger from its YAML text; None for a missing file."""
    if text is None:
        return None
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "campaign" not in data:
        return None
    return from_dict(data)


# ---- the git adapter ---------------------------------------------------------------------------

class GitError(Exception):
    """A git command failed; carries its arguments and stderr."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Git:
    """Real git in one working tree, through subprocess. No prompts, no pager, C locale."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C",
               "GIT_EDITOR": "true", **self.env}
        proc = subprocess.run(["git", *args], cwd=self.cwd, env=env, input=stdin, text=True,
                              capture_output=True, check=False)
        if check and proc.returncode != 0:
            raise GitError(args, proc.returncode, proc.stderr)
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout

    def blobs(self, shas: Sequence[str]) -> dict[str, str]:
        """Contents of many blobs in one `git cat-file --batch` (missing ones left out)."""
        if not shas:
            return {}
        proc = subprocess.run(["git", "cat-file", "--batch"], cwd=self.cwd, input="\n".join(shas).encode() + b"\n",
                              capture_output=True, check=True, env={**os.environ, **self.env})
        out, pos, found = proc.stdout, 0, {}
        for sha in shas:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            found[sha] = out[pos:pos + size].decode("utf-8")
            pos += size + 1
        return found

    def show(self, rev_path: str) -> str | None:
        """Content of `rev:path` (or `:path` for the index, `:2:path` for a conflict stage); None if absent."""
        proc = self.run("show", rev_path, check=False)
        return proc.stdout if proc.returncode == 0 else None


# ---- the publish loop --------------------------------------------------------------------------

class PublishError(Exception):
    """Publishing failed and needs a person; the message says what to do."""


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
            new = parse_ledger(git.show(f":{path}"))
            if new is not None:
                old = parse_ledger(git.show(f"HEAD:{path}")) if has_head else None
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
            a, b = parse_ledger(ours), parse_ledger(upstream)
            if a is None or b is None:
                result = ours if a is not None else upstream
                if result is None:
                    raise PublishError(f"{path}: deleted on one side and unreadable on the other; "
                                       "resolve by hand")
                text = result
            else:
                text = dumps(merge_ledgers(a, b))
            merged.append(path)
        elif name == "STATUS.md":
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
