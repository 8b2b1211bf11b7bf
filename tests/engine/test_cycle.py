"""The one reconcile cycle (engine/cycle.py): a look starts nothing, acting launches, a dry run writes nothing,
and every command and both demos run this function rather than a copy of its stages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from campaignops.adapters.memory_wms import Crash
from campaignops.domain.states import RunState
from campaignops.engine import cycle
from fakes.engine_site import Site, make_site

KEYS = ("step1/visit1", "step1/visit2")
PACKAGE = Path(__file__).resolve().parents[2] / "scripts" / "campaignops"
STAGES = re.compile(r"\b(observe\.refresh|submit\.apply|autopilot\.apply_rules|transfers\.advance|"
                    r"controls\.from_spec)\(")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def ledger_bytes(site: Site) -> dict[str, bytes]:
    folder = site.root / "campaigns" / "camp" / "ledger"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_look_submits_nothing_and_acting_submits_what_is_ready(site: Site) -> None:
    ctx = site.job()
    ctx.may_launch = False
    looked = cycle.run(ctx, site.plan, site.ledger(), act=False, by="op")
    assert not looked.acted and looked.submitted == 0 and sum(site.wms.submissions(k) for k in KEYS) == 0
    assert {d.run.key for d in looked.decisions if d.verdict.value == "submit"} == {"step1/visit1", "step1/visit2"}

    acted = cycle.run(site.job(), site.plan, site.ledger(), act=True, by="op")
    assert acted.acted and acted.submitted == 2 and acted.working
    assert site.wms.submissions("step1/visit1") == 1 and site.wms.submissions("step1/visit2") == 1


def test_a_look_leaves_an_interrupted_submission_to_the_job_that_may_launch(site: Site) -> None:
    site.wms.crash_before_launch = True
    with pytest.raises(Crash):
        site.apply()
    site.wms.crash_before_launch = False
    site.look()
    assert site.wms.submissions("step1/visit1") == 0 and site.state("step1/visit1") == RunState.SUBMITTING
    site.status()
    assert site.wms.submissions("step1/visit1") == 1


def test_a_dry_run_apply_neither_launches_an_interrupted_submission_nor_writes_the_ledger(site: Site) -> None:
    site.wms.crash_before_launch = True
    with pytest.raises(Crash):
        site.apply()
    site.wms.crash_before_launch = False
    before = ledger_bytes(site)
    ctx = site.job()
    ctx.dry_run = True
    done = cycle.run(ctx, site.plan, site.ledger(), act=True, by="op")
    assert site.wms.submissions("step1/visit1") == 0 and site.wms.submissions("step1/visit2") == 0
    assert ledger_bytes(site) == before
    assert done.ledger.run("step1/visit1") is not None


def test_a_spec_hold_is_recorded_by_a_look_and_keeps_the_acting_cycle_from_submitting(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"hold": "wait for the new calibrations"})
    looked = site.look()
    assert looked.hold is not None and "new calibrations" in looked.hold.describe()
    done = cycle.run(site.job(), site.plan, site.ledger(), act=True, by="op")
    assert done.submitted == 0 and sum(site.wms.submissions(k) for k in KEYS) == 0
    assert {d.run.key for d in done.decisions if d.verdict.value == "on-hold"} == set(KEYS)


def test_every_command_and_both_demos_run_the_one_cycle_not_a_copy_of_its_stages() -> None:
    """The stages are called in engine/cycle.py only, so `campaign status`, `reconcile`, `apply`, `make demo`
    and `make demo-multisite` cannot drift apart (`campaign setup --again` runs the set-up stage on its own)."""
    copies = sorted(f"{path.relative_to(PACKAGE)}:{n}" for path in PACKAGE.rglob("*.py")
                    if path.name != "cycle.py"
                    for n, line in enumerate(path.read_text().splitlines(), 1) if STAGES.search(line))
    assert copies == []
    callers = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if re.search(r"\.cycle\(act=", path.read_text())}
    assert {"cli/commands/status.py", "cli/commands/apply.py", "demo/run.py", "demo/multisite.py"} <= callers


def test_a_failure_is_heard_with_the_error_lines_of_the_look_that_saw_it(site: Site) -> None:
    """Whoever hears a change (`make demo`'s "!! … FAILED; first error lines:", the status job's lines) is told the
    failed attempt's own error lines as this look read them — not the message an earlier look recorded ("bps is
    (re)starting the workflow"), which is what the ledger held when the change was heard."""
    from campaignops.demo.control import error_lines

    cycle.run(site.job(), site.plan, site.ledger(), act=True, by="op")  # submits both
    site.wms.finish("step1/visit1", RunState.FAILED, failed=1, errors=("calibrate visit=1: RuntimeError: boom",))
    heard: list[Any] = []
    cycle.run(site.job(), site.plan, site.ledger(), act=False, by="op", seen=heard.append)
    [failed] = [c for c in heard if c.new == RunState.FAILED]
    assert failed.run_key == "step1/visit1" and error_lines(failed) == ("calibrate visit=1: RuntimeError: boom",)
    assert all(c.errors == () for c in heard if c.new != RunState.FAILED)
