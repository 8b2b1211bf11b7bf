"""Benchmark: `campaign errors` (the error summary view) over a 10,000-run ledger (issue 20).

A campaign of N runs (default 10,000), 1 in 10 failed with 1-3 failed PanDA jobs each (pilot, dispatcher,
HTCondor hold and Slurm codes, 30 task labels, 4 sites), half of them restarted once and failed again.
Printed: the time to group the occurrences and render the markdown section (what the campaign page adds to
a status cycle) and the text of `campaign errors`. The ledger is built in memory: reading it is the ledger
benchmark's figure.

Usage: python benchmarks/errors_bench.py [runs]
"""

from __future__ import annotations

import sys
import time

from campaignops.domain.states import FailedJob, RunState, TaskCounts, Transition
from campaignops.ledger.records import Attempt, Ledger, RuleDecision, RunRecord
from campaignops.views.errors import error_groups, errors_markdown, errors_text, occurrences

CODES = (("pilot 1212: Payload ran out of memory", "pilot-out-of-memory", "more-memory"),
         ("pilot 1305: Failed to execute payload", "pilot-payload-failure", "review"),
         ("jobdispatcher 100: lost heartbeat : 2026-11-20 10:02:44", "panda-lost-heartbeat", "retry"),
         ("hold 34: Job has gone over memory limit of 4096 megabytes.", "htcondor-memory-exceeded", "more-memory"),
         ("slurm TIMEOUT: *** JOB 1 ON n CANCELLED AT t DUE TO TIME LIMIT ***", "slurm-timeout", "review"))
SITES = ("SLAC", "CC-IN2P3", "RAL", "LANCS")


def attempt(i: int, n: int) -> Attempt:
    k = i // 10  # failed runs are every tenth: vary over them
    jobs = tuple(FailedJob(f"task{(k + j) % 30:02d}", f"{i}{j}", site=SITES[(k // 3 + j) % 4],
                           errors=(CODES[(k // 7 + j) % 5][0],),
                           log_url=f"https://bigpanda.cern.ch/job/{i}{j}/") for j in range(1 + i % 3))
    rule, action = CODES[i % 5][1:]
    at = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
    return Attempt(n, "submit", f"o/{i}/a{n}", "h", "c", "l", state=RunState.FAILED,
                   tasks=(TaskCounts("task00", (("FAILED", len(jobs)), ("SUCCEEDED", 20))),), failed_jobs=jobs,
                   transitions=(Transition(at, RunState.FAILED),), decision=RuleDecision(at, action, "t", rule=rule))


def ledger(runs: int) -> Ledger:
    records = []
    for i in range(runs):
        if i % 10:
            done = Attempt(1, "submit", f"o/{i}/a1", "h", "c", "l", state=RunState.SUCCEEDED)
            records.append(RunRecord("step1", f"g{i:05d}", "", (done,)))
        else:
            tries = (attempt(i, 1), attempt(i + 1, 2)) if i % 20 == 0 else (attempt(i, 1),)
            records.append(RunRecord("step1", f"g{i:05d}", "", tries))
    return Ledger("bench", tuple(records))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    data = ledger(runs)
    start = time.perf_counter()
    found = list(occurrences("bench", data, "USDF"))
    groups = error_groups(found)
    page = errors_markdown(groups)
    mid = time.perf_counter()
    text = errors_text(groups)
    end = time.perf_counter()
    print(f"{runs} runs, {len(found)} failed jobs in {len(groups)} groups: grouped + page section "
          f"{(mid - start) * 1000:.0f} ms ({len(page)} lines), `campaign errors` text {(end - mid) * 1000:.0f} ms "
          f"({len(text.splitlines())} lines)")


if __name__ == "__main__":
    main()
