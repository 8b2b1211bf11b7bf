"""Benchmark: the ledger at data-release scale (issue 8: 10,000 runs x 30 tasks, a status cycle under 2 s).

A campaign of N runs (default 10,000) with 30 task labels each, every group frozen, 1 in 10 runs
active (spread over every ledger file, the worst case for the files a cycle touches), committed in
a temporary git repository. One status cycle through the real code: `store.load`, `engine.observe.
refresh` against a WMS that answers at once (990 active runs unchanged, 10 finished), `store.save`.
Printed: the cycle's wall and CPU time (the tool's own time: the WMS costs nothing here), the files
it rewrote, and the size of the commit (`git diff --stat`, bytes of `git diff`). Then the same for a
single-file ledger.yaml of 1,000 runs (the layout before the folder) and its move into the folder.

Usage: python benchmarks/ledger_bench.py [runs]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign, Profile
from campaignops.domain.states import RunState, TaskCounts, Transition
from campaignops.engine.context import Context
from campaignops.engine.observe import refresh
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.ports import Launch, Observation, Submission

TASKS = 30
ACTIVE_EVERY = 10  # 1 run in 10 is active
FINISHING = 10  # active runs that finish in the measured cycle
NOW = "2026-11-21T12:00:00Z"


def tasks_of(i: int, running: bool) -> tuple[TaskCounts, ...]:
    done = 100 + i % 37
    return tuple(TaskCounts(f"task{t:02d}", (("RUNNING", 5), ("SUCCEEDED", done)) if running
                            else (("SUCCEEDED", done),)) for t in range(TASKS))


def ledger_of(n: int) -> Ledger:
    runs = []
    for i in range(n):
        active = i % ACTIVE_EVERY == 0
        state = RunState.RUNNING if active else RunState.SUCCEEDED
        a = Attempt(1, "submit", f"big/step1/g{i:05d}/a01", "h" * 16, f"/w/g{i}.yaml", f"/w/g{i}",
                    submit_dir=f"/w/g{i}/submit", wms_id=str(1000 + i), submitted_at="2026-11-21T00:00:00Z",
                    state=state, last_checked="2026-11-21T11:55:00Z", tasks=tasks_of(i, active),
                    spec_hash="s" * 16,
                    transitions=(Transition("2026-11-21T00:00:00Z", RunState.SUBMITTING),
                                 Transition("2026-11-21T01:00:00Z", state)))
        runs.append(RunRecord("step1", f"g{i:05d}", f"visit IN ({i})", (a,)))
    frozen = (("step1", tuple((f"g{i:05d}", f"visit IN ({i})", 1) for i in range(n))),)
    return Ledger("big", tuple(runs), frozen)


class BenchWms:
    """Answers at once: each active run as it stands, except `finishing` ones, which succeed."""

    def __init__(self, ledger: Ledger, finishing: set[str]) -> None:
        self.calls = 0
        self.tasks = {a.submit_dir: a.tasks for r in ledger.runs for a in r.attempts}
        self.finishing = finishing

    def launch(self, config: Path, launch_dir: Path, setup: str) -> Launch:
        raise AssertionError("a status cycle launches nothing")

    def launched(self, launch_dir: Path) -> bool:
        return True

    def find_submission(self, launch_dir: Path) -> Submission | None:
        return None

    def observe(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        self.calls += 1
        if submission.submit_dir in self.finishing:
            done = tuple(TaskCounts(t.label, (("SUCCEEDED", t.total),)) for t in self.tasks[submission.submit_dir])
            return Observation(RunState.SUCCEEDED, done)
        return Observation(RunState.RUNNING, self.tasks[submission.submit_dir])

    def restart(self, submission: Submission, launch_dir: Path, setup: str) -> Launch:
        raise AssertionError


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=b@b", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout


def timed[T](fn: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def context(root: Path, cdir: Path, wms: BenchWms) -> Context:
    profile = Profile("p", "d", "USDF", "panda", "", (("wmsServiceClass", "x"),))
    campaign = campaign_from_dict({
        "name": "big", "description": "d", "operator": "o", "profile": "p", "stack": {"tag": "w_2026_47"},
        "butler": {"repo": "/r", "inputs": ["i"], "output": "o"}, "pipeline": "p",
        "steps": [{"name": "step1", "subsets": ["step1"]}]}, profile)
    campaign = Campaign(**{**campaign.__dict__, "path": cdir / "campaign.yaml"})
    return Context(root, campaign, wms, root / "work", now=lambda: NOW, say=lambda _m: None, may_launch=False)


def cycle(n: int) -> None:
    ledger = ledger_of(n)
    active = [r for r in ledger.runs if r.state == RunState.RUNNING]
    # the finishing runs sit in as many different files as can be: the most files a cycle rewrites
    step = max(1, len(active) // FINISHING)
    finishing = {r.attempts[0].submit_dir for r in active[::step][:FINISHING]}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cdir = root / "campaigns" / "big"
        git(root, "init", "-q")
        store.save(cdir, ledger)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "seed")
        size = sum(p.stat().st_size for p in (cdir / store.LEDGER_DIR).iterdir()) / 1e6
        nfiles = len(list((cdir / store.LEDGER_DIR).iterdir()))
        wms = BenchWms(ledger, finishing)
        ctx = context(root, cdir, wms)
        loaded, t_read, c_read = timed(lambda: store.load(cdir, "big"))
        (after, changes), t_refresh, c_refresh = timed(lambda: refresh(ctx, loaded))
        t_cycle, c_cycle = t_read + t_refresh, c_read + c_refresh
        git(root, "add", "-A")
        git(root, "commit", "-qm", "cycle")
        stat = git(root, "diff", "--shortstat", "HEAD~1", "HEAD").strip()
        diff = len(git(root, "diff", "HEAD~1", "HEAD").encode())
        assert len(changes) == FINISHING and len(ctx.saved) == 1, (changes, ctx.saved)
        assert store.load(cdir, "big") == after, "the ledger read back differs from the one written"
        print(f"ledger: {n} runs x {TASKS} tasks in {nfiles} files, {size:.1f} MB: status cycle with "
              f"{len(active)} active runs ({wms.calls} WMS calls, {len(changes)} finished): "
              f"{t_cycle:.2f} s wall / {c_cycle:.2f} s CPU (read {t_read:.2f} s, refresh + write {t_refresh:.2f} s); "
              f"commit: {stat}, git diff {diff / 1e3:.1f} KB")
        fresh = store.load(cdir, "big")
        _, t_decode, c_decode = timed(lambda: [r.attempts for r in fresh.runs])
        print(f"ledger: decoding every attempt of the {n} runs too (what a page of every run's tasks reads): "
              f"{t_decode:.2f} s wall / {c_decode:.2f} s CPU more")


def single_file(n: int) -> None:
    ledger = ledger_of(n)
    with tempfile.TemporaryDirectory() as tmp:
        cdir = Path(tmp)
        (cdir / store.LEDGER_FILE).write_text(store.dumps(ledger), encoding="utf-8")
        size = (cdir / store.LEDGER_FILE).stat().st_size / 1e6
        loaded, t_read, c_read = timed(lambda: store.load(cdir, "big"))
        _, t_move, c_move = timed(lambda: store.save(cdir, loaded))
        assert store.load(cdir, "big") == ledger and not (cdir / store.LEDGER_FILE).exists()
        print(f"ledger: single-file ledger.yaml of {n} runs ({size:.1f} MB, the layout before the folder): "
              f"read {t_read:.2f} s wall / {c_read:.2f} s CPU; moved into the folder by the next save in "
              f"{t_move:.2f} s wall / {c_move:.2f} s CPU")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"ledger: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it; CPU "
          f"time is the tool's own)")
    cycle(n)
    single_file(min(n, 1000))


if __name__ == "__main__":
    main()
