"""Useful error lines for every failure kind, from a corpus of real logs (tests/fixtures/logs, README there)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from campaignops.adapters.bps.launcher import SUBMIT_LOG, BpsWms
from campaignops.domain.logtext import first_error_lines, logs_named
from campaignops.domain.model import Campaign, Profile
from campaignops.domain.states import RunState
from campaignops.ledger.records import Attempt, RunRecord
from campaignops.ports import Submission
from campaignops.views import issue

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def text(case: str, pattern: str) -> str:
    (path,) = (LOGS / case).rglob(pattern)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("case", "pattern", "first"), [
    ("payload-failed-quantum", "*.stderr",
     "Execution of task 'calibrateDemo' on quantum {instrument: 'DemoCam', detector: 2, visit: 1001, band: 'g', "
     "day_obs: 20261101, physical_filter: 'DemoCam-g'} failed. Exception RuntimeError: injected failure for "
     "visit=1001 detector=2: simulated calibration blow-up"),
    ("qgraph-missing-collection", "quantumGraphGeneration.out",
     "MissingCollectionError: No collection with name 'DemoCam/no-such-collection' found."),
    ("qgraph-bad-query", "quantumGraphGeneration.out",
     "InvalidQueryError: Column types for comparison visit == 'abc' do not agree (int, string)."),
    ("submit-missing-pipeline", SUBMIT_LOG, "FileNotFoundError: [Errno 2] No such file or directory: "),
    ("submit-missing-site-file", SUBMIT_LOG,
     "FileNotFoundError: [Errno 2] No such file or directory: '/sdf/group/rubin/no-such/bps_usdf.yaml'"),
    ("submit-bad-service-class", SUBMIT_LOG,
     "AttributeError: module 'lsst.ctrl.bps.parsl' has no attribute 'ParslServise'. Did you mean: 'ParslService'?"),
    ("stack-setup-missing-release", SUBMIT_LOG,
     "stack set-up failed: /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib/w_2026_47/loadLSST.bash: "
     "No such file or directory"),
    ("stack-setup-no-eups", SUBMIT_LOG, "stack set-up failed: setup: command not found"),
    ("payload-killed", "payload.stderr", "job killed: Killed (SIGKILL: usually out of memory): python3 -c "),
    ("payload-out-of-memory", "payload.stderr", "out of memory: MemoryError"),
    ("htcondor-held-memory", "*.log",
     "out of memory (held): Job raised a signal 9. Handling job as if it has gone over memory limit."),
])
def test_the_first_line_says_what_went_wrong(case: str, pattern: str, first: str) -> None:
    lines = first_error_lines(text(case, pattern))
    assert lines and lines[0].startswith(first), lines
    # Lines that only say "something failed" never hide the cause.
    assert not any(line.startswith(("Caught an exception", "MPGraphExecutorError", "BashExitFailure"))
                   for line in lines), lines


def test_lsst_exceptions_are_kept_with_their_module_path_cut() -> None:
    log = ("ERROR 2026-11-30T22:08:20.916+00:00 lsst.daf.butler.cli.utils ()(utils.py:218) - Caught an exception, "
           "details are in traceback:\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
           "lsst.pipe.base._status.NoWorkFound: no inputs for this quantum\n")
    assert first_error_lines(log) == ["NoWorkFound: no inputs for this quantum"]


def test_a_wrapper_alone_is_still_shown() -> None:
    assert first_error_lines("lsst.pipe.base.mp_graph_executor.MPGraphExecutorError: One or more tasks failed "
                             "during execution.\n") == [
        "MPGraphExecutorError: One or more tasks failed during execution."]


@pytest.mark.parametrize(("line", "shown"), [
    ("(Job was held for the following reason: Job has gone over cgroup memory limit of 6000 megabytes. "
     "Last measured usage: 6125 megabytes.)",
     "out of memory (held): Job has gone over cgroup memory limit of 6000 megabytes. Last measured usage: "
     "6125 megabytes."),
    ('HoldReason = "Error from slot1_12@sdfrome041: Failed to open \'/sdf/x.qg\' as standard input"',
     "held: Error from slot1_12@sdfrome041: Failed to open \'/sdf/x.qg\' as standard input"),
])
def test_htcondor_hold_reasons_as_bps_report_and_condor_q_show_them(line: str, shown: str) -> None:
    assert first_error_lines(line) == [shown]


def test_informational_lines_about_memory_are_not_errors() -> None:
    assert first_error_lines("INFO 2026-11-30T22:08:20.916+00:00 lsst.x ()(x.py:1) - peak memory 3 GB, "
                             "no out of memory\n") == []


def launch_copy(case: str, tmp_path: Path) -> Path:
    target = tmp_path / case
    shutil.copytree(LOGS / case, target)
    return target


def test_a_quantum_graph_failure_names_its_own_log_found_again_in_the_launch_directory(tmp_path: Path) -> None:
    launch_dir = launch_copy("qgraph-missing-collection", tmp_path)
    errors = BpsWms._launch_errors(launch_dir)
    (qgraph_log,) = launch_dir.rglob("quantumGraphGeneration.out")  # bps named a path that no longer exists
    assert errors[0] == ("MissingCollectionError: No collection with name 'DemoCam/no-such-collection' found. "
                         f"(log: {qgraph_log})")
    assert len([e for e in errors if "MissingCollectionError" in e]) == 1  # bps-submit.log repeats it


def test_a_failed_stack_set_up_is_a_failed_run_with_its_reason(tmp_path: Path) -> None:
    # bps never started: no run id, no submit dir, the launch's process is gone.
    launch_dir = launch_copy("stack-setup-missing-release", tmp_path)
    obs = BpsWms().observe(Submission(submit_dir="", wms_id=""), launch_dir, setup="")
    assert obs.state == RunState.FAILED
    assert obs.errors == ("stack set-up failed: /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib/w_2026_47/"
                          "loadLSST.bash: No such file or directory",)


@pytest.mark.parametrize(("case", "expected"), [
    ("payload-failed-quantum", "Exception RuntimeError: injected failure for visit=1001 detector=2"),
    ("htcondor-held-memory", "out of memory (held): Job raised a signal 9"),
])
def test_job_errors_name_the_failed_jobs_own_log(case: str, expected: str, tmp_path: Path) -> None:
    copied = launch_copy(case, tmp_path)
    (submit_dir,) = {p.parent.parent for p in copied.rglob("*") if p.parent.name in ("logs", "jobs")}
    errors = BpsWms._log_errors(submit_dir)
    assert len(errors) == 1 and expected in errors[0]
    (log,) = logs_named(errors)
    assert Path(log).is_file() and Path(log).is_relative_to(submit_dir)


def test_the_failure_issue_lists_the_failed_quanta_logs() -> None:
    profile = Profile("usdf-panda", "d", "USDF", "panda", "", ())
    campaign = Campaign("c", "d", "op", "dev", "", profile, "w_2026_47", "", "/repo", ("in",), "out/{campaign}",
                        "/p.yaml", "", __import__("campaignops.domain.model", fromlist=["Resources"]).Resources(), ())
    errors = tuple(f"calibrate visit={v}: RuntimeError: boom (log: /submit/logs/calibrate/{v}.stderr)"
                   for v in range(7))
    attempt = Attempt(1, "submit", "out/a01", "h", "c.yaml", "/l", submit_dir="/submit", state=RunState.FAILED,
                      errors=errors)
    body = issue.issue_body(campaign, RunRecord("step1", "all", "", (attempt,)), attempt, retry_hint="")
    assert ("| logs of the failed jobs | `/submit/logs/calibrate/0.stderr`, `/submit/logs/calibrate/1.stderr`, "
            "`/submit/logs/calibrate/2.stderr`, `/submit/logs/calibrate/3.stderr`, "
            "`/submit/logs/calibrate/4.stderr` and 2 more |") in body
