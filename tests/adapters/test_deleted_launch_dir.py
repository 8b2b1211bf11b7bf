"""A launch directory deleted under a live bps: the run is UNKNOWN (never FAILED, so no retry starts a
second bps), and `campaign cancel` still finds the process by its working directory. Real processes."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from campaignops.adapters.bps.launcher import BpsWms
from campaignops.adapters.processes import pid_alive, processes_in
from campaignops.domain.errors import WmsUnreachable
from campaignops.ports import Submission

LOCAL = "campaignops.bps_plugins.local.LocalParslService"


def _running_in(directory: Path) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True)
    proc = subprocess.Popen(["sleep", "120"], cwd=directory, start_new_session=True)
    deadline = time.monotonic() + 5
    while not processes_in(directory) and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def test_a_deleted_launch_dir_with_a_live_bps_is_unknown_and_cancel_stops_it(tmp_path: Path) -> None:
    launch = tmp_path / "work" / "demo" / "step1" / "g" / "a01"
    proc = _running_in(launch)
    try:
        shutil.rmtree(tmp_path / "work")
        assert processes_in(launch) == [proc.pid]
        wms = BpsWms(LOCAL)
        submission = Submission(str(launch / "submit"), str(launch / "submit"))
        with pytest.raises(WmsUnreachable, match=f"still runs in it.*{proc.pid}|pid {proc.pid}"):
            wms.observe(submission, launch, "")
        said = wms.cancel(submission, launch, "")
        assert f"stopped bps process group {proc.pid}" in said
        proc.wait(timeout=10)
        assert not pid_alive(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_deleted_launch_dir_with_nothing_running_is_still_not_a_failure(tmp_path: Path) -> None:
    launch = tmp_path / "gone" / "a01"
    with pytest.raises(WmsUnreachable, match="deleted; the run cannot be read"):
        BpsWms(LOCAL).observe(Submission(str(launch / "submit"), str(launch / "submit")), launch, "")
