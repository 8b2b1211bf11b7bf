"""Processes on this machine: which process a launch recorded, and whether that very process still runs.

A pid alone is not an identity: after the process ends the kernel hands the number to the next process
that starts. A launch therefore records the pid with the process's start time — field 22 of
/proc/<pid>/stat (`starttime`, clock ticks after boot; proc(5)) — the boot time (`btime` of /proc/stat)
and its command line. Alive means the same pid AND the same start time (and boot); only such a process
is signalled. A record written before start times were kept (just a pid) is judged by its pid alone,
as it was then.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PID_FILE = "bps.pid"


@dataclass(frozen=True)
class ProcessId:
    """A process as a launch recorded it; `started`/`boot` None: a record from before they were kept."""

    pid: int
    started: int | None = None  # clock ticks after boot when it started: /proc/<pid>/stat field 22
    boot: int | None = None  # the boot it started in: btime of /proc/stat (seconds since the epoch)
    command: str = ""  # its command line when recorded (for the operator; not compared: exec changes it)

    def text(self) -> str:
        """The pid file's text: `pid starttime btime` on the first line, the command line on the second."""
        head = f"{self.pid}" if self.started is None else f"{self.pid} {self.started} {self.boot}"
        return f"{head}\n{self.command}\n"

    @classmethod
    def parse(cls, text: str) -> ProcessId | None:
        head, _, rest = text.partition("\n")
        fields = head.split()
        try:
            pid = int(fields[0])
            started, boot = (int(fields[1]), int(fields[2])) if len(fields) >= 3 else (None, None)
        except (ValueError, IndexError):
            return None
        return cls(pid, started, boot, rest.strip("\n"))


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
    [0] is field 3 (state), so field n is [n - 3]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _boot_time() -> int | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def identify(pid: int) -> ProcessId | None:
    """The running process `pid` with its start time, boot and command line; None when none runs."""
    if pid <= 0:
        return None
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20 or fields[0] == "Z":
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ")
    except OSError:
        command = b""
    return ProcessId(pid, int(fields[22 - 3]), _boot_time(), command.decode("utf-8", "replace"))


def pid_alive(pid: int) -> bool:
    """Whether some process `pid` runs (a zombie, i.e. an ended child not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def running(process: ProcessId | None) -> bool:
    """Whether the recorded process itself still runs: same pid and, when recorded, same start time and
    boot (a pid the kernel gave to another process since is not it)."""
    if process is None or not pid_alive(process.pid):
        return False
    if process.started is None:
        return True  # recorded before start times were kept: the pid is all there is to go by
    now = identify(process.pid)
    return now is not None and now.started == process.started and (
        process.boot is None or now.boot is None or now.boot == process.boot)


def signal_if_running(process: ProcessId, sig: int, group: bool = False) -> bool:
    """Send `sig` to the recorded process (its process group with `group`) only if it is still that
    process; False, and nothing sent, otherwise."""
    if not running(process):
        return False
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            os.kill(process.pid, sig)
    except ProcessLookupError:
        return False
    return True


def record(pid_file: Path, pid: int) -> ProcessId | None:
    """Record the identity of the running process `pid` in `pid_file` (atomically); None, and the file
    left as it is, when `pid` no longer runs."""
    found = identify(pid)
    if found is None:
        return None
    tmp = pid_file.with_name(pid_file.name + ".id")
    tmp.write_text(found.text(), encoding="utf-8")
    os.replace(tmp, pid_file)
    return found


def read_process(pid_file: Path) -> ProcessId | None:
    try:
        return ProcessId.parse(pid_file.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def read_pid(launch_dir: Path) -> int:
    process = read_process(launch_dir / PID_FILE)
    return process.pid if process is not None else 0


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


__all__ = ["PID_FILE", "ProcessId", "identify", "pid_alive", "processes_in", "read_pid", "read_process", "record",
           "running", "signal_if_running"]
