"""Record: commit ledgers and status pages, push, and merge ledgers when two jobs raced (the git adapter).

Two ways to land the record: on the checked-out branch (`main`; commit, push, rebase on a race), or
on a *record branch* (`--branch records` while the checkout is `main`): the specs come from `main`,
the bot's files from the record branch (`pull_records` overlays them before a job runs) and each
publish adds one commit on top of the record branch. A push refused by branch protection is never
retried: it fails at once naming both fixes.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...domain.errors import LedgerError, PublishError
from ...ledger import store
from ...ledger.merge import Change, commit_message, diff_ledgers, merge_ledgers
from ...ledger.records import Ledger
from .. import pages, profile
from ..globs import matches, matches_any
from . import ledgers as ledger_files
from .ledgers import STAGED, campaign_of, read
from .ledgers import paths as ledger_paths
from .repo import Git

# What the bot writes, as globs from the repository root (`*` stays inside one folder, `**` crosses
# folders), from each writer's own declaration: the ledgers, the status pages (adapters/pages.py refuses a
# page it does not declare) and the profile record. THE one list of bot-written paths, for committing and
# for the record-branch overlay.
BOT_PATHS = (*ledger_files.FILES, *pages.FILES, *profile.FILES)
DEFAULT_PATHSPECS = tuple(f":(glob){p}" for p in BOT_PATHS)
# New campaign folders (from `campaign new`) are added separately, and only when untracked: a
# reviewed campaign.yaml is never changed behind a pull request's back.
NEW_CAMPAIGN = "campaigns/*/campaign.yaml"
NEW_CAMPAIGN_PATHSPEC = f":(glob){NEW_CAMPAIGN}"
# What a remote says when branch protection or a ruleset refuses a push (never a race: retrying is useless).
PROTECTION_REFUSAL = re.compile(
    r"GH006|GH013|protected branch|required signatures|verified signatures|refusing to allow"
    r"|repository rule violations", re.IGNORECASE)
# A record commit whose push failed is kept under this ref until its ledgers land. actions/checkout deletes
# every refs/heads/* and refs/remotes/origin/* of a reused checkout and cleans the working tree
# (actions/checkout, src/git-directory-helper.ts, prepareExistingDirectory), so a commit left on the local
# main is lost to the next job; a ref outside those stays, and every later publish carries its ledgers.
UNPUSHED = "refs/campaignops/unpushed/"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


@dataclass(frozen=True)
class Published:
    """What `publish` did: the commit pushed (None: nothing changed), its transitions, tries used."""

    commit: str | None
    changes: tuple[Change, ...] = ()
    tries: int = 0
    merged: tuple[str, ...] = ()  # ledger files merged after a raced push


def is_bot_path(path: str) -> bool:
    return matches_any(path, BOT_PATHS)


def protection_refusal(output: str) -> bool:
    """True when a failed push was refused by branch protection / a ruleset, not by a race."""
    return PROTECTION_REFUSAL.search(output) is not None


def push_auth_env(token: str | None, server_url: str = "https://github.com",
                  env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment making git send `token` to `server_url` (as actions/checkout's extraheader does),
    through GIT_CONFIG_* variables: never written to .git/config, never on a command line."""
    if not token:
        return {}
    env = dict(os.environ) if env is None else dict(env)
    n = int(env.get("GIT_CONFIG_COUNT") or 0)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": str(n + 1),
            f"GIT_CONFIG_KEY_{n}": f"http.{server_url.rstrip('/')}/.extraheader",
            f"GIT_CONFIG_VALUE_{n}": f"AUTHORIZATION: basic {basic}"}


def missing_remote(git: Git, remote: str, output: str) -> bool:
    """True when a failed push named a remote this checkout does not have (no `git remote add` for it, and no
    repository at that path): nothing a retry can change, unlike a race or a network error."""
    if "does not appear to be a git repository" not in output:
        return False
    return git.run("remote", "get-url", remote, check=False).returncode != 0


def _no_remote(remote: str, kept: str) -> PublishError:
    return PublishError(
        f"this checkout has no remote {remote!r} to push to (`git remote -v` lists the ones it has): add it with "
        f"`git remote add {remote} <url>` (on a runner, the workflow's checkout sets it). {kept}")


