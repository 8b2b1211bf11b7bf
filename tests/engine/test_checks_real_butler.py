"""Checks of the output on a real Butler: two instances of one template, the second writes a tract flux 50 %
higher, its regression check fails, the next step is held and one issue names the metric, both values and
the bound; `campaign accept-check` lets the step start and closes the issue. Runs go through the in-memory
WMS; what they "wrote" is put into their output RUN collections of a real demo Butler repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from campaignops.adapters.butler import ButlerMeasurements
from campaignops.adapters.folder_tracker import FolderTracker
from campaignops.adapters.memory_wms import InMemoryWms
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.states import RunState
from campaignops.engine import controls, cycle
from campaignops.engine.context import Context
from campaignops.engine.notify import sync
from campaignops.ledger import store
from campaignops.planning.plan import make_plan
from fakes.engine_site import PROFILE, Clock

pytestmark = [pytest.mark.lsst]

TEMPLATE_LINE = "# Made by `campaign new --from demo-weekly --stack {stack}` on 2026-11-30;\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from campaignops.demo.repo import build

    root = tmp_path_factory.mktemp("butler") / "repo"
    build(root)
    return root


DEMO_PIPELINE = Path(__file__).resolve().parents[2] / "scripts" / "campaignops" / "demo" / "pipeline.yaml"


def spec(name: str, repo: Path) -> dict[str, Any]:
    return {
        "name": name, "description": "d", "operator": "op", "profile": "local-parsl",
        "stack": {"tag": name}, "butler": {"repo": str(repo), "inputs": ["DemoCam/defaults"],
                                           "output": "demo/{campaign}"},
        "pipeline": str(DEMO_PIPELINE),
        "steps": [
            {"name": "step4", "subsets": ["step4"],
             "checks": [{"name": "tract-flux", "metric": {"dataset": "demo_tract_summary", "key": "mean_flux"},
                         "min": 1, "regression": {"max_change": "10%"}},
                        {"name": "tracts", "count": "demo_tract_summary", "min": 1},
                        {"name": "complete", "completeness": "demo_tract_summary"}]},
            {"name": "step5", "subsets": ["step5"]},
        ],
    }


class Instance:
    def __init__(self, root: Path, name: str, repo: Path, wms: InMemoryWms, **extra: Any) -> None:
        data = spec(name, repo) | extra
        path = root / "campaigns" / name / "campaign.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(TEMPLATE_LINE.format(stack=name) + yaml.safe_dump(data), encoding="utf-8")
        self.root, self.repo, self.wms, self.clock = root, repo, wms, Clock()
        self.campaign = campaign_from_dict(data, PROFILE, path=path)
        self.plan = make_plan(self.campaign)
        self.said: list[str] = []

    def job(self) -> Context:
        return Context(root=self.root, campaign=self.campaign, wms=self.wms, workdir=self.root / "work",
                       now=self.clock, say=self.said.append,
                       measurements=lambda _site: ButlerMeasurements(self.repo))

    def ledger(self) -> Any:
        return store.load(self.root / "campaigns" / self.campaign.name, self.campaign.name)

    def reconcile(self) -> Any:
        self.clock.advance(5)
        return cycle.run(self.job(), self.plan, self.ledger(), act=True, by="the spec")

    def write_summary(self, mean_flux: float) -> None:
        """What step4's tractSummaryDemo quantum writes: one demo_tract_summary into the run's output RUN."""
        from lsst.daf.butler import Butler, DatasetType

        record = self.ledger().run("step4/all")
        butler = Butler.from_config(str(self.repo), writeable=True)
        try:
            dataset_type = DatasetType("demo_tract_summary", ("skymap", "tract"), "StructuredDataDict",
                                       universe=butler.dimensions)
            butler.registry.registerDatasetType(dataset_type)
            butler.registry.registerRun(record.current.output_run)
            butler.put({"n_coadds": 4, "mean_flux": mean_flux}, "demo_tract_summary",
                       skymap="demo_rings", tract=0, run=record.current.output_run)
        finally:
            butler.close()


def test_a_changed_metric_trips_the_regression_check_holds_the_next_step_and_opens_one_issue(
        tmp_path: Path, repo: Path) -> None:
    wms = InMemoryWms()
    issues = FolderTracker(tmp_path / "issues")

    last_week = Instance(tmp_path, "demo-w01", repo, wms)
    last_week.reconcile()  # submits step4
    last_week.write_summary(1000.0)
    wms.finish("step4/all", RunState.SUCCEEDED, label="tractSummaryDemo", succeeded=1)
    done = last_week.reconcile()  # step4 succeeded: its checks are evaluated, step5 submitted
    first = done.ledger.check("step4/tract-flux")
    assert first is not None and first.verdict == "pass" and first.value == 1000.0 and first.previous is None
    assert done.ledger.check("step4/tracts").value == 1.0
    assert done.ledger.run("step5/all") is not None, "a passed check lets the next step start"

    this_week = Instance(tmp_path, "demo-w02", repo, InMemoryWms())
    this_week.reconcile()
    this_week.write_summary(1500.0)  # a deliberately changed configuration: flux 50 % higher
    this_week.wms.finish("step4/all", RunState.SUCCEEDED, label="tractSummaryDemo", succeeded=1)
    held = this_week.reconcile()
    record = held.ledger.check("step4/tract-flux")
    assert record.verdict == "fail" and record.value == 1500.0
    assert record.previous == 1000.0 and record.previous_campaign == "demo-w01"
    assert held.ledger.run("step5/all") is None, "a failed check holds the steps that require its step"
    step5 = next(d for d in held.decisions if d.run.key == "step5/all")
    assert step5.verdict.value == "blocked" and "accept-check demo-w02 step4/tract-flux" in step5.reason

    for _ in range(2):  # notify twice: still one issue
        sync(this_week.campaign, held.ledger, issues, plan=this_week.plan)
    opened = [i for i in issues.issues("demo-w02") if "check:" in i.key]
    assert len(opened) == 1 and opened[0].open
    body = opened[0].body
    assert "mean_flux" in body and "demo_tract_summary" in body
    assert "| this instance (demo-w02) | 1500 |" in body and "| last instance | 1000 (demo-w01) |" in body
    assert "change ≤ 10 % from the last instance" in body and "changed 50 %" in body

    # Someone looks, accepts it: recorded with who and why, step5 starts, the issue closes.
    ctx = this_week.job()
    controls.accept_check(ctx, this_week.ledger(), "step4/tract-flux", by="alice", reason="new flux calibration")
    after = this_week.reconcile()
    assert after.ledger.run("step5/all") is not None
    control = after.ledger.controls[-1]
    assert (control.action, control.target, control.by) == ("accept-check", "check:step4/tract-flux", "alice")
    sync(this_week.campaign, after.ledger, issues, plan=this_week.plan)
    assert not [i for i in issues.issues("demo-w02") if "check:" in i.key and i.open]


def test_a_butler_that_cannot_answer_leaves_the_check_unknown_and_the_next_step_waiting(
        tmp_path: Path, repo: Path) -> None:
    inst = Instance(tmp_path, "demo-w03", repo, InMemoryWms())
    inst.reconcile()
    inst.wms.finish("step4/all", RunState.SUCCEEDED, label="tractSummaryDemo", succeeded=1)
    inst.repo = tmp_path / "no-such-repo"  # the Butler cannot be opened
    done = inst.reconcile()
    record = done.ledger.check("step4/tract-flux")
    assert record.verdict == "unknown" and "cannot open Butler repository" in record.why
    step5 = next(d for d in done.decisions if d.run.key == "step5/all")
    assert step5.verdict.value == "waiting" and "not evaluated yet" in step5.reason

    inst.repo = tmp_path / "still-no-repo"  # still down, another message: the same answer, no new line
    assert inst.reconcile().ledger.check("step4/tract-flux") == record

    inst.repo = repo  # it answers again: evaluated again, a missing metric dataset is a failure, not unknown
    again = inst.reconcile().ledger.check("step4/tract-flux")
    assert again.verdict == "fail" and "no demo_tract_summary dataset" in again.why


def test_a_check_is_evaluated_once_for_the_same_output(tmp_path: Path, repo: Path) -> None:
    inst = Instance(tmp_path, "demo-w04", repo, InMemoryWms())
    inst.reconcile()
    inst.write_summary(10.0)
    inst.wms.finish("step4/all", RunState.SUCCEEDED, label="tractSummaryDemo", succeeded=1)
    at = inst.reconcile().ledger.check("step4/tract-flux").at
    inst.said.clear()
    assert inst.reconcile().ledger.check("step4/tract-flux").at == at
    assert not [line for line in inst.said if "check step4/" in line], "no Butler query for an output already judged"


def test_outputs_short_of_the_steps_acceptance_hold_the_next_step(tmp_path: Path, repo: Path) -> None:
    """Two tract summaries were to be written (the run's tractSummaryDemo quanta), one is in the Butler: 50 %
    is below the step's acceptance (all of them, by default), so step5 does not start."""
    inst = Instance(tmp_path, "demo-w05", repo, InMemoryWms())
    inst.reconcile()
    inst.write_summary(10.0)
    inst.wms.finish("step4/all", RunState.SUCCEEDED, label="tractSummaryDemo", succeeded=2)
    done = inst.reconcile()
    record = done.ledger.check("step4/complete")
    assert (record.verdict, record.value, record.expected, record.bounds) == ("fail", 0.5, 2.0, "≥ 100 %")
    assert done.ledger.run("step5/all") is None


def test_completeness_of_every_output_type_shows_each_types_numbers_and_holds_the_next_step(
        tmp_path: Path, repo: Path) -> None:
    """`completeness: all`: each type the step's tasks write, produced over expected, one Butler count per type;
    here one of two tract summaries is in the Butler and no task metadata: the lowest (0 %) holds step5, and the
    record says each type's numbers."""
    steps = [{"name": "step4", "subsets": ["step4"], "checks": [{"name": "outputs", "completeness": "all"}]},
             {"name": "step5", "subsets": ["step5"]}]
    inst = Instance(tmp_path, "demo-w06", repo, InMemoryWms(), steps=steps)
    inst.reconcile()
    inst.write_summary(10.0)
    inst.wms.finish("step4/all", RunState.SUCCEEDED, label="tractSummaryDemo", succeeded=2)
    done = inst.reconcile()
    record = done.ledger.check("step4/outputs")
    assert (record.verdict, record.value, record.expected) == ("fail", 0.0, 2.0)
    assert "per type: tractSummaryDemo_metadata 0/2, demo_tract_summary 1/2" in record.why
    assert done.ledger.run("step5/all") is None, "outputs short of the step's acceptance hold the next step"
    from campaignops.views.checks import campaign_checks

    table = campaign_checks(inst.plan, done.ledger)
    assert "step4/outputs  every output type produced / expected (the lowest)  0 %" in table
    assert "FAILED: 0 < 1 — per type: tractSummaryDemo_metadata 0/2, demo_tract_summary 1/2" in table


def test_a_raw_missing_from_the_butler_is_listed_by_the_preflight_and_step1_waits_until_it_is_back(
        tmp_path: Path) -> None:
    from lsst.daf.butler import Butler

    from campaignops.demo import DEFAULTS_COLLECTION, RAW_RUN
    from campaignops.demo.repo import build

    own = tmp_path / "repo"  # its own repository: a raw is removed from it
    build(own)
    issues = FolderTracker(tmp_path / "issues")
    inst = Instance(tmp_path, "demo-w06", own, InMemoryWms(), preflight={"inputs": ["demo_raw"]},
                    data_query="instrument='DemoCam'")
    butler = Butler.from_config(str(own), writeable=True)
    ref = butler.find_dataset("demo_raw", collections=DEFAULTS_COLLECTION, instrument="DemoCam", visit=1003,
                              detector=2)
    kept = butler.get(ref)
    butler.pruneDatasets([ref], disassociate=True, unstore=True, purge=True)

    waiting = inst.reconcile()
    record = waiting.ledger.check("preflight/demo_raw")
    assert record.verdict == "fail" and record.expected is not None and record.value == record.expected - 1
    assert "1 of " in record.why and "detector=2 instrument=DemoCam visit=1003" in record.why
    assert waiting.ledger.run("step4/all") is None, "nothing is submitted while an input is missing"
    step4 = next(d for d in waiting.decisions if d.run.key == "step4/all")
    assert step4.verdict.value == "waiting" and step4.reason.startswith("preflight: 1 of ")
    sync(inst.campaign, waiting.ledger, issues, plan=inst.plan)
    again = inst.reconcile()  # still missing: the same record, no new comment on the issue
    assert again.ledger.check("preflight/demo_raw") == record
    assert sync(inst.campaign, again.ledger, issues, plan=inst.plan) == []
    [issue] = [i for i in issues.issues("demo-w06") if "check:" in i.key]
    assert "visit=1003" in issue.body and "Step 1 waits" in issue.body

    butler.put(kept, "demo_raw", instrument="DemoCam", visit=1003, detector=2, run=RAW_RUN)  # it arrives
    butler.close()
    done = inst.reconcile()
    passed = done.ledger.check("preflight/demo_raw")
    assert passed.verdict == "pass" and passed.value == passed.expected and passed.tagged == "demo/demo-w06/preflight-inputs"
    assert done.ledger.run("step4/all") is not None
    check = Butler.from_config(str(own))
    try:
        assert len(check.query_datasets("demo_raw", collections=passed.tagged)) == passed.expected
    finally:
        check.close()
    sync(inst.campaign, done.ledger, issues, plan=inst.plan)
    assert not [i for i in issues.issues("demo-w06") if "check:" in i.key and i.open]
