"""Benchmark: plan and render 40,000 visits in 1,000-visit groups over 10 steps; wall time, peak memory."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from campaignops.campaign_spec import load as spec  # noqa: E402
from campaignops.campaign_spec.parse import campaign_from_dict  # noqa: E402
from campaignops.domain.model import Campaign  # noqa: E402
from campaignops.planning.plan import make_plan  # noqa: E402
from campaignops.planning.render import render_plan  # noqa: E402
from campaignops.views.plan_text import as_markdown  # noqa: E402


def build(folder: Path, visits: int, group: int, steps: int) -> Campaign:
    # Visit IDs spaced like real ones so the queries have realistic lengths.
    ids = "".join(f"{2_000_000 + 7 * i}\n" for i in range(visits))
    (folder / "visits.txt").write_text(ids, encoding="utf-8")
    split = {"by": "count", "dimension": "visit", "max_size": group, "source": "visits.txt"}
    data = {
        "name": "bench-campaign", "description": "benchmark", "operator": "lsstsvc1", "profile": "usdf-panda",
        "stack": {"tag": "w_2026_47"},
        "butler": {"repo": "/repo/main", "inputs": ["LSSTCam/defaults"], "output": "LSSTCam/runs/{campaign}"},
        "pipeline": "${DRP_PIPE_DIR}/pipelines/LSSTCam/DRP.yaml", "data_query": "instrument='LSSTCam'",
        "resources": {"requestMemory": 4096, "tasks": {"makeWarp": {"requestMemory": 8192}}},
        "steps": [{"name": f"step{i}", "subsets": [f"step{i}"], "split": split} for i in range(1, steps + 1)],
    }
    return campaign_from_dict(data, spec.load_profile("usdf-panda", ROOT), path=folder / "campaign.yaml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=40_000)
    parser.add_argument("--group", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        campaign = build(folder, args.visits, args.group, args.steps)
        # Timed pass without tracemalloc (it slows allocation-heavy code several times over).
        start = time.perf_counter()
        plan = make_plan(campaign)
        planned = time.perf_counter()
        paths = render_plan(plan, folder / "rendered")
        rendered = time.perf_counter()
        markdown = as_markdown(plan)
        done = time.perf_counter()
        size = sum(p.stat().st_size for p in paths)
        # Second pass, into a fresh directory, only to measure peak memory.
        tracemalloc.start()
        render_plan(make_plan(campaign), folder / "rendered-again")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"campaign: {args.visits} visits, groups of {args.group}, {args.steps} steps "
          f"-> {len(plan.runs)} runs")
    print(f"plan      {planned - start:7.3f} s")
    print(f"render    {rendered - planned:7.3f} s  ({len(paths)} files, {size / 1e6:.1f} MB)")
    print(f"markdown  {done - rendered:7.3f} s  ({len(markdown)} characters)")
    print(f"total     {done - start:7.3f} s")
    print(f"peak traced memory (plan + render) {peak / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
