"""The set-up stage that builds a fresh Butler repository before step 1: runs once, for real (bash
commands), recorded in the ledger before and after; a failure or a kill stops the steps, never loops."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.domain.errors import SubmitError
from campaignops.domain.states import RunState
from campaignops.engine import setup_stage
from campaignops.ledger.records import SetupRecord
from campaignops.planning.advance import Verdict, decide
from fakes.engine_site import Site, make_site


def _site(tmp_path: Path, *commands: str) -> Site:
    butler = {"repo": str(tmp_path / "repos" / "{campaign}-{stack}"), "inputs": ["in"], "output": "out/{campaign}",
              "setup": {"commands": list(commands)}}
    return make_site(tmp_path, campaign_extra={"butler": butler})


BUILD = "mkdir -p {repo} && echo 'built for {campaign} on {stack}' > {repo}/butler.yaml"


def test_the_fresh_repository_is_built_once_before_step1_is_submitted(tmp_path: Path) -> None:
    site = _site(tmp_path, BUILD)
    repo = tmp_path / "repos" / "camp-w_2026_47"
    assert site.campaign.butler_repo == str(repo)
    [first] = [d for d in decide(site.plan, site.ledger()) if d.run.key == "step1/visit1"]
    assert first.verdict == Verdict.WAITING and "set-up stage" in first.reason
    site.apply()
    assert site.wms.submissions("step1/visit1") == 0, "nothing is submitted before the repository exists"
    ledger = setup_stage.ensure(site.job(), site.ledger())
    assert ledger.setup is not None and ledger.setup.state == RunState.SUCCEEDED
    assert (repo / "butler.yaml").read_text() == "built for camp on w_2026_47\n"
    site.apply()
    assert site.wms.submissions("step1/visit1") == 1
    again = setup_stage.ensure(site.job(), site.ledger())
    assert again.setup == ledger.setup, "a built repository is never built again"


def test_a_failing_command_stops_the_stage_and_the_steps_until_it_is_started_again(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    site = _site(tmp_path, BUILD, f"test -e {flag} || (echo 'Error: instrument not registered' >&2; exit 3)")
    ledger = setup_stage.ensure(site.job(), site.ledger())
    assert ledger.setup is not None and ledger.setup.state == RunState.FAILED
    assert "command 2 of 2 exited 3" in ledger.setup.message
    assert any("instrument not registered" in e for e in ledger.setup.errors)
    site.apply()
    assert site.wms.submissions("step1/visit1") == 0
    assert setup_stage.ensure(site.job(), site.ledger()).setup == ledger.setup, "no rerun without --again"
    flag.touch()
    with pytest.raises(SubmitError, match="already exists"):  # the half-built repository is not reused
        setup_stage.ensure(site.job(), site.ledger(), again=True)
    import shutil
    shutil.rmtree(tmp_path / "repos")
    ledger = setup_stage.ensure(site.job(), site.ledger(), again=True)
    assert ledger.setup is not None and ledger.setup.state == RunState.SUCCEEDED and ledger.setup.attempt == 2


def test_a_stage_whose_job_was_killed_is_seen_as_interrupted_not_running_forever(tmp_path: Path) -> None:
    site = _site(tmp_path, BUILD)
    ctx = site.job()
    folder = ctx.workdir / "camp" / "setup"
    folder.mkdir(parents=True)
    (folder / "setup.pid").write_text(f"{os.getpid() + 10_000_000}\n")  # no such process
    killed = replace(site.ledger(), setup=SetupRecord(RunState.RUNNING, "x", "2026-11-30T10:00:00Z"))
    ledger = setup_stage.ensure(ctx, killed)
    assert ledger.setup is not None and ledger.setup.state == RunState.FAILED
    assert "interrupted" in ledger.setup.message


def test_the_stage_records_its_shell_with_start_time_and_a_reused_pid_is_not_taken_for_it(tmp_path: Path) -> None:
    import subprocess

    from campaignops.adapters.processes import identify, read_process

    site = _site(tmp_path, BUILD)
    ctx = site.job()
    ledger = setup_stage.ensure(ctx, site.ledger())
    recorded = read_process(ctx.workdir / "camp" / "setup" / "setup.pid")
    assert recorded is not None and recorded.started is not None and recorded.boot is not None
    # A stage RUNNING in the ledger whose recorded pid now belongs to an unrelated `sleep`: interrupted.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        real = identify(stranger.pid)
        assert real is not None and real.started is not None
        pid_file = ctx.workdir / "camp" / "setup" / "setup.pid"
        running_stage = replace(ledger, setup=SetupRecord(RunState.RUNNING, "x", "2026-11-30T10:00:00Z"))
        pid_file.write_text(real.text())  # the very process: still running, left alone
        assert setup_stage.ensure(ctx, running_stage).setup == running_stage.setup
        pid_file.write_text(replace(real, started=real.started - 100).text())  # the pid reused since
        after = setup_stage.ensure(ctx, running_stage)
        assert after.setup is not None and "interrupted" in after.setup.message
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_look_never_runs_the_stage(tmp_path: Path) -> None:
    site = _site(tmp_path, BUILD)
    ctx = site.job()
    ctx.may_launch = False
    assert setup_stage.ensure(ctx, site.ledger()).setup is None
    assert not (tmp_path / "repos").exists()
