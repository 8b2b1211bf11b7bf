"""Benchmark: the 3×3 demo's data — building the three site Butlers (SQLite) and the chain run by hand.

The chain is what `campaign demo run --multisite` automates, without bps or the campaign layer:
`pipetask run` per site and step, Butler-to-Butler transfers between (demo/sites.run_by_hand). Its
figure is the floor under the multi-site demo's wall time.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 3


def main() -> None:
    from campaignops.demo.sites import build_sites, run_by_hand

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    builds = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp_name:
            start = time.perf_counter()
            build_sites(Path(tmp_name))
            builds.append(time.perf_counter() - start)
    print(f"build 3 site repositories (SQLite): median {statistics.median(builds):.1f} s of {ROUNDS} "
          f"(each {', '.join(f'{b:.1f}' for b in builds)} s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        build_sites(Path(tmp_name))
        start = time.perf_counter()
        laps = run_by_hand(Path(tmp_name))
        total = time.perf_counter() - start
    transfers = sum(v for k, v in laps.items() if " to " in k)
    print(f"3x3 chain by hand: {total:.1f} s (pipetask {total - transfers:.1f} s, 6 transfers {transfers:.1f} s): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in laps.items()), flush=True)


if __name__ == "__main__":
    main()
