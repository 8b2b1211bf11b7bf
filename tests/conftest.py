"""Shared fixtures: the project venv on PATH, and a fresh PostgreSQL database with btree_gist."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helpers shared by several test folders (a fake GitHub API): their asserts are rewritten like tests.
pytest.register_assert_rewrite("fakes")

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CAMPAIGNOPS_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session", autouse=True)
def venv_bin_on_path() -> Iterator[str]:
    """bps calls bare `pipetask` and `butler`: put the venv's bin/ (this interpreter's) first on PATH."""
    candidates = [REPO_ROOT / ".venv" / "bin", Path(sys.executable).parent]
    venv_bin = next((str(p) for p in candidates if (p / "python").exists()), str(Path(sys.executable).parent))
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([venv_bin, *[p for p in old.split(os.pathsep) if p != venv_bin]])
    yield venv_bin
    os.environ["PATH"] = old


def _unavailable(reason: str) -> None:
    if os.environ.get("CAMPAIGNOPS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (CAMPAIGNOPS_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh database with the btree_gist extension on 127.0.0.1:5432, dropped afterwards."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        _unavailable("psycopg (v3) is not installed")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - whatever stops the connection, the tests skip with why
        _unavailable(f"cannot connect to {PG_ADMIN_URL}: {exc}")
    name = f"campaignops_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            url = f"{base}/{name}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
            yield url
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


SLURM_SCRIPT = REPO_ROOT / "tests" / "cluster" / "slurm.sh"


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, str]]:
    """The single-node Slurm cluster of tests/cluster/slurm.sh, running (`make test` starts it): the
    environment its clients need (SLURM_CONF, the state dir). Skipped when it does not run, failed instead
    under CAMPAIGNOPS_REQUIRE_SLURM=1 (CI)."""
    import subprocess

    state = os.environ.get("SLURM_STATE_DIR", "/var/tmp/campaignops-slurm")
    env = {**os.environ, "SLURM_STATE_DIR": state, "SLURM_CONF": f"{state}/slurm.conf"}
    proc = subprocess.run([str(SLURM_SCRIPT), "status"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        reason = f"the Slurm cluster does not run (start it: {SLURM_SCRIPT.relative_to(REPO_ROOT)} start)"
        if os.environ.get("CAMPAIGNOPS_REQUIRE_SLURM") == "1":
            pytest.fail(f"Slurm required (CAMPAIGNOPS_REQUIRE_SLURM=1) but {reason}")
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", env["SLURM_CONF"])
        mp.setenv("SLURM_STATE_DIR", state)
        yield env
