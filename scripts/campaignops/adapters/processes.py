"""Processes on this machine: is a pid alive, which pid a launch recorded."""

from __future__ import annotations

import os
from pathlib import Path

PID_FILE = "bps.pid"


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, i.e. an ended child not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(launch_dir: Path) -> int:
    try:
        return int((launch_dir / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
