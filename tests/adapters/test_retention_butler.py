"""`campaign retention apply` on a real demo Butler: exactly the expired RUN collections go, counted and
recorded in the ledgers; chains keep what they protect; active and young campaigns are not touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import warm
from campaignops.demo import INPUT_DATASET_TYPE, INSTRUMENT, RAW_RUN
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lsst, pytest.mark.slow]
LONG_AGO = "2026-10-01T00:00:00+00:00"


def attempt(n: int, kind: str, state: RunState, output_run: str, at: str = LONG_AGO) -> Attempt:
    return Attempt(number=n, kind=kind, output_run=output_run, config_hash="h", config_path="c", launch_dir="l",
                   submit_dir=f"/submit/{output_run}", state=state, tasks=(TaskCounts("isr", (("SUCCEEDED", 1),)),),
                   transitions=(Transition(at, state),))


def retried(chain: str, group: str, at: str = LONG_AGO) -> RunRecord:
    """A failed attempt (a01) replaced by a resubmission with more memory (a02)."""
    return RunRecord("step1", group, "", (attempt(1, "submit", RunState.FAILED, f"{chain}/step1/{group}/a01", at),
                                          attempt(2, "retry-memory", RunState.SUCCEEDED, f"{chain}/step1/{group}/a02", at)))


class Control:
    def __init__(self, root: Path, butler: Path) -> None:
        self.root, self.butler = root, butler
        (root / "campaigns").mkdir(parents=True)
        shutil.copytree(ROOT / "campaigns" / "profiles", root / "campaigns" / "profiles")
        self.demo: Any = YAML().load(ROOT / "campaigns" / "demo" / "campaign.yaml")

    def add(self, name: str, ledger_runs: tuple[RunRecord, ...], header: str = "", **retention: Any) -> None:
        spec = dict(self.demo)
        spec.update(name=name, retention=retention, steps=[{"name": "step1", "subsets": ["step1"]}],
                    pipeline=str(ROOT / "scripts" / "campaignops" / "demo" / "pipeline.yaml"))
        spec["butler"] = {**spec["butler"], "repo": str(self.butler)}
        folder = self.root / "campaigns" / name
        folder.mkdir()
        with (folder / "campaign.yaml").open("w") as fh:
            fh.write(header)
            YAML().dump(spec, fh)
        store.save(folder, Ledger(name, ledger_runs))


def butler_state(repo: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Datasets per RUN collection and members per CHAINED collection."""
    from lsst.daf.butler import Butler, CollectionType

    with Butler.from_config(str(repo)) as butler:
        runs = {i.name: len(butler.query_all_datasets(i.name, find_first=False, limit=None))
                for i in butler.collections.query_info("*", CollectionType.RUN)}
        chains = {i.name: list(i.children) for i in butler.collections.query_info("*", CollectionType.CHAINED)}
    return runs, chains


def fill(repo: Path, runs: dict[str, int], chains: dict[str, list[str]]) -> None:
    """RUN collections holding `n` demo datasets each, and the chains holding them."""
    from lsst.daf.butler import Butler, CollectionType

    with Butler.from_config(str(repo), writeable=True) as butler:
        for run, n in runs.items():
            butler.registry.registerRun(run)
            for detector in range(n):
                butler.put({"copy": detector}, INPUT_DATASET_TYPE, instrument=INSTRUMENT, visit=1001,
                           detector=detector, run=run)
        for chain, members in chains.items():
            butler.registry.registerCollection(chain, CollectionType.CHAINED)
            butler.registry.setCollectionChain(chain, members)


