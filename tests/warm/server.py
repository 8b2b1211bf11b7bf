"""A warm interpreter for the middleware's command-line programs in the test suite: `pipetask` and `butler` start
here as forked copies of a process that has already imported the middleware.

Why: the suite's CPU went mostly to starting Python processes that import the LSST middleware — 312 per run, 3 to 6
CPU-seconds each, ~2.5 of which is `import lsst.daf.butler` / `lsst.ctrl.mpexec` (process accounting over a whole
`make test`, December 2026). bps starts a `pipetask` per job and per step (qgraph, pre-exec-init-qbb, run-qbb) and a
`butler aggregate-graph`; here each of those is a `fork()` of this server instead.

What the program sees is what it would see started from a shell: the program's own script run as `__main__`
(runpy), the caller's argv, environment (os.environ replaced whole), working directory, umask, standard input,
output and error (the caller's file descriptors, passed over the socket), PYTHONPATH entries placed on sys.path
where Python would put them, its own process group and session; it ends through Python's normal exit (threads
joined, atexit handlers run, buffers flushed) and its exit status or killing signal is the caller's.

The caller is a small shim (`shim.py`, written per session onto PATH ahead of the venv) that connects, passes all
that, forwards the signals it receives to the program and dies of the same signal; if the shim itself is killed
(SIGKILL of its process group: `campaign cancel`, a test killing a run), the program kills itself too. Inside a
Slurm job (SLURM_JOB_ID set) or without this server, the shim runs the real program instead (exec), so Slurm's
cgroups and accounting see the real work.

Nothing of the campaignops package is imported here: bps jobs import it from the run's pinned copy (PYTHONPATH).

    python tests/warm/server.py SOCKET_PATH [MODULE ...]     (the modules to import before serving)
"""

from __future__ import annotations

import array
import contextlib
import gc
import importlib
import json
import os
import runpy
import select
import selectors
import signal
import socket
import sys
import threading
from typing import Any

# The namespaces a program sees the world through (`unshare -rm` gives a runner only its own site's files): a caller
# in other ones than the server's is told to run its program cold.
NAMESPACES = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("mnt", "pid", "user", "net", "ipc", "uts")}
# What makes an interpreter start differently (warnings filters, bytecode writing, hash seed, a sitecustomize on
# PYTHONPATH ...): a program asked for with other such settings than the server started with runs cold.
STARTUP = {k: v for k, v in os.environ.items() if k.startswith("PYTHON") and k != "PYTHONPATH"}
CUSTOMIZE = ("sitecustomize.py", "usercustomize.py", "sitecustomize", "usercustomize")
HEADER = 4  # bytes of the request's length, big-endian, then the request as JSON
FDS = 3  # standard input, output and error
RECEIVE_TIMEOUT = 10.0  # seconds a connected shim has to send its request (it sends at once)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """One request and its three file descriptors; None when the shim went away or stalled mid-way (the server
    serves one request at a time: a shim that connects and sends nothing must not hold the others up)."""
    fds = array.array("i")
    data = b""
    conn.settimeout(RECEIVE_TIMEOUT)
    try:
        while len(data) < HEADER or len(data) < HEADER + int.from_bytes(data[:HEADER], "big"):
            msg, ancdata, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(FDS * fds.itemsize))
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            if not msg:
                raise ConnectionResetError("the shim went away")
            data += msg
        request = json.loads(data[HEADER:])
        if len(fds) != FDS or not isinstance(request, dict):
            raise ValueError("not a request")
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        return None
    conn.settimeout(None)
    return request, list(fds)


def _cold_because(request: dict[str, Any]) -> str:
    """Why this program must start cold rather than as a fork of this server; "" when it need not."""
    if request.get("namespaces") != NAMESPACES:
        return "the caller runs in other namespaces than this server (it would see other files)"
    env = request.get("env", {})
    if {k: v for k, v in env.items() if k.startswith("PYTHON") and k != "PYTHONPATH"} != STARTUP:
        return "the interpreter would start with other PYTHON* settings than this server's"
    for entry in env.get("PYTHONPATH", "").split(os.pathsep):
        if entry and any(os.path.exists(os.path.join(entry, name)) for name in CUSTOMIZE):
            return f"{entry} holds a sitecustomize or usercustomize module, which runs at the interpreter's start"
    return ""


def _reply(conn: socket.socket, message: dict[str, int | str]) -> None:
    with contextlib.suppress(OSError):  # the shim is gone: nobody to tell
        conn.sendall(json.dumps(message).encode() + b"\n")


def serve(listener: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Accept requests and fork a program for each; report each program's end to its shim. Returns only in a
    forked child, with the request it must run."""
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    while True:
        for key, _events in sel.select():
            if key.data is None:
                conn, _ = listener.accept()
                received = _receive(conn)
                if received is None:
                    conn.close()
                    continue
                request, fds = received
                why = _cold_because(request)
                if why:
                    for fd in fds:
                        os.close(fd)
                    _reply(conn, {"cold": why})
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    # the program: nothing of the server stays open in it
                    for other in list(sel.get_map().values()):
                        if other.data is not None:
                            other.data[1].close()
                            os.close(other.fd)
                    sel.close()
                    listener.close()
                    conn.close()
                    return request, fds
                for fd in fds:
                    os.close(fd)
                _reply(conn, {"pid": pid})
                sel.register(os.pidfd_open(pid), selectors.EVENT_READ, (pid, conn))
            else:
                pid, conn = key.data
                sel.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                if os.WIFSIGNALED(status):
                    _reply(conn, {"signal": os.WTERMSIG(status)})
                else:
                    _reply(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()


def _die_with(shim: int) -> None:
    """Kill this program and its process group when its shim ends first: the shim was killed (SIGKILL of its
    process group, say), so is what it started, as if they had been one process."""
    try:
        pidfd = os.pidfd_open(shim)
    except ProcessLookupError:
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])
    os.killpg(os.getpid(), signal.SIGKILL)


def become(request: dict[str, Any], fds: list[int], base_path: list[str]) -> None:
    """Turn this forked child into the requested program's process (then run it as `__main__`)."""
    os.setsid()
    for target, fd in enumerate(fds[:FDS]):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    script = request["argv"][0]
    extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [os.path.dirname(script), *extra, *base_path]
    sys.argv[:] = request["argv"]
    threading.Thread(target=_die_with, args=(request["shim"],), name="warm-shim-watch", daemon=True).start()


def main() -> None:
    socket_path = sys.argv[1]
    base_path = sys.path[1:]  # without this script's folder
    for name in sys.argv[2:]:
        importlib.import_module(name)
    if "campaignops" in sys.modules:  # the programs import it from where their PYTHONPATH says (a run's pinned copy)
        sys.exit("warm server: the preloaded modules imported campaignops; serving nothing")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{socket_path}.{os.getpid()}"
    listener.bind(staging)
    listener.listen(128)
    os.rename(staging, socket_path)  # the path appears only once connections are accepted
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()
    gc.freeze()  # what is imported now is shared with every program, not copied by the collector's writes
    server = os.getpid()
    try:
        request, fds = serve(listener)
    finally:
        if os.getpid() == server:
            listener.close()
            if os.path.exists(socket_path):
                os.unlink(socket_path)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    become(request, fds, base_path)
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
