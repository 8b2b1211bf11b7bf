"""The warm server for the middleware's programs (server.py says why and how): started once per test session (per
xdist worker) by tests/conftest.py, with `pipetask` and `butler` shims put first on PATH.

CAMPAIGNOPS_TEST_COLD=1 runs the suite without it: every program a cold process of its own, as in production."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = ("pipetask", "butler", "bps", "campaign")
# What the programs import whatever they do: imported once by the server, before serving.
PRELOAD = ("lsst.daf.butler", "lsst.daf.butler.cli.butler", "lsst.daf.butler.registry.sql_registry", "lsst.pipe.base",
           "lsst.pipe.base.quantum_graph", "lsst.ctrl.mpexec.cli.pipetask", "lsst.ctrl.bps.cli.bps",
           "lsst.ctrl.bps.drivers", "lsst.ctrl.bps.parsl")


session_shims: Path | None = None  # the folder of the shims of this test session's server (tests/conftest.py)


def campaign() -> list[str]:
    """How a test starts `campaign` as a process of its own: the warm shim while the server runs, else
    `python -m campaignops.cli` with this interpreter."""
    warm = shim("campaign")
    return [str(warm)] if warm is not None else [sys.executable, "-m", "campaignops.cli"]


def shim(name: str) -> Path | None:
    """The session's warm shim for program `name`, None when it has none (cold)."""
    path = session_shims / name if session_shims is not None else None
    return path if path is not None and path.exists() else None


def wanted() -> bool:
    return os.environ.get("CAMPAIGNOPS_TEST_COLD") != "1"


@contextlib.contextmanager
def started(venv_bin: Path, programs: Mapping[str, Path] | None = None, preload: Sequence[str] = PRELOAD,
            wait: float = 0.0) -> Iterator[Path | None]:
    """Start the server with `venv_bin`'s interpreter and yield a folder holding a shim for each program (default:
    PROGRAMS of `venv_bin`); None when one is not installed. The server imports for a few seconds meanwhile: until it
    listens (at most `wait` seconds are waited for that), and if it never does, the shims run their programs cold.
    The server stops on exit."""
    programs = programs or {name: venv_bin / name for name in PROGRAMS}
    if not all(path.exists() for path in programs.values()):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="campaignops-warm-"))
    sock = folder / "server.sock"
    shims = folder / "bin"
    shims.mkdir()
    template = (HERE / "shim.py").read_text(encoding="utf-8")
    for name, real in programs.items():
        text = template.replace("@SOCKET@", str(sock)).replace("@REAL@", str(real))
        path = shims / name
        path.write_text(f"#!{venv_bin / 'python'} -IS\n{text}", encoding="utf-8")
        path.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with open(folder / "server.log", "w", encoding="utf-8") as log:
        server = subprocess.Popen([str(venv_bin / "python"), str(HERE / "server.py"), str(sock), *preload],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + wait
        while not sock.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        yield shims
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