def retention(control: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGNOPS_WORKDIR": str(control.parent / "work")}
    proc = subprocess.run([*warm.campaign(), "--root", str(control), "retention", *args],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_apply_removes_exactly_the_expired_runs_and_records_them(tmp_path: Path, demo_butler: Path) -> None:
    repo = demo_butler
    control = Control(tmp_path / "control", repo)
    recent = (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="seconds")
    weekly = "# Made by `campaign new --from ci-weekly --stack {w}` on 2026-01-05;\n"
    control.add("old", (retried("demo/old", "g1"), retried("demo/old", "g2"), retried("demo/old", "g3")),
                keep_days=30, protect=["release/DR1"])
    control.add("young", (retried("demo/young", "g1", recent),), keep_days=30)
    busy = retried("demo/busy", "g1")
    control.add("busy", (busy, RunRecord("step1", "g2", "", (attempt(1, "submit", RunState.RUNNING,
                                                                       "demo/busy/step1/g2/a01"),))), keep_days=1)
    control.add("ci-w_2026_01", (RunRecord("step1", "all", "", (attempt(1, "submit", RunState.SUCCEEDED,
                                                                          "demo/ci-w_2026_01/step1/all/a01", LONG_AGO),)),),
                header=weekly.format(w="w_2026_01"), keep_last=1)
    control.add("ci-w_2026_02", (RunRecord("step1", "all", "", (attempt(1, "submit", RunState.SUCCEEDED,
                                                                          "demo/ci-w_2026_02/step1/all/a01", recent),)),),
                header=weekly.format(w="w_2026_02"), keep_last=1)
    sizes = {"demo/old/step1/g1/a01": 3, "demo/old/step1/g1/a02": 4, "demo/old/step1/g2/a01": 2,
             "demo/old/step1/g2/a02": 4, "demo/old/step1/g3/a01": 2, "demo/old/step1/g3/a02": 4,
             "demo/young/step1/g1/a01": 1, "demo/young/step1/g1/a02": 1,
             "demo/busy/step1/g1/a01": 1, "demo/busy/step1/g1/a02": 1, "demo/busy/step1/g2/a01": 1,
             "demo/ci-w_2026_01/step1/all/a01": 4, "demo/ci-w_2026_02/step1/all/a01": 4}
    fill(repo, sizes, {
        "demo/old": [r for r in sizes if r.startswith("demo/old/")],
        "someone/else": ["demo/old/step1/g2/a01"],  # a chain of someone else's holds it: kept
        "release/DR1": ["demo/old/step1/g3/a01"],  # a protected chain holds it: kept
        "demo/busy": [r for r in sizes if r.startswith("demo/busy/")],
        "demo/ci-w_2026_01": ["demo/ci-w_2026_01/step1/all/a01"],
        "demo/ci-w_2026_02": ["demo/ci-w_2026_02/step1/all/a01"]})
    before_runs, before_chains = butler_state(repo)

    plan = retention(control.root, "plan").stdout
    assert "expire demo/old/step1/g1/a01" in plan and "expire demo/ci-w_2026_01/step1/all/a01" in plan
    assert "busy:\n  kept: runs are in progress" in plan

    dry = retention(control.root, "apply", "--dry-run").stdout
    assert "would remove 2 RUN collection(s), 7 dataset(s); 2 kept by their chains" in dry
    assert butler_state(repo) == (before_runs, before_chains)

    out = retention(control.root, "apply").stdout
    assert "demo/old/step1/g2/a01: kept: held by chain(s) someone/else" in out
    assert "demo/old/step1/g3/a01: kept: in protected chain release/DR1" in out
    assert "removed 2 RUN collection(s), 7 dataset(s)" in out

    after_runs, after_chains = butler_state(repo)
    assert set(before_runs) - set(after_runs) == {"demo/old/step1/g1/a01", "demo/ci-w_2026_01/step1/all/a01"}
    assert after_runs[RAW_RUN] == before_runs[RAW_RUN]
    assert after_chains["demo/old"] == [r for r in before_chains["demo/old"] if r != "demo/old/step1/g1/a01"]
    assert "demo/ci-w_2026_01" not in after_chains  # the old instance's own chain went with its runs
    assert after_chains["someone/else"] == before_chains["someone/else"]

    old = store.load(control.root / "campaigns" / "old", "old")
    assert [(r.run, r.datasets) for r in old.removed] == [("demo/old/step1/g1/a01", 3)]
    assert "intermediate" in old.removed[0].reason
    weekly_ledger = store.load(control.root / "campaigns" / "ci-w_2026_01", "ci-w_2026_01")
    assert [(r.run, r.datasets) for r in weekly_ledger.removed] == [("demo/ci-w_2026_01/step1/all/a01", 4)]

    again = retention(control.root, "apply").stdout
    assert "removed 0 RUN collection(s)" in again or "nothing expires" in again
    assert butler_state(repo) == (after_runs, after_chains)
