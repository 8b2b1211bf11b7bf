"""Benchmark: wall time of `campaign apply` + status until SUCCEEDED for one run vs the bare `bps submit`.

Both run the same rendered config of the demo's step1 (one visit group, 8 quanta) on the local parsl
WMS against a fresh demo Butler repository. The ratio is what the campaign layer costs on top of bps
(aim <= 1.1): rendering, the ledger writes, the detached launch and the status polling (1 s).

`apply_bench.py local-slurm` does the same on this machine's Slurm cluster (tests/cluster/slurm.sh start;
SLURM_CONF from `slurm.sh env`): bps + parsl with its worker block in a Slurm job, each status cycle also
asking squeue.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]


def main(profile: str = "") -> None:
    from campaignops.demo.repo import build
    from campaignops.demo.run import make_control_repo
    from campaignops.engine import observe, submit
    from campaignops.workspace import open_campaign

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        butler = tmp / "repo"
        build(butler)
        control = make_control_repo(ROOT, tmp / "control", butler, profile)
        spec_file = control / "campaigns" / "demo" / "campaign.yaml"
        ry = YAML()
        data = ry.load(spec_file)
        del data["steps"][1:]
        data["steps"][0]["split"] = {"by": "values", "dimension": "visit", "values": [[1001, 1002]]}
        data["steps"][0].pop("bps", None)  # no injected failure here
        ry.dump(data, spec_file)

        # bare bps submit of the same config (attempt 2's output run, so the two never collide)
        ws = open_campaign(control, "demo", workdir=tmp / "work", say=lambda _m: None)
        from campaignops.planning.render import render_run

        def bare_submit(attempt: int) -> float:
            bare_dir = tmp / f"bare{attempt}"
            bare_dir.mkdir()
            config = bare_dir / "step1.yaml"
            config.write_text(render_run(ws.campaign, ws.plan.runs[0], attempt, root=control))
            t0 = time.perf_counter()
            subprocess.run(["bps", "submit", str(config)], cwd=bare_dir, check=True, capture_output=True,
                           env={**os.environ, "PWD": str(bare_dir)})
            return time.perf_counter() - t0

        # bare runs before and after (attempt numbers 2 and 3: distinct output runs), so warm-up and
        # machine load fall on both sides alike
        bare_times = [bare_submit(2)]
        t0 = time.perf_counter()
        ws.ledger, _ = submit.apply(ws.ctx, ws.plan, ws.ledger)
        while True:
            ws.ledger, _ = observe.refresh(ws.ctx, ws.ledger)
            if all(r.state is not None and r.state.finished for r in ws.ledger.runs):
                break
            time.sleep(1.0)
        applied = time.perf_counter() - t0
        bare_times.append(bare_submit(3))
        bare = sum(bare_times) / len(bare_times)
        state = ws.ledger.runs[0].state
        where = f" on {profile}" if profile else ""
        print(f"apply{where}: one run (8 quanta) apply+status until {state}: {applied:.1f} s; bare bps submit: "
              f"{bare:.1f} s (mean of {', '.join(f'{b:.1f}' for b in bare_times)}); ratio {applied / bare:.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
