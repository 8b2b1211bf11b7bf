"""The error summary: failures of every attempt (a restarted run's too) grouped by WMS code or exception type,
task and site, with quanta and run counts, the rule and action, first / last seen and an example log; shown by
`campaign errors` and on the campaign page."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.cli.main import main
from campaignops.domain.states import FailedJob, RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RuleDecision, RunRecord
from campaignops.views.errors import error_code, error_groups, errors_markdown, occurrences

ROOT = Path(__file__).resolve().parents[2]
NAME = "hsc-rc2-w_2026_47"


def failed(n: int, at: str, *, errors: tuple[str, ...] = (), jobs: tuple[FailedJob, ...] = (), label: str = "calibrate",
           quanta: int = 2, rule: str = "", action: str = "") -> Attempt:
    decision = RuleDecision(at, action, "t", rule=rule) if action else None
    return Attempt(n, "submit" if n == 1 else "restart", f"o/a{n}", "h", "c", "l", state=RunState.FAILED,
                   tasks=(TaskCounts(label, (("FAILED", quanta), ("SUCCEEDED", 8))),), errors=errors,
                   failed_jobs=jobs, transitions=(Transition(at, RunState.FAILED),), decision=decision)


def ok(n: int) -> Attempt:
    return Attempt(n, "restart", f"o/a{n}", "h", "c", "l", state=RunState.SUCCEEDED)


def ledger() -> Ledger:
    oom = FailedJob("calibrate", "601", site="SLAC", exit_code=137, errors=("pilot 1212: Payload ran out of memory",),
                    log_url="https://bigpanda.cern.ch/job/601/")
    oom2 = replace(oom, job_id="602", log_url="https://bigpanda.cern.ch/job/602/")
    lost = FailedJob("isr", "603", site="CC-IN2P3", errors=("jobdispatcher 100: lost heartbeat : 2026-11-20 10:02",))
    return Ledger(NAME, (
        RunRecord("step1", "g1", "", (failed(1, "2026-11-20T10:00:00Z", jobs=(oom, lost), rule="pilot-out-of-memory",
                                              action="more-memory"), ok(2))),
        RunRecord("step1", "g2", "", (failed(1, "2026-11-21T08:00:00Z", jobs=(oom2,), rule="pilot-out-of-memory",
                                              action="more-memory"),)),
        RunRecord("step2", "g1", "", (failed(1, "2026-11-22T09:00:00Z", label="makeWarp", quanta=3,
                                              errors=("ValueError: PSF model has no stars",)),)),
    ))


def test_failures_are_grouped_by_code_task_and_site_across_attempts_and_runs() -> None:
    groups = error_groups(occurrences(NAME, ledger(), "USDF"))
    by = {(g.code, g.task, g.site): g for g in groups}
    oom = by[("pilot:1212", "calibrate", "SLAC")]
    assert (oom.quanta, oom.runs, oom.rule, oom.action) == (2, 2, "pilot-out-of-memory", "more-memory")
    assert (oom.first, oom.last) == ("2026-11-20T10:00:00Z", "2026-11-21T08:00:00Z")
    assert oom.log == "https://bigpanda.cern.ch/job/602/"  # the latest example
    assert by[("jobdispatcher:100", "isr", "CC-IN2P3")].quanta == 1  # the restarted run's failure counts
    psf = by[("ValueError", "makeWarp", "USDF")]  # no job records: the exception type, the campaign's site
    assert (psf.quanta, psf.runs, psf.rule) == (3, 1, "not decided")
    assert groups[0].code == "ValueError"  # most quanta first


def test_the_code_is_the_wms_code_else_the_exception_else_the_exit_code() -> None:
    assert error_code(["slurm TIMEOUT: slurmstepd: error: *** JOB 1 ON n CANCELLED AT t DUE TO TIME LIMIT ***"]) == \
        "slurm:TIMEOUT"
    assert error_code(["hold 34: Job has gone over memory limit of 4096 megabytes."]) == "hold:34"
    assert error_code(["lsst.pex.config.FieldValidationError: Field 'x' failed"]) == "FieldValidationError"
    assert error_code(["something odd"], (0, 139)) == "exit 139"
    assert error_code([]) == "unknown"


def test_the_campaign_page_and_campaign_errors_show_the_summary(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    markdown = "\n".join(errors_markdown(error_groups(occurrences(NAME, ledger(), "USDF"))))
    assert "## Errors" in markdown and "| `pilot:1212` | calibrate | SLAC | 2 | 2 | pilot-out-of-memory → more-memory |" \
        in markdown and "[log](https://bigpanda.cern.ch/job/602/)" in markdown
    assert errors_markdown([]) == []

    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    store.save(tmp_path / "campaigns" / NAME, ledger())
    assert main(["--root", str(tmp_path), "errors", NAME]) == 0
    out = capsys.readouterr().out
    assert "pilot:1212" in out and "pilot-out-of-memory -> more-memory" in out and "e.g. https://bigpanda" in out
    assert main(["--root", str(tmp_path), "errors", "--all", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert f"| {NAME} |" in out and "## Errors" in out
