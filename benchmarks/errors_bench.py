"""Benchmark: `campaign errors` (the error summary view), the cost table and the failure-rules replay over a
10,000-run ledger (issue 20).

A campaign of N runs (default 10,000), 1 in 10 failed with 1-3 failed PanDA jobs each (pilot, dispatcher,
HTCondor hold and Slurm codes, 30 task labels, 4 sites), half of them restarted once and failed again.
Printed: the time to group the occurrences and render the markdown section (what the campaign page adds to
a status cycle) and the text of `campaign errors`; the cost table (per step and campaign, from 20 PanDA job
records an attempt) and its page section; the replay of the shared rules against themselves less one rule on
every recorded failure (`campaign replay-rules`, the PR plan). The ledger is built in memory: reading it is the
ledger benchmark's figure.

Usage: python benchmarks/errors_bench.py [runs]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from campaignops.campaign_spec.failure_rules import load_rules
from campaignops.campaign_spec.load import load_campaign
from campaignops.domain.states import FailedJob, RunState, TaskCounts, Transition
from campaignops.domain.usage import JobUse, ResourceUse
from campaignops.ledger.records import Attempt, Ledger, RuleDecision, RunRecord
from campaignops.planning.cost import cost_table
from campaignops.planning.replay import recorded_failures, replay
from campaignops.views.cost import cost_markdown
from campaignops.views.errors import error_groups, errors_markdown, errors_text, occurrences
from campaignops.views.replay import replay_markdown

ROOT = Path(__file__).resolve().parents[1]

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


def uses(data: Ledger, jobs: int = 20) -> list[ResourceUse]:
    """20 PanDA job records an attempt: 1-4 cores, the failed attempts' failed jobs marked."""
    return [ResourceUse(r.key, a.number, "panda",
                        tuple(JobUse(1 + j % 4, 600.0 + j, 500.0 + j, 1024.0 + 64 * j,
                                     a.state == RunState.FAILED and j < len(a.failed_jobs)) for j in range(jobs)))
            for r in data.runs for a in r.attempts]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    data = ledger(runs)
    start, cpu = time.perf_counter(), time.process_time()
    found = list(occurrences("bench", data, "USDF"))
    groups = error_groups(found)
    page = errors_markdown(groups)
    mid, cpu_mid = time.perf_counter(), time.process_time()
    text = errors_text(groups)
    end = time.perf_counter()
    print(f"{runs} runs, {len(found)} failed jobs in {len(groups)} groups: grouped + page section "
          f"{(mid - start) * 1000:.0f} ms wall, {(cpu_mid - cpu) * 1000:.0f} ms CPU ({len(page)} lines), "
          f"`campaign errors` text {(end - mid) * 1000:.0f} ms ({len(text.splitlines())} lines)")
    used = uses(data)
    start, cpu = time.perf_counter(), time.process_time()
    rows = cost_table(data, used, ["step1"])
    section = cost_markdown(rows)
    end, cpu_end = time.perf_counter(), time.process_time()
    print(f"cost table of {len(used)} attempts ({sum(len(u.jobs) for u in used)} job records): table + page section "
          f"{(end - start) * 1000:.0f} ms wall, {(cpu_end - cpu) * 1000:.0f} ms CPU ({len(section)} lines; "
          f"{rows[-1].core_hours:,.0f} core-hours, {rows[-1].lost_share:.1%} lost)")
    campaign = load_campaign(ROOT / "campaigns" / "hsc-rc2-w_2026_47" / "campaign.yaml", ROOT)
    rules = load_rules(ROOT, ROOT / "campaigns" / "hsc-rc2-w_2026_47")
    fewer = tuple(r for r in rules if r.name != "pilot-out-of-memory")
    start, cpu = time.perf_counter(), time.process_time()
    failures = list(recorded_failures(campaign, data))
    result = replay(failures, {campaign.name: rules}, {campaign.name: fewer})
    comment = replay_markdown(result, ["campaigns/rules.yaml"], "base")
    end, cpu_end = time.perf_counter(), time.process_time()
    print(f"rules replay of {result.failures} recorded failures ({len(rules)} rules, old and new): "
          f"{(end - start) * 1000:.0f} ms wall, {(cpu_end - cpu) * 1000:.0f} ms CPU, {len(result.changes)} decisions "
          f"change ({len(comment)} comment lines)")


if __name__ == "__main__":
    main()
