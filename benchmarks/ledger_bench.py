"""Benchmark: the ledger at data-release scale (issue 8 asks for 10,000 runs x 30 tasks under 2 s a cycle).

Writes and reads back ledgers of N finished runs with 30 task labels each, through the real store
(seal, schema check, campaign check). The figures say how far one YAML file is from that aim.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord

TASKS = 30


def ledger_of(n: int) -> Ledger:
    runs = []
    for i in range(n):
        a = Attempt(1, "submit", f"out/step1/g{i:05d}/a01", "h" * 16, f"/w/g{i}.yaml", f"/w/g{i}",
                    submit_dir=f"/w/g{i}/submit", wms_id=str(1000 + i), submitted_at="2026-11-21T00:00:00Z",
                    state=RunState.SUCCEEDED, last_checked="2026-11-21T00:00:00Z",
                    tasks=tuple(TaskCounts(f"task{t:02d}", (("SUCCEEDED", 100),)) for t in range(TASKS)),
                    transitions=(Transition("2026-11-21T00:00:00Z", RunState.SUBMITTING),
                                 Transition("2026-11-21T01:00:00Z", RunState.SUCCEEDED)))
        runs.append(RunRecord("step1", f"g{i:05d}", f"visit IN ({i})", (a,)))
    return Ledger("big", tuple(runs))


def main() -> None:
    for n in [int(a) for a in sys.argv[1:]] or [1000, 5000]:
        ledger = ledger_of(n)
        folder = Path(tempfile.mkdtemp())
        t0 = time.perf_counter()
        store.save(folder, ledger)
        t1 = time.perf_counter()
        loaded = store.load(folder, "big")
        t2 = time.perf_counter()
        assert loaded == ledger
        size = (folder / "ledger.yaml").stat().st_size / 1e6
        print(f"ledger: {n} runs x {TASKS} tasks: {size:.1f} MB, write {t1 - t0:.2f} s, read {t2 - t1:.2f} s")


if __name__ == "__main__":
    main()
