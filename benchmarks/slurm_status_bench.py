"""Benchmark: one Slurm status cycle (`refresh`, as `campaign status`/`reconcile` run it) over 1,000 active
Slurm runs costs a constant number of scheduler calls, not one per run.

The scheduler is a real `squeue` executable on PATH printing a generated job table (2,000 held jobs: each run's
parsl block running or pending, plus 500 jobs of other users) and counting its calls; the jobcomp log holds
5,000 finished jobs (a file, no call). What bps reports of each run (`bps report`, bps's own cost, not the
scheduler's) answers at once here. Printed: scheduler calls per cycle, wall time of read + refresh + write.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from pathlib import Path

from campaignops.adapters.processes import PID_FILE
from campaignops.adapters.slurm.scheduler import SEP, SlurmScheduler
from campaignops.adapters.slurm.wms import SlurmWms
from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain import states
from campaignops.domain.model import Campaign, Profile
from campaignops.domain.states import RunState, TaskCounts
from campaignops.engine.context import Context
from campaignops.engine.observe import refresh
from campaignops.ledger import store
from campaignops.ledger.records import Attempt, Ledger, RunRecord
from campaignops.ports import Observation, Submission

RUNS = 1000
CYCLES = int(os.environ.get("CYCLES", "3"))


class ReportedSlurmWms(SlurmWms):
    """The real Slurm WMS with bps's report answered at once (RUNNING, 100 quanta)."""

    def bps_report(self, submission: Submission, launch_dir: Path, setup: str) -> Observation:
        return Observation(RunState.RUNNING, (TaskCounts("calibrate", (("RUNNING", 5), ("SUCCEEDED", 95))),))


def squeue_on_path(bin_dir: Path, table: str, calls: Path) -> None:
    bin_dir.mkdir()
    (bin_dir / "table").write_text(table)
    script = bin_dir / "squeue"
    script.write_text(f"#!/bin/sh\necho call >> {calls}\ncat {bin_dir / 'table'}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dirs = [tmp / "work" / f"g{i:04d}" for i in range(RUNS)]
        for d in dirs:
            d.mkdir(parents=True)
            (d / PID_FILE).write_text("1\n")
        row = lambda i, state, reason, d: SEP.join(  # noqa: E731
            [str(i), f"parsl.slurm.block-0.{i}", state, reason, "2099-01-01T00:00:00", str(d)])
        table = [row(10_000 + i, "RUNNING", "None", d) for i, d in enumerate(dirs)]
        table += [row(20_000 + i, "PENDING", "Resources", d) for i, d in enumerate(dirs)]
        table += [row(30_000 + i, "PENDING", "Priority", tmp / "others" / str(i)) for i in range(500)]
        calls = tmp / "calls"
        squeue_on_path(tmp / "bin", "\n".join(table) + "\n", calls)
        log = tmp / "jobcomp.log"
        log.write_text("".join(
            f"JobId={i} UserId=u(1) GroupId=g(1) Name=x JobState=COMPLETED Partition=p TimeLimit=60 "
            f"StartTime=2026-12-01T00:00:00 EndTime=2026-12-01T01:00:00 NodeList=n NodeCnt=1 ProcCnt=2 "
            f"WorkDir={tmp / 'old' / str(i)} Tres=cpu=2,mem=4000M SubmitTime=2026-12-01T00:00:00 ExitCode=0:0\n"
            for i in range(5000)))
        (tmp / "slurm.conf").write_text(f"JobCompType=jobcomp/filetxt\nJobCompLoc={log}\n")
        env = {**os.environ, "PATH": f"{tmp / 'bin'}:{os.environ['PATH']}", "SLURM_CONF": str(tmp / "slurm.conf")}

        runs = []
        for i, d in enumerate(dirs):
            a = Attempt(1, "submit", f"out/step1/g{i:04d}/a01", "h" * 16, f"/w/g{i}.yaml", str(d),
                        submit_dir=str(d / "submit"), wms_id=str(d / "submit"), submitted_at="2026-11-21T00:00:00Z",
                        state=RunState.RUNNING, last_checked="2026-11-21T00:00:00Z",
                        transitions=(states.Transition("2026-11-21T00:00:00Z", RunState.RUNNING),))
            runs.append(RunRecord("step1", f"g{i:04d}", f"visit IN ({i})", (a,)))
        profile = Profile("local-slurm", "d", "local", "slurm", "", (("wmsServiceClass", "x"),))
        campaign = campaign_from_dict({
            "name": "bench", "description": "d", "operator": "o", "profile": "local-slurm",
            "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/r", "inputs": ["i"], "output": "o"},
            "pipeline": "p", "steps": [{"name": "step1", "subsets": ["step1"]}]}, profile)
        cdir = tmp / "campaigns" / "bench"
        store.save(cdir, Ledger("bench", tuple(runs)))
        campaign = Campaign(**{**campaign.__dict__, "path": cdir / "campaign.yaml"})
        for cycle in range(1, CYCLES + 1):
            wms = ReportedSlurmWms(SlurmScheduler(env), "x")  # a new status job each cycle
            ctx = Context(tmp, campaign, wms, tmp / "work", now=lambda: "2026-11-21T00:05:00Z", say=lambda _m: None)
            before = len(calls.read_text().splitlines()) if calls.exists() else 0
            t0 = time.perf_counter()
            ledger, _changes = refresh(ctx, store.load(cdir, "bench"))
            elapsed = time.perf_counter() - t0
            made = len(calls.read_text().splitlines()) - before
            noted = sum("Slurm waiting" in (r.current.message if r.current else "") for r in ledger.runs)
            print(f"slurm status cycle {cycle}: {RUNS} active Slurm runs, {len(table)} squeue rows, 5,000 jobcomp "
                  f"lines: {made} scheduler call(s) (squeue), {noted} runs noted waiting, {elapsed:.2f} s "
                  "read+refresh+write")
            assert made <= 3, f"{made} scheduler calls for one cycle"


if __name__ == "__main__":
    main()
