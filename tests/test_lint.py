"""The code stays lint-clean: ruff on scripts/ and tests/, mypy --strict on the package (as `make lint`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's bin, not the base interpreter's


def _run(tool: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    exe = VENV_BIN / tool
    assert exe.exists(), f"{tool} is not installed in {VENV_BIN}: pip install -e '.[test]' (or make test)"
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_ruff_finds_nothing_in_scripts_and_tests() -> None:
    proc = _run("ruff", "check", "--no-cache", "scripts", "tests", timeout=120)
    assert proc.returncode == 0, f"ruff check scripts tests:\n{proc.stdout}{proc.stderr}"


def test_mypy_strict_finds_nothing_in_the_package() -> None:
    # About 15 s on a cold cache (a fresh clone), under 1 s once .mypy_cache is warm.
    proc = _run("mypy", "--strict", "scripts/campaignops", timeout=600)
    assert proc.returncode == 0, f"mypy --strict scripts/campaignops:\n{proc.stdout}{proc.stderr}"
