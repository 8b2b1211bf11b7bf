"""A recorded launch is a process, not a pid: a pid the kernel gave to another process since is not
alive for us, and cancel never signals it. Real processes (`sleep`), real /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.adapters.bps.launcher import PID_FILE, BpsWms
from campaignops.adapters.processes import (
    ProcessId,
    identify,
    read_process,
    record,
    running,
    signal_if_running,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process that happens to hold the pid a launch recorded."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_the_identity_of_a_running_process_is_its_pid_start_time_boot_and_command(
        stranger: subprocess.Popen[bytes]) -> None:
    found = identify(stranger.pid)
    assert found is not None and found.pid == stranger.pid
    assert found.command == "sleep 60"
    stat = Path(f"/proc/{stranger.pid}/stat").read_text().split()
    assert found.started == int(stat[21])  # field 22 of proc(5), counted from 1
    btime = next(int(ln.split()[1]) for ln in Path("/proc/stat").read_text().splitlines() if ln.startswith("btime"))
    assert found.boot == btime
    assert running(found)
    assert ProcessId.parse(found.text()) == found


def test_a_reused_pid_is_not_alive_and_cancel_does_not_kill_it(stranger: subprocess.Popen[bytes],
                                                               tmp_path: Path) -> None:
    real = identify(stranger.pid)
    assert real is not None and real.started is not None
    # The launch recorded this pid for a bps that started earlier; the kernel has given the pid to `sleep` since.
    recorded = replace(real, started=real.started - 100, command="bps submit /w/step1.yaml")
    (tmp_path / PID_FILE).write_text(recorded.text())
    assert not running(read_process(tmp_path / PID_FILE))
    assert not signal_if_running(recorded, signal.SIGTERM)
    said = BpsWms().cancel(None, tmp_path, "")
    assert stranger.poll() is None, "cancel killed an unrelated process that reused the recorded pid"
    assert said == "no bps process was running for it", said


def test_the_recorded_process_itself_is_alive_and_cancel_stops_it(stranger: subprocess.Popen[bytes],
                                                                   tmp_path: Path) -> None:
    assert record(tmp_path / PID_FILE, stranger.pid) is not None
    assert running(read_process(tmp_path / PID_FILE))
    said = BpsWms().cancel(None, tmp_path, "")
    assert stranger.wait(timeout=30) == -signal.SIGTERM, said
    assert not running(read_process(tmp_path / PID_FILE))


def test_an_old_pid_file_without_a_start_time_is_judged_by_its_pid_as_before(stranger: subprocess.Popen[bytes],
                                                                             tmp_path: Path) -> None:
    (tmp_path / PID_FILE).write_text(f"{stranger.pid}\n")  # the format before start times were recorded
    old = read_process(tmp_path / PID_FILE)
    assert old == ProcessId(stranger.pid) and running(old)
    stranger.kill()
    stranger.wait()
    assert not running(read_process(tmp_path / PID_FILE))


def test_an_ended_process_is_not_recorded_and_a_damaged_pid_file_is_no_process(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert record(tmp_path / PID_FILE, proc.pid) is None and not (tmp_path / PID_FILE).exists()
    (tmp_path / PID_FILE).write_text("not a pid\n")
    assert read_process(tmp_path / PID_FILE) is None and not running(None)


# ---- inside bps: the local parsl service's run file records the identity of the bps process ------------

def _run_file(submit_dir: Path, attempt: dict[str, object]) -> None:
    from campaignops.bps_plugins.local import RUN_FILE
    submit_dir.mkdir(parents=True, exist_ok=True)
    (submit_dir / RUN_FILE).write_text(json.dumps({"attempts": [attempt]}))


def test_the_local_service_records_its_bps_process_identity_and_reads_a_reused_pid_as_ended(
        tmp_path: Path, stranger: subprocess.Popen[bytes]) -> None:
    from campaignops.bps_plugins.local import LocalParslService, RunReader, _Attempt

    submit = tmp_path / "submit"
    submit.mkdir()
    with _Attempt(submit, "submit"):
        recorded = json.loads((submit / "campaignops-run.json").read_text())["attempts"][-1]
        me = identify(os.getpid())
        assert me is not None and (recorded["pid_started"], recorded["pid_boot"]) == (me.started, me.boot)
        assert RunReader(submit).summary(with_errors=False).state.name == "RUNNING"
    # a bps that died without ending its attempt, whose pid the kernel gave to `stranger`
    identity = identify(stranger.pid)
    assert identity is not None and identity.started is not None
    _run_file(submit, {"kind": "submit", "pid": stranger.pid, "started": "2026-12-01T10:00:00Z", "ended": None,
                       "pid_started": identity.started - 1, "pid_boot": identity.boot})
    summary = RunReader(submit).summary(with_errors=False)
    assert summary.state.name == "FAILED" and "ended without writing provenance" in summary.message
    ok, message = LocalParslService({}).cancel(str(submit))
    assert not ok and "no running bps process" in message
    assert stranger.poll() is None, "cancel signalled an unrelated process"
    # the same record with the stranger's true start time is that process: running, and cancel stops it
    _run_file(submit, {"kind": "submit", "pid": stranger.pid, "started": "2026-12-01T10:00:00Z", "ended": None,
                       "pid_started": identity.started, "pid_boot": identity.boot})
    assert RunReader(submit).summary(with_errors=False).state.name == "RUNNING"
    assert LocalParslService({}).cancel(str(submit)) == (True, "")
    assert stranger.wait(10) == -signal.SIGTERM
