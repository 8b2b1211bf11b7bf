"""A program started through the warm server behaves as the same program started cold: what it sees, how it ends,
what signals do to it. The suite's real-bps tests rely on this (tests/warm/server.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import warm

PROBE = '''
import atexit, json, os, signal, sys, time
what = sys.argv[1]
if what == "report":
    print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "probe": os.environ.get("PROBE"),
                      "umask": os.umask(0), "path": sys.path, "stdin": sys.stdin.read(),
                      "leads_group": os.getpgid(0) == os.getpid(), "main": __name__}))
elif what == "exit":
    atexit.register(lambda: print("atexit ran", flush=True))
    print("to a file, buffered")
    sys.exit(int(sys.argv[2]))
elif what == "die":
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
elif what == "wait":
    signal.signal(signal.SIGTERM, lambda *_: (print("got SIGTERM", flush=True), sys.exit(3)))
    print(os.getpid(), flush=True)
    time.sleep(60)
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the probe program, its shim) with a server of its own that preloads nothing."""
    folder = tmp_path_factory.mktemp("probe")
    program = folder / "probe"
    program.write_text(f"#!{sys.executable}\n{PROBE}", encoding="utf-8")
    program.chmod(0o755)
    with warm.started(Path(sys.executable).parent, {"probe": program}, preload=(), wait=60) as shims:
        assert shims is not None
        yield program, shims / "probe"


def _run(command: Path, *args: str, cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(command), *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_a_warm_program_sees_what_a_cold_one_sees(probe: tuple[Path, Path], tmp_path: Path) -> None:
    program, shim = probe
    env = {"PROBE": "yes", "PYTHONPATH": f"{tmp_path / 'pinned'}{os.pathsep}{tmp_path / 'more'}"}
    cold = _run(program, "report", "x y", cwd=tmp_path, stdin="input line\n", **env)
    hot = _run(shim, "report", "x y", cwd=tmp_path, stdin="input line\n", **env)
    assert cold.returncode == hot.returncode == 0, hot.stderr
    seen_cold, seen_warm = json.loads(cold.stdout), json.loads(hot.stdout)
    assert seen_warm == seen_cold | {"leads_group": True}  # a program run warm leads a process group, as a job would
    assert seen_warm["path"][1:3] == [str(tmp_path / "pinned"), str(tmp_path / "more")]  # PYTHONPATH where Python puts it
    assert seen_warm["stdin"] == "input line\n" and seen_warm["probe"] == "yes" and seen_warm["main"] == "__main__"


def test_a_warm_program_ends_as_it_would_cold(probe: tuple[Path, Path], tmp_path: Path) -> None:
    program, shim = probe
    for command in (program, shim):
        ended = _run(command, "exit", "7", cwd=tmp_path)
        assert (ended.returncode, ended.stdout) == (7, "to a file, buffered\natexit ran\n")
        for name in ("SIGKILL", "SIGSEGV", "SIGTERM"):
            assert _run(command, "die", name, cwd=tmp_path).returncode == -getattr(signal, name)


def test_signals_to_the_shim_reach_the_program_and_killing_the_shim_kills_it(probe: tuple[Path, Path],
                                                                             tmp_path: Path) -> None:
    _, shim = probe
    waiting = subprocess.Popen([str(shim), "wait"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert waiting.stdout is not None
    int(waiting.stdout.readline())
    waiting.send_signal(signal.SIGTERM)
    assert waiting.wait(30) == 3 and waiting.stdout.read() == "got SIGTERM\n"

    killed = subprocess.Popen([str(shim), "wait"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert killed.stdout is not None
    program = int(killed.stdout.readline())
    os.killpg(killed.pid, signal.SIGKILL)  # what a stop of the group that started it does
    assert killed.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _alive(program) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(program)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_without_the_server_the_shim_runs_the_program_cold(probe: tuple[Path, Path], tmp_path: Path) -> None:
    _, shim = probe
    assert json.loads(_run(shim, "report", cwd=tmp_path, CAMPAIGNOPS_TEST_COLD="1").stdout)["leads_group"] is False
    inside_slurm = _run(shim, "report", cwd=tmp_path, SLURM_JOB_ID="12")
    assert json.loads(inside_slurm.stdout)["leads_group"] is False  # Slurm's cgroup must hold the real work


def test_a_caller_in_another_mount_namespace_runs_the_program_cold(probe: tuple[Path, Path], tmp_path: Path) -> None:
    _, shim = probe
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode != 0:
        pytest.skip("needs `unshare -rm` (user + mount namespaces)")
    inside = subprocess.run(["unshare", "-rm", str(shim), "report"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert json.loads(inside.stdout)["leads_group"] is False, inside.stderr  # not forked by the server


def test_a_program_whose_interpreter_would_start_differently_runs_cold(probe: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    _, shim = probe
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text("import os\nos.environ['PROBE'] = 'customized'\n")
    seen = json.loads(_run(shim, "report", cwd=tmp_path, PYTHONPATH=str(custom)).stdout)
    assert (seen["probe"], seen["leads_group"]) == ("customized", False)  # the module ran: a cold start
    warnings = json.loads(_run(shim, "report", cwd=tmp_path, PYTHONWARNINGS="error").stdout)
    assert warnings["leads_group"] is False


def test_a_caller_that_connects_and_sends_nothing_holds_the_others_up_only_briefly(probe: tuple[Path, Path],
                                                                                   tmp_path: Path) -> None:
    _, shim = probe
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(str(shim.parent.parent / "server.sock"))  # a shim stopped before it sent its request
    try:
        seen = json.loads(_run(shim, "report", cwd=tmp_path).stdout)
        assert seen["leads_group"] is True  # still served by the server, once it gave up on the silent one
    finally:
        stalled.close()


def test_when_the_server_ends_under_a_running_program_the_caller_is_told_and_the_program_stops(
        tmp_path: Path) -> None:
    program = tmp_path / "probe"
    program.write_text(f"#!{sys.executable}\n{PROBE}", encoding="utf-8")
    program.chmod(0o755)
    with warm.started(Path(sys.executable).parent, {"probe": program}, preload=(), wait=60) as shims:
        assert shims is not None
        waiting = subprocess.Popen([str(shims / "probe"), "wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        assert waiting.stdout is not None and waiting.stderr is not None
        pid = int(waiting.stdout.readline())
        server = next(p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_server(p, shims))
        os.kill(int(server.name), signal.SIGKILL)
        assert waiting.wait(30) == 255
        said = waiting.stderr.read()
        assert "the warm test server" in said and "CAMPAIGNOPS_TEST_COLD=1" in said, said
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _is_server(proc: Path, shims: Path) -> bool:
    try:
        return str(shims.parent / "server.sock").encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False
