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


def processes_in(directory: Path) -> list[int]:
    """Live processes whose working directory is `directory`, even after it was deleted (Linux /proc
    shows a deleted cwd as "<path> (deleted)"): a bps whose launch directory is gone is still found."""
    wanted = {str(directory), f"{directory} (deleted)"}
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd in wanted and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)
