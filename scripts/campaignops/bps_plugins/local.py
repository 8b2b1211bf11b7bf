"""The local parsl WMS with real `bps report` / `bps status`, read from provenance and job logs.

`LocalParslService` is a `lsst.ctrl.bps.parsl.ParslService` (name it in `wmsServiceClass`) that

* records each submit / restart of a run in ``<submit dir>/campaignops-run.json`` (the pid of the bps
  process doing the work, start and end times, the error that ended it) and keeps the provenance
  graph of an earlier attempt as ``provenance.attemptN.qg`` when restarting;
* implements ``report`` and ``get_status`` (what ``bps report`` / ``bps status`` call) for a run
  given by its submit directory: per-label quantum counts and failures from the provenance quantum
  graph the final job writes (``extraAggregateOptions: "-o {submitPath}/provenance.qg"``), and
  while the run is still going, from the job logs.

State rules: provenance missing and the bps process alive → RUNNING; pipetaskInit failed → FAILED;
any failed quantum → FAILED; all succeeded → SUCCEEDED; bps gone without provenance → FAILED.

Use it from the command line with
``bps report --wms-service-class campaignops.bps_plugins.local.LocalParslService --id <submit dir>``
(or ``export BPS_WMS_SERVICE_CLASS=campaignops.bps_plugins.local.LocalParslService``).

`ThreadPoolSite` is a parsl site running jobs in a thread pool of the bps process itself
(``site.<name>.class: campaignops.bps_plugins.local.ThreadPoolSite``, ``cores``): no executor start-up.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsst.ctrl.bps import BaseWmsWorkflow, WmsJobReport, WmsRunReport, WmsSpecificInfo, WmsStates
from lsst.ctrl.bps.parsl import ParslService
from lsst.ctrl.bps.parsl.configuration import get_bps_config_value
from lsst.ctrl.bps.parsl.site import SiteConfig
from parsl.executors import ThreadPoolExecutor
from parsl.executors.base import ParslExecutor

from ..adapters.processes import ProcessId, identify, running, signal_if_running
from ..domain.logtext import first_error_lines as _first_error_lines
from ..domain.logtext import with_log as _with_log

if TYPE_CHECKING:
    from lsst.ctrl.bps.parsl.job import ParslJob

__all__ = ["LocalParslService", "RunReader", "ThreadPoolSite", "read_run_report"]

RUN_FILE = "campaignops-run.json"
PROVENANCE_FILE = "provenance.qg"
INIT_LABEL = "pipetaskInit"
FINAL_LABEL = "finalJob"
MAX_ERROR_LINES = 3


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- parsl site ------------------------------------------------------------------------------

class ThreadPoolSite(SiteConfig):
    """Run every job in a thread pool of the bps process (``cores`` threads, default 2)."""

    def get_executors(self) -> list[ParslExecutor]:
        cores = get_bps_config_value(self.site, "cores", int, 2)
        return [ThreadPoolExecutor(label="local", max_threads=cores)]

    def select_executor(self, job: ParslJob) -> str:
        return "local"


# ---- the run file: what the bps process itself records ------------------------------------------

def _read_run_file(submit_dir: Path) -> dict[str, Any]:
    path = submit_dir / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"attempts": []}
    return data if isinstance(data, dict) else {"attempts": []}


def _write_run_file(submit_dir: Path, data: dict[str, Any]) -> None:
    path = submit_dir / RUN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _failed_job(exc: BaseException) -> str:
    text = " ".join(map(str, getattr(exc, "cmd", None) or [])) if isinstance(
        getattr(exc, "cmd", None), list) else str(getattr(exc, "cmd", "") or exc)
    if "pre-exec-init-qbb" in text:
        return INIT_LABEL
    if "aggregate-graph" in text:
        return FINAL_LABEL
    return ""


def _bps_process(attempt: dict[str, Any]) -> ProcessId:
    """The bps process of an attempt of the run file: its pid and, when recorded, its start time and boot
    (an attempt recorded before they were kept is judged by its pid alone)."""
    started, boot = attempt.get("pid_started"), attempt.get("pid_boot")
    return ProcessId(int(attempt.get("pid") or 0), int(started) if started is not None else None,
                     int(boot) if boot is not None else None)


class _Attempt:
    """Context manager recording one submit/restart attempt of the bps process in the run file."""

    def __init__(self, submit_dir: Path, kind: str) -> None:
        self.submit_dir = submit_dir
        self.kind = kind

    def __enter__(self) -> _Attempt:
        data = _read_run_file(self.submit_dir)
        attempts = data.setdefault("attempts", [])
        provenance = self.submit_dir / PROVENANCE_FILE
        if provenance.exists():  # keep the previous attempt's view; the new final job writes a fresh one
            os.replace(provenance, self.submit_dir / f"provenance.attempt{len(attempts)}.qg")
        me = identify(os.getpid())
        attempts.append({"kind": self.kind, "pid": os.getpid(), "started": _now(), "ended": None,
                         "error": None, "failed_job": None,
                         # its identity: a pid the kernel hands to another process later is not this bps
                         "pid_started": me.started if me else None, "pid_boot": me.boot if me else None})
        _write_run_file(self.submit_dir, data)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        data = _read_run_file(self.submit_dir)
        if data.get("attempts"):
            last = data["attempts"][-1]
            last["ended"] = _now()
            if exc is not None:
                last["error"] = f"{type(exc).__name__}: {exc}"[:2000]
                last["failed_job"] = _failed_job(exc) or None
            _write_run_file(self.submit_dir, data)


# ---- reading a run back -------------------------------------------------------------------------

_QUANTUM_STATE = {
    "SUCCESSFUL": WmsStates.SUCCEEDED,
    "FAILED": WmsStates.FAILED,
    "ABORTED": WmsStates.FAILED,
    "ABORTED_SUCCESS": WmsStates.FAILED,
    "BLOCKED": WmsStates.PRUNED,
    "UNKNOWN": WmsStates.UNKNOWN,
}


@dataclass
class QuantumRow:
    """One quantum (or one job before provenance exists) as the report sees it."""

    label: str
    name: str
    state: WmsStates
    data_id: str = ""
    error: str = ""
    exit_code: int | None = None


@dataclass
class RunSummary:
    """Everything `report` needs about one local run, read from its submit directory."""

    submit_dir: Path
    state: WmsStates
    message: str
    run: str = ""
    payload: str = ""
    project: str = ""
    campaign: str = ""
    operator: str = ""
    site: str = ""
    rows: list[QuantumRow] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def _config_values(submit_dir: Path) -> dict[str, str]:
    """A few values of the run's final config (``<name>_config.yaml`` bps writes in the submit dir)."""
    import yaml

    for path in sorted(submit_dir.glob("*_config.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        payload = data.get("payload") or {}
        bps_defined = data.get("bps_defined") or {}
        scope = {**{k: v for k, v in data.items() if not isinstance(v, dict)}, **bps_defined, **payload}
        return {
            "run": _expand(str(payload.get("outputRun") or ""), scope),
            "payload": str(payload.get("payloadName") or ""),
            "project": str(data.get("project") or ""),
            "campaign": str(data.get("campaign") or ""),
            "operator": str(data.get("operator") or bps_defined.get("operator") or ""),
            "site": str(data.get("computeSite") or ""),
            "name": path.name[: -len("_config.yaml")],
        }
    return {}


def _expand(value: str, scope: dict[str, Any], depth: int = 10) -> str:
    """Fill bps-style {placeholders} from `scope` (as bps does for outputRun); unknown ones stay."""
    for _ in range(depth):
        new = re.sub(r"\{(\w+)\}", lambda m: str(scope.get(m[1], m[0])), value)
        if new == value:
            break
        value = new
    return value

def _job_logs(submit_dir: Path) -> dict[str, tuple[str, Path]]:
    """job name -> (label, stderr path) for every job log parsl wrote."""
    out: dict[str, tuple[str, Path]] = {}
    logs = submit_dir / "logs"
    if not logs.is_dir():
        return out
    for path in logs.rglob("*.stderr"):
        rel = path.relative_to(logs).parts
        label = rel[0] if len(rel) > 1 else path.stem
        out[path.stem] = (label, path)
    return out


class RunReader:
    """Reads one local run's state from its submit directory (provenance, run file, job logs)."""

    def __init__(self, submit_dir: str | Path) -> None:
        self.submit_dir = Path(submit_dir).resolve()

    def exists(self) -> bool:
        return self.submit_dir.is_dir() and (any(self.submit_dir.glob("*_config.yaml"))
                                             or (self.submit_dir / RUN_FILE).exists())

    def summary(self, with_errors: bool = True) -> RunSummary:
        if not self.exists():
            return RunSummary(self.submit_dir, WmsStates.UNKNOWN,
                              f"{self.submit_dir} is not the submit directory of a local bps run")
        values = _config_values(self.submit_dir)
        run_data = _read_run_file(self.submit_dir)
        attempts = run_data.get("attempts") or []
        last: dict[str, Any] | None = attempts[-1] if attempts else None
        provenance = self.submit_dir / PROVENANCE_FILE
        summary = RunSummary(self.submit_dir, WmsStates.UNKNOWN, "", run=values.get("run", ""),
                             payload=values.get("payload", ""), project=values.get("project", ""),
                             campaign=values.get("campaign", ""), operator=values.get("operator", ""),
                             site=values.get("site", ""))
        if last and last.get("ended") is None and running(_bps_process(last)):
            summary.state = WmsStates.RUNNING
            summary.labels = self._labels()
            summary.rows = self._rows_from_logs(with_errors)
            summary.message = f"bps process {last['pid']} is running ({last['kind']} started {last['started']})"
            return summary
        if last and last.get("failed_job") == INIT_LABEL:
            summary.state = WmsStates.FAILED
            summary.rows = [QuantumRow(INIT_LABEL, INIT_LABEL, WmsStates.FAILED, exit_code=1,
                                       error=self._init_error())]
            summary.message = "pipetaskInit failed: nothing ran"
            return summary
        if provenance.exists() and (last is None or provenance.stat().st_mtime >= _epoch(last["started"])):
            summary.rows = self._rows_from_provenance(provenance, with_errors)
            failed = sum(1 for r in summary.rows if r.state == WmsStates.FAILED)
            blocked = sum(1 for r in summary.rows if r.state == WmsStates.PRUNED)
            if last and last.get("failed_job") == FINAL_LABEL:
                summary.state = WmsStates.FAILED
                summary.message = f"the final job failed: {last.get('error')}"
            elif failed or blocked:
                summary.state = WmsStates.FAILED
                summary.message = f"{failed} quanta failed, {blocked} blocked"
            elif any(r.state != WmsStates.SUCCEEDED for r in summary.rows):
                summary.state = WmsStates.FAILED
                summary.message = "some quanta did not run"
            else:
                summary.state = WmsStates.SUCCEEDED
            return summary
        if last is None:
            # bps is still building the quantum graph (the service has not started yet), or it died there.
            summary.state = WmsStates.PENDING
            summary.message = "bps has not started the workflow yet"
            return summary
        summary.state = WmsStates.FAILED
        summary.labels = self._labels()
        summary.rows = self._rows_from_logs(with_errors, ended=True)
        ended = last.get("error") or f"bps process {last['pid']} ended without writing provenance (killed?)"
        summary.message = str(ended)
        return summary

    # -- helpers ---------------------------------------------------------------------------------

    def _labels(self) -> list[str]:
        labels: list[str] = []
        logs = self.submit_dir / "logs"
        if logs.is_dir():
            labels = sorted(p.name for p in logs.iterdir() if p.is_dir())
        return labels

    def _init_error(self) -> str:
        for path in (self.submit_dir / "logs").rglob(f"{INIT_LABEL}.stderr"):
            lines = _first_error_lines(path.read_text(encoding="utf-8", errors="replace"))
            if lines:
                return " | ".join(lines)
        return "pipetaskInit exited with an error (see logs/pipetaskInit)"

    def _rows_from_logs(self, with_errors: bool, ended: bool = False) -> list[QuantumRow]:
        """One row per job (per quantum of a cluster's job) from the job logs; `ended`: bps is gone, so a job that
        did not say it ended will not."""
        rows = []
        for name, (label, path) in sorted(self._job_logs_cached().items()):
            if label in (INIT_LABEL, FINAL_LABEL) or name in (INIT_LABEL, FINAL_LABEL):
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            quanta = _quanta_in_log(text)
            if len(quanta) > 1 or max(map(int, _QUANTA_TOTAL.findall(text)), default=1) > 1:  # a cluster's job
                rows.extend(self._rows_of_cluster(label, name, path, text, quanta, with_errors, ended))
            elif "failed. Exception" in text or "Traceback (most recent call last)" in text:
                error = " | ".join(_first_error_lines(text, 1)) if with_errors else ""
                state, error = WmsStates.FAILED, _with_log(error, str(path)) if error else ""
                rows.append(QuantumRow(label, name, state, error=error, exit_code=1))
            elif re.search(r"Execution of task '.*' on quantum .* took", text):
                rows.append(QuantumRow(label, name, WmsStates.SUCCEEDED))
            else:
                rows.append(QuantumRow(label, name, WmsStates.RUNNING))
        return rows

    def _rows_of_cluster(self, label: str, name: str, path: Path, text: str,
                         quanta: dict[tuple[str, str], tuple[WmsStates, str]],
                         with_errors: bool, ended: bool) -> list[QuantumRow]:
        """The rows of a job running several quanta (a bps cluster): one per quantum its log says ended, under
        its task's label; those not ended yet count as running under the job's (cluster's) label — or, once bps
        is gone, as unknown (never run, or killed with the job)."""
        rows = []
        for (task, quantum), (state, error) in quanta.items():
            shown = _with_log(error, str(path)) if (error and with_errors) else ""
            rows.append(QuantumRow(task, f"{name}:{quantum}", state, data_id=quantum, error=shown,
                                   exit_code=1 if state == WmsStates.FAILED else None))
        totals = _QUANTA_TOTAL.findall(text)
        remaining = max(0, int(totals[-1]) - len(quanta)) if totals else 0
        left = WmsStates.UNKNOWN if ended else WmsStates.RUNNING
        rows.extend(QuantumRow(label, f"{name}:{n}", left) for n in range(remaining))
        return rows

    def _job_logs_cached(self) -> dict[str, tuple[str, Path]]:
        if not hasattr(self, "_logs"):
            self._logs = _job_logs(self.submit_dir)
        return self._logs

    def _rows_from_provenance(self, path: Path, with_errors: bool) -> list[QuantumRow]:
        from lsst.pipe.base.quantum_graph import ProvenanceQuantumGraph

        rows: list[QuantumRow] = []
        with ProvenanceQuantumGraph.from_args(str(path), datasets=()) as (graph, _):
            xgraph = graph.quantum_only_xgraph
            for label, quanta in graph.quanta_by_task.items():
                for data_id, quantum_id in quanta.items():
                    info = xgraph.nodes[quantum_id]
                    status = getattr(info.get("status"), "name", str(info.get("status")))
                    state = _QUANTUM_STATE.get(status, WmsStates.UNKNOWN)
                    did = " ".join(f"{k}={v}" for k, v in data_id.required.items() if k not in (
                        "instrument", "skymap"))
                    error = ""
                    if state == WmsStates.FAILED and with_errors:
                        error = self._quantum_error(info, label, data_id, str(quantum_id))
                    rows.append(QuantumRow(label, str(quantum_id), state, data_id=did, error=error,
                                           exit_code=1 if state == WmsStates.FAILED else None))
        return rows

    def _quantum_error(self, info: Any, label: str, data_id: Any, quantum_id: str) -> str:
        log = self._quantum_log(quantum_id)
        exc = info.get("exception")
        if exc is not None:
            type_name = getattr(exc, "type_name", "") or ""
            message = getattr(exc, "message", "") or str(exc)
            line = f"{label} {_did_text(data_id)}: {type_name.rsplit('.', 1)[-1]}: {message}".strip()[:500]
        elif log is not None:  # no exception recorded (killed, out of memory): what its log says
            found = _first_error_lines(log.read_text(encoding="utf-8", errors="replace"), 1)
            line = f"{label} {_did_text(data_id)}: {found[0] if found else 'failed, no error line in its log'}"
        else:
            line = f"{label} {_did_text(data_id)}: failed (no exception recorded; see the job logs)"
        return _with_log(line, str(log)) if log is not None else line

    def _quantum_log(self, quantum_id: str) -> Path | None:
        """The job log of one quantum: parsl names each job <quantum id>_<label>_<data id>; a cluster's job is
        named after the cluster, and its log names a quantum that failed by its id."""
        logs = self._job_logs_cached()
        for name, (_, path) in logs.items():
            if name.startswith(quantum_id):
                return path
        for label, path in logs.values():
            if label in (INIT_LABEL, FINAL_LABEL):
                continue
            try:
                if quantum_id in path.read_text(encoding="utf-8", errors="replace"):
                    return path
            except OSError:
                continue
        return None


# What pipetask logs of each quantum it executes (lsst.pipe.base.single_quantum_executor, lines 317 and 346 of
# the pinned weekly): "Execution of task 'T' on quantum {data id} took S seconds" / "... failed. Exception E: M";
# and after each (mp_graph_executor): "Executed N quanta successfully, F failed and R remain out of total T quanta."
_QUANTUM_LINE = re.compile(r"Execution of task '(?P<task>[^']+)' on quantum (?P<quantum>\{[^}]*\}) "
                           r"(?:took |failed\. Exception (?P<error>.*))")
_QUANTA_TOTAL = re.compile(r"remain out of total (\d+) quanta")


def _quanta_in_log(text: str) -> dict[tuple[str, str], tuple[WmsStates, str]]:
    """(task, data id) -> (state, error) of every quantum a job log says ended; a later line wins (a restart
    appends to the same log)."""
    out: dict[tuple[str, str], tuple[WmsStates, str]] = {}
    for m in _QUANTUM_LINE.finditer(text):
        error = m["error"]
        did = m["quantum"]
        fields = re.findall(r"(\w+): '?([^,'}]+)'?", did)
        shown = " ".join(f"{k}={v}" for k, v in fields if k in ("visit", "detector", "tract", "patch", "band",
                                                                 "exposure"))
        out[(m["task"], shown or did)] = ((WmsStates.FAILED, f"{m['task']} {shown}: {error.strip()}"[:500])
                                          if error is not None else (WmsStates.SUCCEEDED, ""))
    return out


def _did_text(data_id: Any) -> str:
    return " ".join(f"{k}={v}" for k, v in data_id.required.items() if k not in ("instrument", "skymap"))


def _epoch(iso: str) -> float:
    try:
        return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.UTC).timestamp() - 1
    except (TypeError, ValueError):
        return 0.0


def read_run_report(submit_dir: str | Path, return_exit_codes: bool = True) -> WmsRunReport:
    """The `WmsRunReport` of one local run (what `bps report --id <submit dir>` shows)."""
    s = RunReader(submit_dir).summary(with_errors=True)
    jobs = [WmsJobReport(wms_id=r.name, name=r.data_id or r.name, label=r.label, state=r.state) for r in s.rows]
    summary: dict[str, dict[WmsStates, int]] = {}
    for label in [*s.labels, *(r.label for r in s.rows)]:
        if label in (INIT_LABEL, FINAL_LABEL):
            continue
        summary.setdefault(label, dict.fromkeys(WmsStates, 0))
    for r in s.rows:
        summary.setdefault(r.label, dict.fromkeys(WmsStates, 0))[r.state] += 1
    state_counts = dict.fromkeys(WmsStates, 0)
    for r in s.rows:
        state_counts[r.state] += 1
    exit_codes: dict[str, list[int]] = {label: [] for label in summary}
    for r in s.rows:
        if r.state == WmsStates.FAILED:
            exit_codes.setdefault(r.label, []).append(r.exit_code or 1)
    info = WmsSpecificInfo()
    errors = [r.error for r in s.rows if r.error][:10]
    if s.message:
        info.add_message("{message}", message=s.message)
    for n, err in enumerate(errors):
        info.add_message(f"Error: {{error{n}}}", {f"error{n}": err})
    return WmsRunReport(
        wms_id=str(s.submit_dir), global_wms_id=str(s.submit_dir), path=str(s.submit_dir),
        label=s.payload or None, run=s.run or s.submit_dir.name, project=s.project or None,
        campaign=s.campaign or None, payload=s.payload or None, operator=s.operator or None,
        site=s.site or None, state=s.state, jobs=jobs, total_number_jobs=len(jobs),
        job_state_counts=state_counts, job_summary=summary,
        run_summary=";".join(f"{label}:{sum(c.values())}" for label, c in summary.items()),
        exit_code_summary=exit_codes if return_exit_codes else None, specific_info=info or None)


# ---- the service -------------------------------------------------------------------------------

class LocalParslService(ParslService):
    """ParslService that records its runs and can report on them (`bps report` / `bps status`)."""

    def submit(self, workflow: BaseWmsWorkflow, **kwargs: Any) -> None:
        with _Attempt(Path(workflow.path), "submit"):  # type: ignore[attr-defined]
            super().submit(workflow, **kwargs)

    def restart(self, out_prefix: str) -> tuple[str, str, str]:
        with _Attempt(Path(out_prefix), "restart"):
            return super().restart(out_prefix)

    def report(self, wms_workflow_id: str | None = None, user: str | None = None, hist: float = 0,
               pass_thru: str | None = None, is_global: bool = False,
               return_exit_codes: bool = False) -> tuple[list[WmsRunReport], str]:
        if not wms_workflow_id:
            return [], ("local parsl runs are found by their submit directory: "
                        "bps report --id <submit dir>")
        reader = RunReader(wms_workflow_id)
        if not reader.exists():
            return [], f"no local bps run in {wms_workflow_id} (expected the submit directory of a run)"
        return [read_run_report(wms_workflow_id, return_exit_codes=True)], ""

    def get_status(self, wms_workflow_id: str, hist: float = 1, is_global: bool = False) -> tuple[WmsStates, str]:
        s = RunReader(wms_workflow_id).summary(with_errors=False)
        return s.state, s.message

    def cancel(self, wms_id: str, pass_thru: str | None = None) -> tuple[bool, str]:
        attempts = _read_run_file(Path(wms_id)).get("attempts") or []
        process = _bps_process(attempts[-1]) if attempts and not attempts[-1].get("ended") else None
        if process is None or not running(process):
            return False, f"no running bps process for {wms_id}"
        pid = process.pid
        try:
            # bps leads its own group (a detached launch): stop its jobs too; only if it is still that process
            sent = signal_if_running(process, signal.SIGTERM, group=os.getpgid(pid) == pid)
        except OSError as exc:
            return False, f"could not stop bps process {pid}: {exc}"
        return (True, "") if sent else (False, f"no running bps process for {wms_id}")
