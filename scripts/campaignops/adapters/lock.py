"""A per-campaign lock on the runner, so the submit and status jobs take turns on a campaign's ledger."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

_LOCKS: dict[str, int] = {}


def lock_campaign(workdir: Path, name: str, say: Callable[[str], None] = print) -> None:
    """Hold an exclusive lock on the campaign for the rest of this process.

    The submit and status jobs may run at once on the runner (they are in different concurrency
    groups); both can submit, so they take turns per campaign instead of racing on the ledger.
    """
    if name in _LOCKS:
        return
    lock_dir = workdir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"waiting for another campaign job that holds {name} ({lock_dir / (name + '.lock')})")
        fcntl.flock(fd, fcntl.LOCK_EX)
    _LOCKS[name] = fd
