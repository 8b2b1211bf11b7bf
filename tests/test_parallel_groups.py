"""`make test` runs the suite on every core (pytest-xdist, --dist loadgroup): the tests that share something
must land in one xdist group (one worker, one after the other), the others in none (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Collected in a pytest of its own: records each test's xdist groups once tests/conftest.py has set them.
SHOW_GROUPS = '''
import json, os
import pytest

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    groups = {item.nodeid: sorted(m.args[0] for m in item.iter_markers("xdist_group")) for item in items}
    with open(os.environ["GROUPS_OUT"], "w") as f:
        json.dump(groups, f)
'''


def test_tests_sharing_the_slurm_cluster_or_a_modules_runs_are_grouped_and_the_others_are_not(
        tmp_path: Path) -> None:
    (tmp_path / "show_groups.py").write_text(SHOW_GROUPS)
    out = tmp_path / "groups.json"
    files = ["tests/adapters/test_slurm_cluster.py", "tests/adapters/test_slurm_bps.py",
             "tests/adapters/test_slurm_wms.py", "tests/adapters/test_bps_local_wms.py",
             "tests/adapters/test_github_client.py"]
    env = {**os.environ, "GROUPS_OUT": str(out), "CAMPAIGNOPS_TEST_COLD": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-p", "show_groups", *files], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    groups = json.loads(out.read_text())

    def of(file: str) -> set[tuple[str, ...]]:
        found = {tuple(g) for nodeid, g in groups.items() if nodeid.startswith(file + "::")}
        assert found, f"no test collected from {file}"
        return found

    # The one Slurm cluster (drained, slurmctld stopped by its tests): every test using it, one worker.
    assert of("tests/adapters/test_slurm_cluster.py") == of("tests/adapters/test_slurm_bps.py") == {("slurm",)}
    assert of("tests/adapters/test_slurm_wms.py") == {()}, "no cluster, no group"
    # A module-scoped fixture written in the module (both step-1 runs launched once): the module, one worker.
    assert of("tests/adapters/test_bps_local_wms.py") == {("tests/adapters/test_bps_local_wms.py",)}
    # The loopback HTTP server is session-scoped but a shared helper's, cleared after each test: no group.
    assert of("tests/adapters/test_github_client.py") == {()}


def test_xdist_runs_a_group_on_one_worker() -> None:
    """What xdist's scheduler sees: the group in each grouped test's node id (pytest 9.2 and xdist 3.8 need
    tests/conftest.py's help there), every test of the group on one worker."""
    env = {**os.environ, "CAMPAIGNOPS_TEST_COLD": "1",  # no program runs: no warm server per worker
           "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
                           "-p", "no:cacheprovider", "tests/planning/test_profile.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = [line.split() for line in proc.stdout.splitlines() if " PASSED " in line]
    grouped = {words[0] for words in ran if words[-1].endswith("@tests/planning/test_profile.py")}
    in_group = [w for w in ran if w[-1].endswith("@tests/planning/test_profile.py")]
    # the tests of test_profile.py that share its module-scoped campaign, and the others, which need no group
    assert len(in_group) >= 2 and len(ran) > len(in_group), proc.stdout
    assert len(grouped) == 1, f"one group ran on {grouped}"
