"""Benchmark: `campaign status` refresh over a ledger of 500 runs of which 490 are finished.

Finished runs must cost no WMS call: the figure printed is the number of WMS calls and the wall time
of read ledger + refresh + write. The WMS here answers at once (it counts calls), so the time is the
tool's own overhead; on PanDA each call is one monitor request.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain import states
from campaignops.domain.model import Campaign, Profile
from campaignops.domain.states import RunState, TaskCounts
from campaignops.engine.context import Context
from campaignops.engine.observe import refresh
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.ports import Launch, Observation, Submission


class CountingWms:
    """Answers every report at once with RUNNING and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        raise AssertionError("status must not launch anything here")

    def launched(self, launch_dir: Path) -> bool:
        return True

    def find_submission(self, launch_dir: Path) -> Submission | None:
        return Submission(str(launch_dir), "1")

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        self.calls += 1
        return Observation(RunState.RUNNING, (TaskCounts("calibrate", (("RUNNING", 5), ("SUCCEEDED", 95))),))

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        raise AssertionError


def make_ledger(n: int = 500, finished: int = 490) -> Ledger:
    runs = []
    for i in range(n):
        state = RunState.SUCCEEDED if i < finished else RunState.PENDING
        a = Attempt(1, "submit", f"out/step1/g{i:04d}/a01", "h" * 16, f"/w/g{i}.yaml", f"/w/g{i}",
                    submit_dir=f"/w/g{i}/submit", wms_id=str(1000 + i), submitted_at="2026-11-21T00:00:00Z",
                    state=state, last_checked="2026-11-21T00:00:00Z",
                    tasks=(TaskCounts("calibrate", (("SUCCEEDED", 100),)),),
                    transitions=(states.Transition("2026-11-21T00:00:00Z", state),))
        runs.append(RunRecord("step1", f"g{i:04d}", f"visit IN ({i})", (a,)))
    return Ledger("bench", tuple(runs))


def main() -> None:
    profile = Profile("p", "d", "USDF", "panda", "", (("wmsServiceClass", "x"),))
    campaign = campaign_from_dict({
        "name": "bench", "description": "d", "operator": "o", "profile": "p", "stack": {"tag": "w_2026_47"},
        "butler": {"repo": "/r", "inputs": ["i"], "output": "o"}, "pipeline": "p",
        "steps": [{"name": "step1", "subsets": ["step1"]}]}, profile)
    with tempfile.TemporaryDirectory() as tmp:
        cdir = Path(tmp) / "campaigns" / "bench"
        store.save(cdir, make_ledger())
        wms = CountingWms()
        campaign = Campaign(**{**campaign.__dict__, "path": cdir / "campaign.yaml"})
        ctx = Context(Path(tmp), campaign, wms, Path(tmp) / "work", now=lambda: "2026-11-21T00:05:00Z",
                      say=lambda _m: None)
        t0 = time.perf_counter()
        ledger = store.load(cdir, "bench")
        ledger, changes = refresh(ctx, ledger)
        elapsed = time.perf_counter() - t0
        print(f"status: 500-run ledger (490 finished): {wms.calls} WMS calls, {len(changes)} state changes, "
              f"{elapsed:.2f} s read+refresh+write")


if __name__ == "__main__":
    main()
