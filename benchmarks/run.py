"""Run every benchmark and print its figures (quoted in the README). Usage: make bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["validate_bench.py", "plan_bench.py", "status_bench.py", "ledger_bench.py", "apply_bench.py",
              "github_bench.py", "panda_status_bench.py", "prepare_bench.py", "pictures_bench.py", "sites_bench.py",
              "errors_bench.py", "slurm_status_bench.py", "checks_bench.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHMARKS:
        print(f"--- {name}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / name)]).returncode != 0
    sys.exit(1 if failed else 0)
