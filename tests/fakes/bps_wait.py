"""Waiting for real bps runs without polling the status job: a `campaign reconcile` is a process that imports
the middleware (~3 s of CPU), and calling it every two seconds while parsl runs the quanta took as much CPU as
the quanta themselves. The tests instead wait, cheaply, until no bps process they launched still runs — the
local parsl WMS runs the whole workflow inside its `bps submit` / `bps restart` process — and then ask once,
as the runner's status job would after its period."""

from __future__ import annotations

import time
from pathlib import Path

from campaignops.adapters.processes import PID_FILE, read_process, running


def launched_and_running(workdir: Path) -> list[Path]:
    """The launch directories under `workdir` whose bps process (recorded in its pid file) still runs."""
    return [p.parent for p in workdir.rglob(PID_FILE) if running(read_process(p))]


def settle(workdir: Path, timeout: float = 120.0, step: float = 0.25) -> None:
    """Return once no bps process launched under `workdir` runs (or after `timeout`, for the caller's own
    deadline to judge): the next look sees every run that could end, ended."""
    deadline = time.monotonic() + timeout
    while launched_and_running(workdir) and time.monotonic() < deadline:
        time.sleep(step)
