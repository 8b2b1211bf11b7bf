"""Run a middleware program in the warm server (server.py): this file, with its three constants filled in, stands on
PATH as `pipetask` or `butler`. Started with `python -IS` (no site packages: ~15 ms).

It passes argv, environment, working directory, umask and its standard streams to the server, forwards the signals
it receives to the program (to its process group: the program leads one, as a shell's job would), and ends as the
program ended — with its exit status, or killed by the same signal. Inside a Slurm job, without the server, or when
anything of that fails before the program starts, or in other namespaces than the server's (`unshare`: it would
see other files), it runs the real program (exec) instead.
"""

import array
import contextlib
import json
import os
import signal
import socket
import sys

SOCKET = "@SOCKET@"
REAL = "@REAL@"
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def cold() -> None:
    os.execv(REAL, [REAL, *sys.argv[1:]])


def streams() -> list[int]:
    """fds 0, 1 and 2, each opened on /dev/null if the caller closed it."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def main() -> None:
    if os.environ.get("SLURM_JOB_ID") or os.environ.get("CAMPAIGNOPS_TEST_COLD") == "1":
        cold()
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)  # held until the program's pid is known
    try:
        cwd = os.getcwd()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(SOCKET)
        umask = os.umask(0o022)
        os.umask(umask)
        namespaces = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("mnt", "pid", "user", "net", "ipc", "uts")}
        request = json.dumps({"argv": [REAL, *sys.argv[1:]], "env": dict(os.environ), "cwd": cwd,
                              "umask": umask, "shim": os.getpid(), "namespaces": namespaces}).encode()
        conn.sendmsg([len(request).to_bytes(4, "big") + request],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", streams()))])
        replies = conn.makefile("r", encoding="utf-8")
        started = json.loads(replies.readline())
        if "pid" not in started:
            raise ValueError(started.get("cold", "no program started"))
    except (OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
        cold()
        return
    pid = started["pid"]

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:  # not yet its own group leader (a few microseconds after fork)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    line = replies.readline()
    if not line:  # the server ended first (the test session's end, or it was killed): so does the program
        sys.stderr.write(f"{os.path.basename(sys.argv[0])}: the warm test server ({SOCKET}) ended while this program "
                         f"ran (pid {pid}); it is stopped with it. CAMPAIGNOPS_TEST_COLD=1 runs programs without it.\n")
        sys.exit(255)
    ended = json.loads(line)
    if "signal" in ended:
        killed_by = ended["signal"]
        if killed_by not in (signal.SIGKILL, signal.SIGSTOP):  # the two that cannot be caught, nor reset
            signal.signal(killed_by, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [killed_by])
        os.kill(os.getpid(), killed_by)
    sys.exit(ended.get("exit", 255))


main()
