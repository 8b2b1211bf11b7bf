"""Benchmark: checks of the output on a 10,000-run campaign (issue 21: at most one Butler query per check a cycle).

A campaign whose step1 has N runs (default 10,000), all SUCCEEDED, with three checks (a count, a completeness,
a metric) and a preflight of its inputs (`demo_raw`: one census, then the TAGGED freeze once complete); step2
requires it. Three cycles of the checks stage (`engine/checks.evaluate`) and of the plan's
decisions (`planning/advance.decide`, which holds step2 for the checks), against a real demo Butler repository
(`Measurements` wrapped to count its calls: the output runs hold nothing, so every query is answered at once).
Printed: the Butler calls of each cycle (3 checks + the preflight's census and freeze, then 0 while the output
and the inputs are the same), and the wall / CPU time of
the stage and of `decide` with and without checks.

Usage: python benchmarks/checks_bench.py [runs]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from campaignops.adapters.butler import ButlerMeasurements
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.demo import DEFAULTS_COLLECTION, INSTRUMENT
from campaignops.demo.repo import build
from campaignops.domain.model import Campaign, Plan, Profile
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.engine.checks import evaluate
from campaignops.engine.context import Context
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.planning.advance import decide
from campaignops.planning.plan import make_plan
from campaignops.ports import InputCensus

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "scripts" / "campaignops" / "demo" / "pipeline.yaml"
CHECKS = [{"name": "calexps", "count": "demo_calexp", "min": 0},
          {"name": "calexps-complete", "completeness": "demo_calexp", "min": 0},
          {"name": "visit-flux", "metric": {"dataset": "demo_visit_summary", "key": "mean_flux"}}]


class Counting:
    """The real ButlerMeasurements, its calls counted."""

    def __init__(self, inner: ButlerMeasurements, calls: list[str]) -> None:
        self.inner, self.calls = inner, calls

    def count(self, dataset_type: str, collections: Sequence[str]) -> int:
        self.calls.append(f"count {dataset_type}")
        return self.inner.count(dataset_type, collections)

    def values(self, dataset_type: str, collections: Sequence[str], key: str) -> list[float]:
        self.calls.append(f"values {dataset_type}")
        return self.inner.values(dataset_type, collections, key)

    def census(self, dataset_type: str, collections: Sequence[str], where: str, show: int) -> InputCensus:
        self.calls.append(f"census {dataset_type}")
        return self.inner.census(dataset_type, collections, where, show)

    def freeze(self, tagged: str, dataset_type: str, collections: Sequence[str], where: str) -> int:
        self.calls.append(f"freeze {dataset_type}")
        return self.inner.freeze(tagged, dataset_type, collections, where)

    def close(self) -> None:
        self.inner.close()


def ledger_of(n: int) -> Ledger:
    runs = []
    for i in range(n):
        a = Attempt(1, "submit", f"big/step1/g{i:05d}/a01", "h" * 16, f"/w/g{i}.yaml", f"/w/g{i}",
                    submit_dir=f"/w/g{i}/submit", wms_id=str(1000 + i), submitted_at="2026-11-21T00:00:00Z",
                    state=RunState.SUCCEEDED, tasks=(TaskCounts("calibrateDemo", (("SUCCEEDED", 8),)),),
                    transitions=(Transition("2026-11-21T00:00:00Z", RunState.SUCCEEDED),))
        runs.append(RunRecord("step1", f"g{i:05d}", f"visit IN ({i})", (a,)))
    frozen = (("step1", tuple((f"g{i:05d}", f"visit IN ({i})", 1) for i in range(n))),)
    return Ledger("big", tuple(runs), frozen)


def timed[T](fn: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = root / "repo"
        build(repo)
        cdir = root / "campaigns" / "big"
        profile = Profile("p", "d", "USDF", "panda", "", (("wmsServiceClass", "x"),))

        def campaign_with(checks: list[dict[str, object]], **top: object) -> Campaign:
            data = {"name": "big", "description": "d", "operator": "o", "profile": "p", "stack": {"tag": "w"},
                    "butler": {"repo": str(repo), "inputs": [DEFAULTS_COLLECTION], "output": "big"},
                    "pipeline": str(PIPELINE), "data_query": f"instrument='{INSTRUMENT}'",
                    "steps": [{"name": "step1", "subsets": ["step1"], "split": {"by": "query", "dimension": "visit"},
                               "checks": checks},
                              {"name": "step2", "subsets": ["step2"]}], **top}
            return Campaign(**{**campaign_from_dict(data, profile).__dict__, "path": cdir / "campaign.yaml"})

        ledger = ledger_of(n)
        store.save(cdir, ledger)
        plain = make_plan(campaign_with([]), frozen=dict(ledger.frozen_groups))
        _, wall0, cpu0 = timed(lambda: decide(plain, ledger))
        campaign = campaign_with(CHECKS, preflight={"inputs": ["demo_raw"]})
        plan = make_plan(campaign, frozen=dict(ledger.frozen_groups))
        print(f"{n} runs, {len(CHECKS)} checks on step1 and a preflight; decide() without checks: {wall0:.2f} s wall, "
              f"{cpu0:.2f} s CPU")
        for i in range(1, 4):
            ledger, calls, wall, cpu = one_cycle(root, cdir, campaign, plan, repo, f"2026-11-21T12:0{i}:00Z")
            decisions, dwall, dcpu = timed(lambda: decide(plan, ledger))  # noqa: B023 - called at once
            step2 = next(d for d in decisions if d.run.step == "step2")
            print(f"cycle {i}: {len(calls)} Butler calls ({', '.join(calls) or 'none'}); checks stage {wall:.2f} s "
                  f"wall, {cpu:.2f} s CPU (ledger read included); decide() {dwall:.2f} s wall, {dcpu:.2f} s CPU; "
                  f"step2 {step2.verdict.value}")


def one_cycle(root: Path, cdir: Path, campaign: Campaign, plan: Plan, repo: Path,
              now: str) -> tuple[Ledger, list[str], float, float]:
    """The checks stage of one cycle (the ledger read from disk first, as a new job does); the Butler calls."""
    calls: list[str] = []
    ctx = Context(root, campaign, None, root / "work", now=lambda: now,  # type: ignore[arg-type]  # no WMS needed
                  say=lambda _m: None, measurements=lambda _site: Counting(ButlerMeasurements(repo), calls))
    ledger, wall, cpu = timed(lambda: evaluate(ctx, plan, store.load(cdir, "big")))
    return ledger, calls, wall, cpu

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
