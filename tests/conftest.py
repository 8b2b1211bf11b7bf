"""Shared fixtures: the project venv on PATH, a fresh PostgreSQL database with btree_gist, the Slurm cluster,
a demo Butler repository per test (copied from one built per session), and the groups that keep tests
sharing something apart when the suite runs on several cores (`make test`: pytest-xdist, --dist loadgroup)."""

from __future__ import annotations

import json
import os
import shutil
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


@pytest.fixture(scope="session", autouse=True)
def warm_middleware(venv_bin_on_path: str) -> Iterator[Path | None]:
    """`bps`, `pipetask`, `butler` and `campaign` started as forks of one process that has imported the middleware
    (tests/warm: ~0.3-0.9 CPU-seconds a program instead of 3-6; cold until it has, a few seconds after the session
    starts); CAMPAIGNOPS_TEST_COLD=1 starts each cold, as production does."""
    import warm

    if not warm.wanted():
        yield None
        return
    with warm.started(Path(venv_bin_on_path)) as shims:
        if shims is None:
            yield None
            return
        old = os.environ["PATH"]
        os.environ["PATH"] = os.pathsep.join([str(shims), old])
        warm.session_shims = shims
        try:
            yield shims
        finally:
            os.environ["PATH"] = old
            warm.session_shims = None


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


@pytest.fixture(scope="session")
def demo_repo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-site demo Butler repository (SQLite), built once per session (per xdist worker): copy it
    with `demo_butler`, never write to it."""
    from campaignops.demo.repo import build

    repo = tmp_path_factory.mktemp("demo-template") / "repo"
    build(repo)
    return repo


def copy_demo_repo(template: Path, target: Path) -> Path:
    """A copy of a built SQLite demo repository at `target`: the same registry and datasets, as `build` would
    make them (its butler.yaml names only `<butlerRoot>`; the marker is told its new root). A directory copy
    takes milliseconds where `build` takes seconds."""
    shutil.copytree(template, target)
    marker = target / "campaignops-demo.json"
    data = json.loads(marker.read_text(encoding="utf-8"))
    data["root"] = str(target.resolve())
    marker.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return target


@pytest.fixture
def demo_butler(demo_repo_template: Path, tmp_path: Path) -> Path:
    """A demo Butler repository of this test's own (outputs written by one test are never seen by another)."""
    return copy_demo_repo(demo_repo_template, tmp_path / "demo-butler")


# Running on several cores (`pytest -n 2 --dist loadgroup`): tests in one xdist group run on one worker, one
# after the other, in collection order. A fixture below puts its users in one group.
SERIAL_GROUPS = {
    # The one Slurm cluster of this machine: its tests drain the node, stop slurmctld, count the jobs.
    "slurm_cluster": "slurm",
}


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Group the tests that share an external resource (SERIAL_GROUPS), and the tests of a module that share a
    module- or session-scoped fixture written in that module (built once, not once per worker: real bps runs,
    the 3×3 demo, a Rucio server). Shared helpers' fixtures (the loopback HTTP server) group nothing."""
    for item in items:  # before every other plugin's hook, so xdist's reads these marks
        group = _group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    result = yield
    if config.getoption("loadgroup", default=False):  # an xdist worker under --dist loadgroup
        _name_groups_in_node_ids(items)
    return result


def _group_of(item: pytest.Item) -> str | None:
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    if fixtureinfo is None:
        return None
    names = set(fixtureinfo.names_closure)
    group = next((g for name, g in SERIAL_GROUPS.items() if name in names), None)
    module = getattr(getattr(item, "module", None), "__name__", None)
    if group is None and module is not None:
        defs = [d for name in names for d in fixtureinfo.name2fixturedefs.get(name, ())]
        if any(d.scope in ("module", "session") and getattr(d.func, "__module__", None) == module for d in defs):
            group = item.nodeid.split("::", 1)[0]
    return group


def _name_groups_in_node_ids(items: list[pytest.Item]) -> None:
    """xdist's loadgroup scheduler reads a test's group from its node id (`…::test@group`), which xdist's hook
    writes into `item._nodeid`; pytest 9.2 builds node ids from `item._id`, so that write is lost and every
    group is silently scattered over the workers (pytest-dev/pytest-xdist#1386, fix pending in #1388).
    Write the suffix where pytest 9.2 reads it, unless xdist already did (older pytest, or a fixed xdist)."""
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(names)
        if not names or item.nodeid.endswith(suffix) or not hasattr(item, "_id"):
            continue
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(item.nodeid + suffix)
