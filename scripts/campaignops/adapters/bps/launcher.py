"""The `Wms` of every bps plugin: detached `bps submit` / `bps restart`, reports via wms/report.py."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import yaml

from ...domain.errors import WmsError, WmsUnreachable
from ...domain.logtext import first_error_lines, with_log
from ...domain.states import RunState, TaskCounts
from ...ports import Launch, Observation, Submission
from ..processes import (
    PID_FILE,
    ProcessId,
    identify,
    pid_alive,
    processes_in,
    read_pid,
    read_process,
    record,
    running,
    signal_if_running,
)
from .report import ReportError, RunReport, retrieve

SUBMIT_LOG = "bps-submit.log"
RESTART_LOG = "bps-restart.log"
MAX_ERRORS = 5
PID_WAIT = 10.0  # seconds a started process has to write its pid file
CANCEL_TIMEOUT = 300.0  # seconds `bps cancel` may take
STOP_WAIT = 10.0  # seconds a stopped bps process group has to end before it is killed

# WmsStates name -> RunState. PRUNED (a job whose parents failed) ends the run as failed.
STATE_MAP: dict[str, RunState] = {
    "SUCCEEDED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "PRUNED": RunState.FAILED,
    "RUNNING": RunState.RUNNING,
    "PENDING": RunState.PENDING,
    "READY": RunState.PENDING,
    "UNREADY": RunState.PENDING,
    "HELD": RunState.HELD,
    "DELETED": RunState.CANCELLED,
    "UNKNOWN": RunState.UNKNOWN,
    "MISFIT": RunState.UNKNOWN,
}
# Plugins whose `bps submit` runs the whole workflow in the submitting process.
BLOCKING_SERVICES = ("lsst.ctrl.bps.parsl.ParslService", "campaignops.bps_plugins.local.LocalParslService")

_SUBMIT_DIR = re.compile(r"^Submit dir:\s*(\S.*?)\s*$", re.MULTILINE)
_RUN_ID = re.compile(r"^Run Id:\s*(\S.*?)\s*$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^\s*Error:\s*(.+)$", re.MULTILINE)
_QGRAPH_LOG = re.compile(r"^Check (\S+quantumGraphGeneration\.out) for more details", re.MULTILINE)


def _bps_executable() -> str:
    """`bps` from PATH, else next to this interpreter (the project venv)."""
    return shutil.which("bps") or str(Path(sys.executable).with_name("bps"))


def _env_with_venv() -> dict[str, str]:
    """This environment with the interpreter's bin/ first on PATH: bps calls bare `pipetask` and `butler`."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    parts = env.get("PATH", "").split(os.pathsep)
    if venv_bin not in parts:
        env["PATH"] = os.pathsep.join([venv_bin, *parts])
    return env


CODE_DIR = ".campaignops-code"