def _refused(remote: str, branch: str, output: str, kept: str) -> PublishError:
    first = next((line.strip() for line in output.splitlines() if protection_refusal(line)), output.strip())
    return PublishError(
        f"the push to {remote} {branch} was refused by branch protection ({first}); the record did not land "
        f"and pushing again cannot help. {kept} Fix it one of two ways: (1) push with a GitHub App installation "
        f"token whose app is on the bypass list of {branch}'s ruleset (README: \"Ledgers on a protected "
        f"main\": repository variable APP_CLIENT_ID and secret APP_PRIVATE_KEY), or (2) publish to an unprotected "
        f"record "
        f"branch: `campaign publish --branch records`, and set the repository variable "
        f"CAMPAIGNOPS_RECORD_BRANCH=records so the jobs read the ledgers from it.")


def unpushed(git: Git) -> list[str]:
    """The record commits whose push failed and whose ledgers have not landed since, oldest first."""
    out = git.out("for-each-ref", "--sort=committerdate", "--format=%(objectname)", UNPUSHED)
    return [line for line in out.split() if line]


def _keep_unpushed(git: Git, commit: str) -> None:
    git.run("update-ref", f"{UNPUSHED}{commit}", commit)


def _landed(git: Git, commits: Iterable[str]) -> None:
    for commit in commits:
        git.run("update-ref", "-d", f"{UNPUSHED}{commit}", check=False)


def describe_unpushed(commits: Sequence[str]) -> str:
    return ", ".join(f"{c[:12]} ({UNPUSHED}{c})" for c in commits)


