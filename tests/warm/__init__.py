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
PROGRAMS = ("pipetask", "butler", "bps")
# What the programs import whatever they do: imported once by the server, before serving.
PRELOAD = ("lsst.daf.butler", "lsst.daf.butler.cli.butler", "lsst.daf.butler.registry.sql_registry", "lsst.pipe.base",
           "lsst.pipe.base.quantum_graph", "lsst.ctrl.mpexec.cli.pipetask", "lsst.ctrl.bps.cli.bps",
           "lsst.ctrl.bps.drivers", "lsst.ctrl.bps.parsl")
START_TIMEOUT = 120.0  # seconds: the imports take ~3 s idle, far more on a loaded machine


def wanted() -> bool:
    return os.environ.get("CAMPAIGNOPS_TEST_COLD") != "1"


@contextlib.contextmanager
def started(venv_bin: Path, programs: Mapping[str, Path] | None = None,
            preload: Sequence[str] = PRELOAD) -> Iterator[Path | None]:
    """Start the server with `venv_bin`'s interpreter; yield a folder holding a shim for each program (default:
    pipetask and butler of `venv_bin`), None when one is not installed or the server does not come up: the suite then
    runs them cold. The server stops on exit."""
    programs = programs or {name: venv_bin / name for name in PROGRAMS}
    if not all(path.exists() for path in programs.values()):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="campaignops-warm-"))
    sock = folder / "server.sock"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with open(folder / "server.log", "w", encoding="utf-8") as log:
        server = subprocess.Popen([str(venv_bin / "python"), str(HERE / "server.py"), str(sock), *preload],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not sock.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not sock.exists():
            print(f"warm server did not start (see {folder / 'server.log'}): the middleware runs cold",
                  file=sys.stderr)
            yield None
            return
        shims = folder / "bin"
        shims.mkdir()
        template = (HERE / "shim.py").read_text(encoding="utf-8")
        for name, real in programs.items():
            text = template.replace("@SOCKET@", str(sock)).replace("@REAL@", str(real))
            path = shims / name
            path.write_text(f"#!{venv_bin / 'python'} -IS\n{text}", encoding="utf-8")
            path.chmod(0o755)
        yield shims
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
