"""The per-campaign lock, so every job that writes a campaign's record (apply, reconcile, status, notify,
publish, the operator controls) takes turns, whatever work directory it was given.

Two locks, always taken in this order: the checkout's (`<root>/.campaignops/locks/<name>.lock`: every job
on this control repository, whatever its --workdir) and the work directory's (`<workdir>/.locks/<name>.lock`:
every job launching into those directories, whatever its checkout). `.campaignops/` and the work directory
ignore themselves (a `.gitignore` of `*` inside), so `git status` and `campaign publish` never see them (the default
work directory, `<root>/.work`, lies in the checkout). Which work directory owns
a campaign's launches is recorded in the ledger (`engine/ownership.py`); the lock makes that record
read-then-written by one job at a time.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CONTROL_DIR = ".campaignops"
_LOCKS: dict[str, int] = {}


def _ignoring_itself(folder: Path, what: str) -> Path:
    """`folder`, made if need be, with a `.gitignore` of `*` inside: git never shows what is in it."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(f"# campaignops: {what}, never committed\n*\n", encoding="utf-8")
    return folder


def control_dir(root: Path) -> Path:
    """`<root>/.campaignops/`: this checkout's locks and pacing state, ignored by git (it ignores itself)."""
    return _ignoring_itself(root / CONTROL_DIR, "locks and pacing state of this checkout")


def this_runner(workdir: Path) -> str:
    """This job's runner as the ledger records the owner of a campaign's launches: `host:workdir`."""
    return f"{socket.gethostname()}:{workdir.resolve()}"


def _hold(path: Path, say: Callable[[str], None], what: str) -> None:
    key = str(path.resolve())
    if key in _LOCKS:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"waiting for another campaign job that holds {what} ({path})")
        fcntl.flock(fd, fcntl.LOCK_EX)
    _LOCKS[key] = fd


def lock_campaign(workdir: Path | None, name: str, say: Callable[[str], None] = print, *,
                  root: Path | None = None) -> None:
    """Hold the campaign's locks (the checkout's when `root` is given, then the work directory's when
    `workdir` is) for the rest of this process; waits for a job that holds them."""
    if root is not None:
        _hold(control_dir(root) / "locks" / f"{name}.lock", say, name)
    if workdir is not None:
        # The work directory ignores itself too: off a runner it defaults to <root>/.work, inside the checkout,
        # where its locks and launch directories would otherwise show in `git status`.
        _ignoring_itself(workdir, "launch directories and locks of this work directory")
        _hold(workdir / ".locks" / f"{name}.lock", say, name)


def lock_campaigns(root: Path, names: Iterable[str], say: Callable[[str], None] = print,
                   workdir: Path | None = None) -> None:
    """The locks of several campaigns, in name order (two jobs taking several never wait on each other
    in a circle)."""
    for name in sorted(set(names)):
        lock_campaign(workdir, name, say, root=root)


def release_all() -> None:
    """Let go of every campaign lock this process holds (a long-lived process done with its campaigns: the
    demo, a test that then runs the `campaign` command)."""
    for fd in _LOCKS.values():
        os.close(fd)
    _LOCKS.clear()


@contextmanager
def paced(pace_file: Path, interval: float, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.time) -> Iterator[None]:
    """One write at a time across the processes sharing `pace_file`, each at least `interval` s after the
    previous one ended: the file holds the wall-clock time the last write ended, read and written under
    its own lock, which is held for the write itself."""
    pace_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(pace_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            last = float(os.pread(fd, 64, 0).decode("ascii", "replace").strip() or 0)
        except ValueError:
            last = 0.0
        gap = last + interval - clock()
        if 0 < gap <= interval:  # (a time in the future beyond one interval: a clock step; not waited on)
            sleep(gap)
        try:
            yield
        finally:
            stamp = f"{clock():.6f}\n".encode("ascii")
            os.ftruncate(fd, 0)
            os.pwrite(fd, stamp, 0)
    finally:
        os.close(fd)  # (closing releases the lock)


__all__ = ["CONTROL_DIR", "control_dir", "lock_campaign", "lock_campaigns", "paced", "release_all", "this_runner"]
