"""The local parsl WMS reading a bps cluster's job (several quanta in one pipetask process) quantum by quantum."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lsst]
ROOT = Path(__file__).resolve().parents[2]


def test_a_running_cluster_job_counts_each_quantum_its_log_says_ended_under_its_task(tmp_path: Path) -> None:
    """A bps cluster runs several quanta in one job (the demo clusters step1 by visit): while it runs, its log
    is read quantum by quantum — the ones that ended under their task's label, the failed one with its own error
    line, the rest running under the cluster's label. The log is a real cluster job's, cut mid-run
    (tests/fixtures/logs/cluster-running)."""
    from lsst.ctrl.bps import WmsStates

    from campaignops.adapters.processes import identify
    from campaignops.bps_plugins.local import RUN_FILE, read_run_report

    submit = tmp_path / "submit"
    logs = submit / "logs" / "visit" / "1003"
    logs.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "fixtures" / "logs" / "cluster-running" / "visit_1003.stderr", logs)
    me = identify(os.getpid())
    assert me is not None
    attempt = {"kind": "submit", "pid": os.getpid(), "started": "2026-12-06T23:37:40Z", "ended": None,
               "pid_started": me.started, "pid_boot": me.boot}  # this process plays the running bps
    (submit / RUN_FILE).write_text(json.dumps({"attempts": [attempt]}))
    report = read_run_report(submit)
    assert report.state == WmsStates.RUNNING
    counts = {label: {s.name: n for s, n in c.items() if n} for label, c in report.job_summary.items()}
    assert counts == {"calibrateDemo": {"SUCCEEDED": 2, "FAILED": 1}, "visit": {"RUNNING": 1}}
    [failed] = [j for j in report.jobs if j.state == WmsStates.FAILED]
    assert failed.label == "calibrateDemo" and failed.name == "detector=2 visit=1003 band=g"  # as its log names it
    [error] = [line for line in str(report.specific_info).splitlines() if "injected" in line]
    assert error.startswith("Error: calibrateDemo detector=2 visit=1003 band=g: RuntimeError: injected transient failure")
    assert str(logs / "visit_1003.stderr") in error, "the error names the cluster job's log"


def test_a_cluster_job_whose_bps_is_gone_leaves_its_unfinished_quanta_unknown_not_running(tmp_path: Path) -> None:
    """The same log, but the bps process ended without provenance (killed): the run is FAILED, the quanta the log
    says ended keep their states, and the one it never reached is not shown as running."""
    from lsst.ctrl.bps import WmsStates

    from campaignops.bps_plugins.local import RUN_FILE, read_run_report

    submit = tmp_path / "submit"
    logs = submit / "logs" / "visit" / "1003"
    logs.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "fixtures" / "logs" / "cluster-running" / "visit_1003.stderr", logs)
    attempt = {"kind": "submit", "pid": 0, "started": "2026-12-06T23:37:40Z", "ended": "2026-12-06T23:37:50Z",
               "error": "Killed"}
    (submit / RUN_FILE).write_text(json.dumps({"attempts": [attempt]}))
    report = read_run_report(submit)
    assert report.state == WmsStates.FAILED
    counts = {label: {s.name: n for s, n in c.items() if n} for label, c in report.job_summary.items()}
    assert counts == {"calibrateDemo": {"SUCCEEDED": 2, "FAILED": 1}, "visit": {"UNKNOWN": 1}}