def pin_code(launch_dir: Path) -> Path:
    """A copy of this package in the launch dir, for the detached bps and its jobs to import.

    bps loads our WMS service and the demo tasks long after the job that launched it has ended; by
    then the runner's checkout may be gone or at another commit. The copy keeps the run (and a later
    `bps restart` in the same launch dir) on the code it was submitted with.
    """
    package = Path(__file__).resolve().parents[2]
    target = launch_dir / CODE_DIR
    if not (target / package.name / "__init__.py").exists():
        shutil.copytree(package, target / package.name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
    return target


def service_class_of(submit_dir: str | Path) -> str | None:
    """The wmsServiceClass recorded in the run's final config (`<name>_config.yaml` in the submit dir)."""
    for path in sorted(Path(submit_dir).glob("*_config.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        value = data.get("wmsServiceClass")
        if value:
            return str(value)
    return None

def _stop_group(process: ProcessId) -> str:
    """SIGTERM the process group the recorded process leads (a detached launch leads its own), SIGKILL if
    it lingers; nothing is sent once its pid belongs to another process."""
    pid = process.pid
    try:
        group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return f"bps process {pid} had already ended"
    except OSError as exc:
        raise WmsError(f"could not stop bps process {pid}: {exc}") from exc
    try:
        if not signal_if_running(process, signal.SIGTERM, group=group):
            return f"bps process {pid} had already ended"
    except OSError as exc:
        raise WmsError(f"could not stop bps process {pid}: {exc}") from exc
    deadline = time.monotonic() + STOP_WAIT
    while running(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(process):
        with contextlib.suppress(OSError):
            signal_if_running(process, signal.SIGKILL, group=True)
        return f"killed bps process group {pid} (it ignored SIGTERM for {STOP_WAIT:g} s)"
    return f"stopped bps process group {pid}"


class BpsWms:
    """Launch and follow bps runs of any plugin; `wms_service_class` None means "the one in the run's config"."""

    def __init__(self, wms_service_class: str | None = None, python: str = "python3") -> None:
        self.wms_service_class = wms_service_class
        self.python = python  # the stack's interpreter, used when a setup command is given

    # ---- launching --------------------------------------------------------------------------

    def _spawn(self, args: list[str], launch_dir: Path, setup: str, log_name: str) -> Launch:
        launch_dir = launch_dir.resolve()
        launch_dir.mkdir(parents=True, exist_ok=True)
        # The process writes its own pid, then becomes bps: a pid file means the process existed (a file
        # written by us before Popen would claim a start that a crash may have prevented).
        own_pid = f'printf "%s\\n" "$$" > {PID_FILE}.tmp && mv -f {PID_FILE}.tmp {PID_FILE} && '
        if setup.strip():
            command: list[str] = ["bash", "-c", f"{own_pid}{setup} && exec {shlex.join(args)}"]
        else:
            command = ["bash", "-c", own_pid + 'exec "$@"', "bash", _bps_executable(), *args[1:]]
        log: IO[str]
        with open(launch_dir / log_name, "a", encoding="utf-8") as log:
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            log.write(f"# {stamp} campaignops: {shlex.join(command)}\n")
            log.flush()
            env = _env_with_venv()
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(pin_code(launch_dir)), env.get("PYTHONPATH", "")) if p)
            env["PWD"] = str(launch_dir)  # bps's submitPath default is ${PWD}/submit/...: keep it in here
            try:
                proc = subprocess.Popen(command, cwd=launch_dir, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True, env=env)
            except OSError as exc:
                raise WmsError(f"cannot start {shlex.join(command[:1])} in {launch_dir}: {exc}") from exc
        # Return once the process has recorded itself (its first act, a few ms): whoever looks next
        # must find this pid, not nothing (or the pid of an earlier bps in the same launch dir).
        deadline = time.monotonic() + PID_WAIT
        while read_pid(launch_dir) != proc.pid and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if read_pid(launch_dir) == proc.pid:
            record(launch_dir / PID_FILE, proc.pid)  # with its start time: a reused pid is not taken for it
        return Launch(launch_dir, proc.pid)

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        """Start `bps submit config` detached (own session, cwd = launch_dir) and return at once."""
        return self._spawn(["bps", "submit", str(Path(config).resolve())], launch_dir, setup, SUBMIT_LOG)

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        """`bps restart` the run detached in the same launch dir (parsl finds its checkpoints there)."""
        service = self._service(submission)
        run_id = submission.wms_id or submission.submit_dir
        args = ["bps", "restart", "--id", run_id]
        if service:
            args[2:2] = ["--wms-service-class", service]
        return self._spawn(args, launch_dir, setup, RESTART_LOG)

    # ---- stopping ------------------------------------------------------------------------------

    def describe(self) -> str:
        return ""  # each `bps report` is a local process: nothing metered

    def cancel(self, submission: Submission | None, launch_dir: Path, setup: str) -> str:
        """Stop the run: the launch's bps process (still submitting, or a local run it executes) and its
        jobs, or, once bps has handed the run to its WMS, `bps cancel --id` (PanDA, HTCondor)."""
        launch_dir = launch_dir.resolve()
        process = read_process(launch_dir / PID_FILE)
        if running(process):
            assert process is not None
            return _stop_group(process)
        orphans = [p for p in map(identify, processes_in(launch_dir)) if p is not None]  # its directory was
        if orphans:  # deleted: bps is found by its working directory
            return "; ".join(_stop_group(p) for p in orphans)
        service = self._service(submission) if submission else None
        if submission is None or not submission.wms_id or service in BLOCKING_SERVICES:
            return "no bps process was running for it"
        args = ["bps", "cancel", "--id", submission.wms_id]
        if service:
            args[2:2] = ["--wms-service-class", service]
        command = f"{setup} && exec {shlex.join(args)}" if setup.strip() else \
            shlex.join([_bps_executable(), *args[1:]])
        try:
            proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=CANCEL_TIMEOUT,
                                  env=_env_with_venv(), stdin=subprocess.DEVNULL, cwd=launch_dir)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WmsUnreachable(f"`bps cancel --id {submission.wms_id}` did not answer: {exc}") from exc
        said = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0:
            raise WmsError(f"`bps cancel --id {submission.wms_id}` failed (exit {proc.returncode}): "
                           f"{said.splitlines()[-1] if said else 'no message'}")
        return f"bps cancel --id {submission.wms_id}: {said.splitlines()[-1] if said else 'done'}"

    # ---- did a launch happen -------------------------------------------------------------------

    def launched(self, launch_dir: Path) -> bool:
        """A process was started here (it wrote its own pid file) or bps left its run behind; a log
        alone proves nothing: it is written before the process starts."""
        return (launch_dir / PID_FILE).exists() or self.find_submission(launch_dir) is not None

    # ---- finding a run again --------------------------------------------------------------------

    def find_submission(self, launch_dir: Path) -> Submission | None:
        """The submit dir (and run id once printed) of the launch in `launch_dir`; None if bps got nowhere."""
        launch_dir = launch_dir.resolve()
        text = ""
        with contextlib.suppress(OSError):
            text = (launch_dir / SUBMIT_LOG).read_text(encoding="utf-8", errors="replace")
        dirs = _SUBMIT_DIR.findall(text)
        submit_dir = dirs[-1] if dirs else ""
        if not submit_dir:
            configs = sorted((launch_dir / "submit").rglob("*_config.yaml"), key=lambda p: p.stat().st_mtime)
            if not configs:
                return None
            submit_dir = str(configs[-1].parent)
        ids = [i for i in _RUN_ID.findall(text) if i != "None"]
        wms_id = ids[-1] if ids else ""
        service = self.wms_service_class or service_class_of(submit_dir)
        if not wms_id and service in BLOCKING_SERVICES:
            wms_id = submit_dir  # parsl runs are known by their submit dir
        return Submission(submit_dir=submit_dir, wms_id=wms_id)

    # ---- observing ----------------------------------------------------------------------------

    def _service(self, submission: Submission) -> str | None:
        return self.wms_service_class or service_class_of(submission.submit_dir) or os.environ.get(
            "BPS_WMS_SERVICE_CLASS")

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        """The run's state from its WMS report; WmsUnreachable when the report cannot be had."""
        launch_dir = launch_dir.resolve()
        if not launch_dir.exists() and self._service(submission) in BLOCKING_SERVICES:
            # A local run lives in its launch directory: gone, the run cannot be judged, and must not be
            # taken for failed while its bps may still run (a retry would start a second one).
            alive_in = processes_in(launch_dir)
            raise WmsUnreachable(
                f"the launch directory {launch_dir} was deleted"
                + (f" while bps (pid {', '.join(map(str, alive_in))}) still runs in it: wait for it to end"
                   if alive_in else "; the run cannot be read any more (restore the directory, or settle the "
                   "run with `campaign skip`/`resubmit` once you know bps is not running)"))
        alive = running(read_process(launch_dir / PID_FILE))
        service = self._service(submission)
        blocking = service in BLOCKING_SERVICES
        run_id = submission.wms_id or (submission.submit_dir if blocking else "")
        if not run_id:
            if alive:
                return Observation(RunState.PENDING, message="bps is still submitting (no run id yet)")
            errors = self._launch_errors(launch_dir)
            return Observation(RunState.FAILED, errors=tuple(errors),
                               message=f"bps exited without a run id; see {launch_dir / SUBMIT_LOG}")
        try:
            result = retrieve(run_id, service, setup, python=self.python)
        except ReportError as exc:
            raise WmsUnreachable(str(exc)) from exc
        report = next((r for r in result.reports if r.wms_id == run_id or r.path == submission.submit_dir),
                      result.reports[0] if result.reports else None)
        if report is None:
            if alive:
                return Observation(RunState.PENDING, message="bps is running; the WMS does not know the run yet")
            if blocking:  # its bps process is the whole WMS: gone without a run means the submission failed
                return Observation(RunState.FAILED, errors=tuple(self._launch_errors(launch_dir)),
                                   message=f"bps ended before starting the workflow; see {launch_dir / SUBMIT_LOG}")
            raise WmsUnreachable(f"{service or 'the WMS'} has no report for {run_id}: "
                                 f"{'; '.join(result.messages) or 'no message'}")
        return self._to_observation(report, result.messages, launch_dir, alive, blocking)

    def _to_observation(self, report: RunReport, messages: tuple[str, ...], launch_dir: Path, alive: bool,
                        blocking: bool) -> Observation:
        state = STATE_MAP.get(report.state, RunState.UNKNOWN)
        tasks = tuple(TaskCounts(label, tuple(sorted((s, n) for s, n in counts.items() if n)))
                      for label, counts in sorted(report.job_summary.items()))
        if state in (RunState.RUNNING, RunState.PENDING) and any(t.get("HELD") for t in tasks):
            state = RunState.HELD  # a held job blocks the run: it needs an operator
        if blocking and alive and state.finished:
            # The bps process of this launch dir runs the workflow to its end: while it lives, what the
            # report shows is an earlier attempt (e.g. a restart that has not recorded itself yet).
            return Observation(RunState.RUNNING, tasks=tasks, message="bps is (re)starting the workflow")
        if state == RunState.PENDING and blocking and not alive:
            state = RunState.FAILED  # bps died before starting the workflow (e.g. while building the graph)
        errors = _ERROR_LINE.findall(report.specific_info)
        if state == RunState.FAILED and not errors:
            errors = self._log_errors(Path(report.path)) if report.path else []
            if not errors:
                errors = self._launch_errors(launch_dir)
        info = [ln for ln in report.specific_info.splitlines() if ln.strip() and not _ERROR_LINE.match(ln)]
        # compile_job_summary's warning while no job has started yet is noise, not news.
        notes = [m for m in messages if m and "information about individual jobs not available" not in m]
        message = "; ".join([*info[:2], *notes[:2]])
        exit_codes = tuple((label, tuple(codes)) for label, codes in sorted(report.exit_code_summary.items())
                           if codes)
        return Observation(state=state, tasks=tasks, exit_codes=exit_codes,
                           errors=tuple(e.strip() for e in errors[:MAX_ERRORS]), message=message[:1000])

    @staticmethod
    def _log_errors(submit_dir: Path) -> list[str]:
        """First error lines of failed jobs' logs in a submit dir (plugins that do not say themselves), each
        naming its log: parsl's logs/<label>/…/<job>.stderr, HTCondor's jobs/<label>/…/<job>.<cluster>.out
        and the job's user log (hold reasons)."""
        out: list[str] = []
        paths = [*sorted((submit_dir / "logs").rglob("*.std*")), *sorted((submit_dir / "jobs").rglob("*.out")),
                 *sorted((submit_dir / "jobs").rglob("*.log"))]
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in first_error_lines(text, limit=1):
                out.append(with_log(line, str(path)))
            if len(out) >= MAX_ERRORS:
                break
        return out

    @staticmethod
    def _launch_errors(launch_dir: Path) -> list[str]:
        """Error lines of the bps submit / restart logs; a quantum-graph failure's own log first."""
        out: list[str] = []
        for name in (SUBMIT_LOG, RESTART_LOG):
            try:
                text = (launch_dir / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            qgraph_log = _qgraph_log(launch_dir, text)
            if qgraph_log is not None:
                with contextlib.suppress(OSError):
                    out += [with_log(line, str(qgraph_log)) for line in first_error_lines(
                        qgraph_log.read_text(encoding="utf-8", errors="replace"))]
            out += [line for line in first_error_lines(text) if not any(o.startswith(line) for o in out)]
        return out[:MAX_ERRORS]


def _qgraph_log(launch_dir: Path, text: str) -> Path | None:
    """The quantumGraphGeneration.out bps points to ("Check … for more details"), found again in the launch
    directory if it moved; None when the quantum graph was not the problem."""
    named = _QGRAPH_LOG.findall(text)
    if not named:
        return None
    path = Path(named[-1])
    if path.is_file():
        return path
    found = sorted((launch_dir / "submit").rglob(path.name), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


__all__ = ["PID_FILE", "STATE_MAP", "BpsWms", "pid_alive", "read_pid", "service_class_of"]
