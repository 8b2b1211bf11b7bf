"""Benchmark: a failure wave of 30 runs against a fake GitHub on 127.0.0.1 (real HTTP), then quiet syncs.

Figures: writes and their spacing (the client's injected clock: the pacing a real run would spend),
label GETs per sync, and what a second sync with nothing new costs (only conditional requests,
answered 304, which GitHub does not count against the rate limit). The issue that asked for this
measured 32 writes in 4 s and 62 label GETs for 31 failing runs before.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from pytest_httpserver import HTTPServer  # noqa: E402

from campaignops.adapters.github.tracker import GitHubTracker, state_path_for  # noqa: E402
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict  # noqa: E402
from campaignops.domain.model import Campaign  # noqa: E402
from campaignops.domain.states import RunState  # noqa: E402
from campaignops.engine.notify import sync  # noqa: E402
from campaignops.ledger.records import Ledger  # noqa: E402
from fakes.github_api import REPO, FakeGitHub, Sleeps, make_client  # noqa: E402
from fakes.ledgers import CAMPAIGN, attempt, run  # noqa: E402

FAILED = (RunState.SUBMITTING, RunState.RUNNING, RunState.FAILED)
RUNS = 30


def campaign() -> Campaign:
    profile = profile_from_dict({"name": "local", "description": "local", "site": "local", "wms": "panda",
                                 "bps": {}})
    return campaign_from_dict({
        "name": CAMPAIGN, "description": "RC2", "operator": "pilot", "profile": "local",
        "stack": {"tag": "w_2026_47"}, "pipeline": "$DRP_PIPE_DIR/pipelines/HSC/DRP-RC2.yaml",
        "butler": {"repo": "/repo/main", "inputs": ["HSC/RC2/defaults"], "output": "HSC/runs/{campaign}"},
        "steps": [{"name": "step1", "subsets": ["step1"]}]}, profile)


def ledger(attempts: int) -> Ledger:
    return Ledger(CAMPAIGN, tuple(
        run(f"g{i:04d}", *(attempt(a, FAILED, failed=2, kind="submit" if a == 1 else "restart")
                           for a in range(1, (attempts if i == 0 else 1) + 1)))
        for i in range(RUNS)))


def one_sync(server: HTTPServer, github: FakeGitHub, sleeps: Sleeps, state: Path, attempts: int) -> str:
    start_log, start_paced = len(github.log), sum(sleeps)
    tracker = GitHubTracker(make_client(server, sleeps), REPO, state_path=state_path_for(state, REPO))
    t0 = time.perf_counter()
    actions = sync(campaign(), ledger(attempts), tracker)
    tracker.finish()
    wall = time.perf_counter() - t0
    calls = github.log[start_log:]
    writes = [t for t, m, _ in github.stamps[start_log:] if m != "GET"]
    gaps = [b - a for a, b in itertools.pairwise(writes)]
    labels = sum(1 for m, p, _ in calls if m == "GET" and p.endswith("/labels"))
    counts = tracker.client.counts
    return (f"{len(actions):3d} actions | {len(calls):3d} requests ({counts.get('304', 0)} answered 304) | "
            f"{len(writes):3d} writes, min gap {min(gaps) if gaps else float('nan'):.2f} s, paced "
            f"{sum(sleeps) - start_paced:5.1f} s | {labels} label GETs | {wall:5.2f} s wall")


def main() -> None:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        github = FakeGitHub(server)
        sleeps = Sleeps()
        github.clock = sleeps.time
        with tempfile.TemporaryDirectory() as tmp:
            print(f"sync 1, {RUNS} runs fail:      ", one_sync(server, github, sleeps, Path(tmp), 1))
            print("sync 2, nothing new:         ", one_sync(server, github, sleeps, Path(tmp), 1))
            print("sync 3, one run fails again: ", one_sync(server, github, sleeps, Path(tmp), 2))
            print("sync 4, nothing new:         ", one_sync(server, github, sleeps, Path(tmp), 2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
