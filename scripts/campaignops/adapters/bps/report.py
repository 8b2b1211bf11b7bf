"""Reports of any bps WMS plugin as plain JSON (`python -m campaignops.adapters.bps.report --id ...`), in or out of process.

`lsst.ctrl.bps.report.retrieve_report` is the programmatic form of `bps report`, but it only runs
inside the stack the campaign uses. With a stack setup command this module runs itself under that
stack (``bash -c "<setup> && python -m campaignops.adapters.bps.report --id ..."``) and reads the JSON it
prints; with no setup it calls `retrieve_report` in this process, which is much faster after the
first call (no interpreter start and no middleware import per observation).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...domain.errors import WmsError

REPORT_TIMEOUT = 300.0  # seconds; a monitor slower than this is "unreachable" this time
ENV_SERVICE = "BPS_WMS_SERVICE_CLASS"


class ReportError(WmsError):
    """The report could not be obtained (stack, plugin or WMS unavailable)."""


@dataclass(frozen=True)
class RunReport:
    """One `WmsRunReport` as plain values: states by name, counts by label."""

    wms_id: str
    path: str
    run: str
    state: str  # a WmsStates name
    job_state_counts: dict[str, int] = field(default_factory=dict)
    job_summary: dict[str, dict[str, int]] = field(default_factory=dict)
    exit_code_summary: dict[str, list[int]] = field(default_factory=dict)
    specific_info: str = ""
    total_number_jobs: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunReport:
        return cls(
            wms_id=str(d.get("wms_id") or ""), path=str(d.get("path") or ""), run=str(d.get("run") or ""),
            state=str(d.get("state") or "UNKNOWN"),
            job_state_counts={str(k): int(v) for k, v in (d.get("job_state_counts") or {}).items()},
            job_summary={str(label): {str(k): int(v) for k, v in counts.items()}
                         for label, counts in (d.get("job_summary") or {}).items()},
            exit_code_summary={str(k): [int(c) for c in v] for k, v in (d.get("exit_code_summary") or {}).items()},
            specific_info=str(d.get("specific_info") or ""),
            total_number_jobs=int(d.get("total_number_jobs") or 0))


@dataclass(frozen=True)
class ReportResult:
    """What `retrieve_report` returned: the run reports and the plugin's messages."""

    reports: tuple[RunReport, ...]
    messages: tuple[str, ...] = ()


def _state_name(state: Any) -> str:
    return str(getattr(state, "name", state or "UNKNOWN"))


def to_dict(report: Any) -> dict[str, Any]:
    """A `lsst.ctrl.bps.WmsRunReport` as JSON-able values."""
    return {
        "wms_id": report.wms_id, "path": report.path, "run": report.run, "label": report.label,
        "project": report.project, "campaign": report.campaign, "payload": report.payload,
        "operator": report.operator, "site": report.site, "state": _state_name(report.state),
        "total_number_jobs": report.total_number_jobs,
        "job_state_counts": {_state_name(k): v for k, v in (report.job_state_counts or {}).items()},
        "job_summary": {label: {_state_name(k): v for k, v in counts.items()}
                        for label, counts in (report.job_summary or {}).items()},
        "exit_code_summary": dict(report.exit_code_summary or {}),
        "specific_info": str(report.specific_info) if report.specific_info else "",
    }


def retrieve_in_process(run_id: str, wms_service_class: str | None = None) -> ReportResult:
    """`retrieve_report` for one run, in this process (needs the middleware importable here)."""
    try:
        from lsst.ctrl.bps.bps_reports import compile_code_summary, compile_job_summary
        from lsst.ctrl.bps.report import retrieve_report
    except ImportError as exc:
        raise ReportError(f"lsst.ctrl.bps is not importable here ({exc}); give the stack setup command") from exc
    service = wms_service_class or os.environ.get(ENV_SERVICE) or "lsst.ctrl.bps.htcondor.HTCondorService"
    try:
        runs, messages = retrieve_report(service, run_id=run_id, hist=2, return_exit_codes=True,
                                         postprocessors=[compile_job_summary, compile_code_summary])
    except Exception as exc:  # the plugin's own failure: the WMS could not be asked
        raise ReportError(f"{service} report for {run_id} failed: {type(exc).__name__}: {exc}") from exc
    return ReportResult(tuple(RunReport.from_dict(to_dict(r)) for r in runs), tuple(messages))


def retrieve(run_id: str, wms_service_class: str | None = None, setup: str = "",
             python: str = "python3", timeout: float = REPORT_TIMEOUT) -> ReportResult:
    """The report of one run: in process when `setup` is empty, else under the stack `setup` sets up."""
    if not setup.strip():
        return retrieve_in_process(run_id, wms_service_class)
    args = [python, "-m", "campaignops.adapters.bps.report", "--id", run_id]
    if wms_service_class:
        args += ["--wms-service-class", wms_service_class]
    command = f"{setup} && exec {shlex.join(args)}"
    env = dict(os.environ)
    # The stack's python must find this package even when it is not installed there.
    package_root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ReportError(f"report of {run_id} took more than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ReportError(f"report of {run_id} failed (exit {proc.returncode}): {tail}")
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ReportError(f"report of {run_id} printed no JSON: {proc.stdout[-300:]!r}") from exc
    return ReportResult(tuple(RunReport.from_dict(r) for r in data.get("reports", [])),
                        tuple(data.get("messages", [])))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m campaignops.adapters.bps.report",
        description="Print the bps report of one run as JSON (one line): {reports: [...], messages: [...]}.")
    parser.add_argument("--id", required=True, help="run id or submit directory")
    parser.add_argument("--wms-service-class", default=None,
                        help=f"bps WMS service class (default ${ENV_SERVICE} or HTCondor, like bps)")
    args = parser.parse_args(argv)
    try:
        result = retrieve_in_process(args.id, args.wms_service_class)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"reports": [r.__dict__ for r in result.reports], "messages": list(result.messages)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
