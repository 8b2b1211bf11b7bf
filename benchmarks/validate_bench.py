"""Benchmark: wall time of `campaign validate` (the CLI) over N copies of the RC2 campaign in a temporary repo.

`--keep DIR` writes the repository to DIR and exits (to time it with farm-bench).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
# The real-shaped spec: ten steps, ranges, values, clustering, per-task resources, a gate, a queue map.
RC2 = REPOSITORY / "campaigns" / "hsc-rc2-w_2026_47" / "campaign.yaml"
RC2_NAME = "hsc-rc2-w_2026_47"


def make_campaign_files(root: Path, n: int) -> list[Path]:
    """A repository at `root` with the real profiles, shared failure rules and template, and `n` copies of
    the RC2 campaign (each renamed after its folder); returns the campaign files."""
    campaigns = root / "campaigns"
    shutil.copytree(REPOSITORY / "campaigns" / "profiles", campaigns / "profiles", dirs_exist_ok=True)
    shutil.copytree(REPOSITORY / "campaigns" / "templates", campaigns / "templates", dirs_exist_ok=True)
    shutil.copy(REPOSITORY / "campaigns" / "rules.yaml", campaigns / "rules.yaml")
    text = RC2.read_text(encoding="utf-8")
    paths = []
    for i in range(n):
        name = f"hsc-rc2-{i:04d}"
        folder = campaigns / name
        folder.mkdir(exist_ok=True)
        path = folder / "campaign.yaml"
        path.write_text(text.replace(f"name: {RC2_NAME}", f"name: {name}", 1), encoding="utf-8")
        paths.append(path)
    return paths


def campaign_command() -> list[str]:
    exe = Path(sys.executable).parent / "campaign"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "campaignops.cli"]


def time_cli(root: Path, repeat: int) -> list[float]:
    """Wall times of `campaign --root ROOT validate` (every file), failing loudly if it does not pass."""
    # Any non-empty PYTHONDONTWRITEBYTECODE (even "0") stops Python writing bytecode: every run would compile the
    # package again. A runner writes it once, as the warm-up run does here.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([*campaign_command(), "--root", str(root), "validate"],
                              capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"validate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--files", type=int, default=500, help="campaign files (default 500)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--keep", type=Path, help="write the repository to this directory and exit")
    args = parser.parse_args()
    if args.keep:
        make_campaign_files(args.keep, args.files)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_campaign_files(root, args.files)
        time_cli(root, 1)  # warm-up: bytecode and file caches, as on a CI runner's second command
        times = time_cli(root, args.repeat)
    print(f"campaign validate: {args.files} copies of the RC2 campaign + profiles, rules, template, CLI wall time "
          f"median {statistics.median(times):.2f} s, best {min(times):.2f} s "
          f"({args.repeat} runs, {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