def _take_unpushed(git: Git) -> list[str]:
    """Merge the ledgers of every unpushed record commit into the working tree, so this publish carries them
    (wherever the commit sits: the local main a refused push left, or nowhere but its ref after a new
    checkout). Returns the commits taken whole; one with a ledger that cannot be read stays unpushed."""
    taken = []
    for commit in unpushed(git):
        whole = True
        for campaign_dir in sorted({c for c in (campaign_of(p) for p in _tree_files(git, commit)) if c is not None}):
            theirs = read(git, commit, campaign_dir)
            if theirs is None:
                whole = False
                continue
            ours = _working_ledger(git, campaign_dir)
            both = merge_ledgers(theirs, ours) if ours is not None else theirs
            if both != ours:
                _write_ledger(git, campaign_dir, both)
        if whole:
            taken.append(commit)
    return taken


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
    """Transitions of the staged ledgers against HEAD, and the campaigns added. Only the ledger files
    that changed are read (a cycle of a 10,000-run campaign touches a few of its 100 files)."""
    has_head = git.run("rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0
    changes: list[Change] = []
    added: list[str] = []
    ledgers: dict[str, set[str]] = {}
    for path in paths:
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "campaigns" and parts[2] == "campaign.yaml" \
                and (not has_head or git.show(f"HEAD:{path}") is None):
            added.append(parts[1])
        campaign_dir = campaign_of(path)
        if campaign_dir is not None:
            ledgers.setdefault(campaign_dir, set()).add(parts[-1] if len(parts) == 4 else "")
    for campaign_dir, names in sorted(ledgers.items()):
        # "" is the single file: a ledger moved into the folder (or still in one file) is compared whole
        only = None if "" in names else names - {store.INDEX_FILE}
        new = read(git, STAGED, campaign_dir, only)
        if new is not None:
            old = read(git, "HEAD", campaign_dir, only) if has_head else None
            changes += diff_ledgers(old, new)
    return changes, added


def _merge_ledger(git: Git, campaign_dir: str) -> None:
    """Both sides' ledgers of a campaign, merged and written in the working tree, then staged."""
    # During a rebase HEAD is the upstream side, REBASE_HEAD the commit being replayed (ours).
    ours, upstream = read(git, "REBASE_HEAD", campaign_dir), read(git, "HEAD", campaign_dir)
    if ours is None and upstream is None:
        raise PublishError(f"{campaign_dir}: the ledger is unreadable on both sides of a raced push; "
                           "resolve it by hand")
    merged = merge_ledgers(ours, upstream) if ours and upstream else (ours or upstream)
    assert merged is not None
    _write_ledger(git, campaign_dir, merged)  # conflicted or not, every file is written again
    single, folder = ledger_paths(campaign_dir)
    git.run("add", "-A", "--", folder)
    git.run("rm", "-q", "--cached", "--ignore-unmatch", "--", single)


def _resolve_conflicts(git: Git) -> list[str]:
    """Resolve a stopped rebase: merge conflicting ledgers, keep our status pages; anything else is
    a person's job. Returns the ledger files merged."""
    conflicted = [p for p in git.out("diff", "--name-only", "--diff-filter=U", "-z").split("\0") if p]
    merged: list[str] = []
    for campaign_dir in sorted({c for c in map(campaign_of, conflicted) if c is not None}):
        _merge_ledger(git, campaign_dir)
    for path in conflicted:
        if campaign_of(path) is not None:
            merged.append(path)
            continue
        # During a rebase stage 2 is the upstream side, stage 3 the commit being replayed (ours).
        upstream, ours = git.show(f":2:{path}"), git.show(f":3:{path}")
        if pages.is_page(path):
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
    who = _identity(git)  # the rebase commits too: a runner without a git identity still lands a raced push
    proc = git.run(*who, "rebase", "--autostash", upstream, check=False)
    for _ in range(1000):  # one stop per replayed commit at most
        if proc.returncode == 0:
            return merged
        if not git.out("diff", "--name-only", "--diff-filter=U"):
            if git.run("diff", "--cached", "--quiet", check=False).returncode == 0:
                # the replayed commit became empty (upstream already had the same content)
                proc = git.run(*who, "rebase", "--skip", check=False)
                continue
            git.run("rebase", "--abort", check=False)
            raise PublishError(f"rebase onto {upstream} failed: {proc.stderr.strip()}")
        try:
            merged += _resolve_conflicts(git)
        except PublishError:
            git.run("rebase", "--abort", check=False)
            raise
        proc = git.run(*who, "-c", "core.editor=true", "rebase", "--continue", check=False)
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
    leaving the commit in place so a re-run pushes it, and kept as an unpushed record commit (`unpushed`)
    that every later publish carries until it lands."""
    taken = _take_unpushed(git)
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
            _landed(git, taken)
            return Published(git.out("rev-parse", "HEAD").strip(), tuple(changes), attempt, tuple(merged))
        last_error = (push.stderr or push.stdout).strip()
        if missing_remote(git, remote, f"{push.stderr}\n{push.stdout}"):
            head = git.out("rev-parse", "HEAD").strip()
            _keep_unpushed(git, head)
            raise _no_remote(remote, f"The commit {head[:7]} is kept in this checkout and as {UNPUSHED}{head[:7]}...: "
                                     "run `campaign publish` again once the remote is there.")
        if protection_refusal(f"{push.stderr}\n{push.stdout}"):
            _keep_unpushed(git, git.out("rev-parse", "HEAD").strip())
            raise _refused(remote, branch, f"{push.stderr}\n{push.stdout}",
                           f"Record commit(s) not pushed: {describe_unpushed(unpushed(git))}; every later "
                           "`campaign publish` carries them and fails until they land.")
        if attempt == max_tries:
            break
        sleep(backoff * 2 ** (attempt - 1))
        fetch = git.run("fetch", "--quiet", remote, branch, check=False)
        if fetch.returncode != 0:
            last_error = fetch.stderr.strip()
            continue  # the remote may be briefly unreachable: try again after the next wait
        merged += rebase_onto(git, "FETCH_HEAD")
    head = git.out("rev-parse", "--short", "HEAD").strip()
    _keep_unpushed(git, git.out("rev-parse", "HEAD").strip())
    last_error = " ".join(line.strip() for line in last_error.splitlines() if line.strip())
    raise PublishError(
        f"could not push to {remote} {branch} after {max_tries} tries (last error: {last_error}). "
        f"The commit {head} is kept in this checkout and as {UNPUSHED}{head}...: run `campaign publish` again to "
        "push it, "
        f"or `git pull --rebase {remote} {branch} && git push {remote} HEAD:{branch}` by hand.")


# ---- a record branch: specs from the checkout (main), the bot's files from and to `branch` -------------

def source_branch(git: Git, remote: str = "origin") -> str:
    """The branch the checkout holds (the specs' branch: `main`, or `master` in a repository made so); when
    HEAD is detached, the remote's default branch as the clone recorded it, else `main`."""
    name = git.run("symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    if name:
        return name
    head = git.run("symbolic-ref", "-q", "--short", f"refs/remotes/{remote}/HEAD", check=False).stdout.strip()
    return head.partition("/")[2] or "main"


def is_record_branch(git: Git, branch: str) -> bool:
    """Publishing to `branch` means a record branch when it is not the branch checked out."""
    return branch != source_branch(git)


def _fetch_tip(git: Git, remote: str, branch: str) -> str | None:
    """Fetch `remote`/`branch`; its commit, or None when the branch does not exist (yet)."""
    ref = f"refs/remotes/{remote}/{branch}"
    proc = git.run("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{ref}", check=False)
    if proc.returncode != 0:
        if "couldn't find remote ref" in proc.stderr.lower():
            return None
        if missing_remote(git, remote, proc.stderr):
            raise _no_remote(remote, "The ledgers are kept in this working tree.")
        raise PublishError(f"could not fetch the record branch {branch} from {remote}: {proc.stderr.strip()}; "
                           "check the remote and the token (GITHUB_TOKEN) of this step")
    return git.out("rev-parse", ref).strip()


def _tree_files(git: Git, rev: str) -> list[str]:
    return [p for p in git.out("ls-tree", "-r", "-z", "--name-only", rev).split("\0") if p]


def pull_records(git: Git, branch: str, remote: str = "origin") -> list[str] | None:
    """Put the bot's files of the record branch into the working tree (ledgers and status pages, and
    campaign folders the checkout lacks: those `campaign new` made); commit nothing. Returns the paths
    written, or None when the record branch does not exist yet (the checkout's ledgers are the start)."""
    tip = _fetch_tip(git, remote, branch)
    if tip is None:
        return None
    files = _tree_files(git, tip)
    wanted = [p for p in files if is_bot_path(p) or (matches(p, NEW_CAMPAIGN) and not (git.cwd / p).exists())]
    blobs = dict(zip(wanted, git.out("rev-parse", *[f"{tip}:{p}" for p in wanted]).split(), strict=True)) \
        if wanted else {}
    contents = git.blobs(sorted(set(blobs.values())))
    ledgers = sorted({c for c in (campaign_of(p) for p in wanted) if c is not None})
    for path, sha in blobs.items():
        if campaign_of(path) is not None:
            continue  # ledgers: as a whole, below
        target = git.cwd / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(contents[sha], encoding="utf-8")
    for campaign_dir in ledgers:
        there = read(git, tip, campaign_dir)
        if there is None:
            continue  # unreadable on the branch: the checkout's own stays, and publish says what it finds
        # Runs the checkout's ledger holds and the branch's does not (recorded on main before the record
        # branch was set up, say) are kept: the union, as after a race.
        here = _working_ledger(git, campaign_dir)
        _write_ledger(git, campaign_dir, merge_ledgers(there, here) if here is not None else there)
    return wanted


def _working_ledger(git: Git, campaign_dir: str) -> Ledger | None:
    """The campaign's ledger in the working tree; None when there is none or it cannot be read."""
    name = campaign_dir.rsplit("/", 1)[1]
    single, folder = ledger_paths(campaign_dir)
    if not ((git.cwd / single).exists() or (git.cwd / folder).is_dir()):
        return None
    try:
        return store.load(git.cwd / campaign_dir, name)
    except LedgerError:
        return None


def _write_ledger(git: Git, campaign_dir: str, ledger: Ledger) -> None:
    """`ledger` as the working tree's ledger of the campaign, every file written again."""
    single, folder = ledger_paths(campaign_dir)
    for old in (git.cwd / folder).glob("*.yaml"):
        old.unlink()
    (git.cwd / single).unlink(missing_ok=True)
    store.save(git.cwd / campaign_dir, ledger)


def _merge_with_tip(git: Git, tip: str, paths: Iterable[str]) -> list[str]:
    """Merge each campaign's ledger in the working tree with the record branch's version (so a job that
    did not overlay, or raced another, drops nothing); returns the campaign folders merged."""
    merged = []
    for campaign_dir in sorted({c for c in (campaign_of(p) for p in paths) if c is not None}):
        ours = _working_ledger(git, campaign_dir)
        theirs = read(git, tip, campaign_dir)
        if ours is None or theirs is None or ours == theirs:
            continue
        both = merge_ledgers(ours, theirs)
        if both != ours:
            _write_ledger(git, campaign_dir, both)
            merged.append(campaign_dir)
    return merged


def _record_tree(git: Git, base: str, extra: Sequence[str]) -> tuple[str, list[str]]:
    """The tree of `base` (the checkout's commit) with the bot's files of the working tree and new
    campaign folders; built in a throw-away index, so the checkout's index is never touched."""
    with tempfile.TemporaryDirectory(prefix="campaignops-index-") as tmp:
        index = Git(git.cwd, {**git.env, "GIT_INDEX_FILE": str(Path(tmp) / "index")})
        index.run("read-tree", base)
        staged = stage(index, extra)
        return index.out("write-tree").strip(), staged


def publish_records(git: Git, message: str | None = None, paths: Sequence[str] = (), remote: str = "origin",
                    branch: str = "records", max_tries: int = 5, backoff: float = 2.0,
                    sleep: Callable[[float], None] = time.sleep) -> Published:
    """Commit the bot's files on top of the record branch `branch` and push it (no force): the tree is
    the checkout's (the specs of main) with the working tree's ledgers, each merged with the branch's
    own version. A raced push fetches, merges again and retries; a protection refusal fails at once.

    The ledgers of unpushed record commits (a push to a protected main refused) are merged in first; when
    the record branch does not exist yet and the checkout's commit itself is not on the remote (it holds
    the refused record), that commit is what the new branch gets."""
    base = git.out("rev-parse", "HEAD").strip()
    taken = _take_unpushed(git)
    base_unpushed = bool(taken) or _ahead(git, remote, source_branch(git))
    merged: list[str] = []
    last_error = ""
    for attempt in range(1, max_tries + 1):
        tip = _fetch_tip(git, remote, branch)
        if tip is not None:
            merged += [p for p in _merge_with_tip(git, tip, _tree_files(git, tip)) if p not in merged]
        parent = tip or base
        tree, staged = _record_tree(git, base, paths)
        unchanged = tree == git.out("rev-parse", f"{parent}^{{tree}}").strip()
        if unchanged and not (tip is None and base_unpushed):
            _landed(git, taken)  # the record branch already holds them
            return Published(None, tries=attempt - 1, merged=tuple(merged))
        changes: list[Change] = []
        added: list[str] = []
        for campaign_dir in sorted({c for c in (campaign_of(p) for p in staged) if c is not None}):
            new = read(git, tree, campaign_dir)
            if new is not None:
                changes += diff_ledgers(read(git, parent, campaign_dir), new)
        for path in staged:
            parts = path.split("/")
            if len(parts) == 3 and parts[2] == "campaign.yaml" and git.show(f"{parent}:{path}") is None:
                added.append(parts[1])
        commit = base if unchanged else git.run(
            *_identity(git), "commit-tree", tree, "-p", parent, "-F", "-",
            stdin=commit_message(changes, message, added)).stdout.strip()
        push = git.run("push", "--porcelain", remote, f"{commit}:refs/heads/{branch}", check=False)
        if push.returncode == 0:
            git.run("update-ref", f"refs/remotes/{remote}/{branch}", commit, check=False)
            _landed(git, taken)
            return Published(commit, tuple(changes), attempt, tuple(merged))
        output = f"{push.stderr}\n{push.stdout}"
        if missing_remote(git, remote, output):
            _keep_unpushed(git, commit)
            raise _no_remote(remote, "The ledgers are kept in this working tree.")
        if protection_refusal(output):
            _keep_unpushed(git, commit)
            raise _refused(remote, branch, output, f"The ledgers are kept in this working tree and as record "
                                                   f"commit(s) {describe_unpushed(unpushed(git))}.")
        last_error = " ".join(line.strip() for line in output.splitlines() if line.strip())
        if attempt < max_tries:
            sleep(backoff * 2 ** (attempt - 1))
    _keep_unpushed(git, commit)
    raise PublishError(
        f"could not push to the record branch {remote} {branch} after {max_tries} tries (last error: "
        f"{last_error}). The ledgers are kept in this working tree: run `campaign publish --branch {branch}` "
        "again to push them.")
