"""A real Rucio server on 127.0.0.1 for the Rucio transfer adapter's tests: the `rucio` package from PyPI in
its own venv (`.venv-rucio/`, made by `make .venv-rucio/.installed`: it pins its own SQLAlchemy), a fresh
PostgreSQL database on 127.0.0.1:5432, the schema bootstrapped, the flask REST server on
a free port, local POSIX RSEs whose prefixes are directories of the test.

No FTS runs here: `arrive` does what FTS and the conveyor would (copy the file to the destination RSE's
path, mark the replica available) and `fail` what the conveyor's finisher does on a permanent failure
(mark the destination replica unavailable: its lock, and so the rule, goes STUCK). Both go through the
server's own REST API (`update_replicas_states`), so the rule's state is Rucio's, not ours.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_VENV = REPO_ROOT / ".venv-rucio"
PG_ADMIN_URL = os.environ.get("CAMPAIGNOPS_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "secret"  # the root identity of a throw-away server on 127.0.0.1


# The migration environment reads logging sections from alembic.ini (fileConfig): the least it accepts.
ALEMBIC_LOGGING = """
[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARNING
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic
[formatter_generic]
format = %(levelname)s %(message)s
"""


class ServerUnavailable(Exception):
    """The server venv is absent and cannot be made, or the server did not start."""


class NoPostgres(ServerUnavailable):
    """No PostgreSQL server to hold Rucio's database."""


def server_venv() -> Path:
    """The server's venv, made with `make .venv-rucio/.installed` when absent (about 20 s)."""
    if not (SERVER_VENV / ".installed").exists():
        done = subprocess.run(["make", "-s", ".venv-rucio/.installed"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=False)
        if done.returncode != 0 or not (SERVER_VENV / ".installed").exists():
            raise ServerUnavailable(f"{SERVER_VENV} is absent and `make .venv-rucio/.installed` failed: "
                                    f"{(done.stderr or done.stdout).strip()[-400:]}")
    return SERVER_VENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database() -> tuple[str, str]:
    """(SQLAlchemy URL for the server, name of the fresh PostgreSQL database). Not SQLite: its Rucio keeps
    no JSON DID metadata, where the Butler metadata of each file (rubin_sidecar) goes."""
    try:
        import psycopg
        from psycopg import sql

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            name = f"campaignops_rucio_{uuid.uuid4().hex[:10]}"
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except Exception as exc:
        raise NoPostgres(f"cannot create a database at {PG_ADMIN_URL}: {exc}") from exc
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", name


@dataclass
class RucioServer:
    """One server: `config` is the rucio.cfg both the server and the clients read (RUCIO_CONFIG)."""

    workdir: Path
    venv: Path
    port: int = 0
    db_url: str = ""
    pg_database: str = ""
    process: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.workdir / "rucio.cfg"

    def write_config(self) -> None:
        site = next((self.venv / "lib").glob("python3*/site-packages"))
        (self.workdir / "alembic.ini").write_text(
            f"[alembic]\nscript_location = {site / 'rucio/db/sqla/migrate_repo'}\n"
            f"sqlalchemy.url = {self.db_url}\n" + ALEMBIC_LOGGING,
            encoding="utf-8")
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.config.write_text(f"""\
[common]
logdir = {self.workdir / 'logs'}
loglevel = WARNING

[database]
default = {self.db_url}

[client]
rucio_host = {self.url}
auth_host = {self.url}
auth_type = userpass
username = ddmlab
password = {PASSWORD}
account = root
auth_token_file_path = {self.workdir / 'token' / 'root'}
request_retries = 0

[bootstrap]
userpass_identity = ddmlab
userpass_pwd = {PASSWORD}
userpass_email = ops@example.org

[alembic]
cfg = {self.workdir / 'alembic.ini'}

[policy]
permission = generic
schema = generic
lfn2pfn_algorithm_default = identity
support = https://example.org/support

[conveyor]
scheme = file
transfertool = mock
""", encoding="utf-8")

    def start(self) -> None:
        t0 = time.perf_counter()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.db_url:
            self.db_url, self.pg_database = _database()
        self.port = free_port()
        self.write_config()
        env = {**os.environ, "RUCIO_CONFIG": str(self.config)}
        done = subprocess.run([str(self.venv / "bin/python"), str(self.venv / "rucio/tools/bootstrap.py")],
                              env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerUnavailable(f"rucio bootstrap failed: {done.stderr.strip()[-800:]}")
        self.timings["bootstrap"] = round(time.perf_counter() - t0, 2)
        self.run()
        self.timings["start"] = round(time.perf_counter() - t0, 2)

    def run(self) -> None:
        """Start the flask server (again, after `stop`, on the same port and database) and wait for /ping."""
        env = {**os.environ, "RUCIO_CONFIG": str(self.config)}
        log = (self.workdir / "logs" / "server.out").open("ab")
        self.process = subprocess.Popen(
            [str(self.venv / "bin/flask"), "--app", "rucio.web.rest.flaskapi.v1.main:application", "run",
             "-h", "127.0.0.1", "-p", str(self.port), "--with-threads"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"the rucio server exited: see {self.workdir / 'logs/server.out'}")
            try:
                if requests.get(f"{self.url}/ping", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise ServerUnavailable("the rucio server did not answer /ping within 60 s")

    def stop(self) -> None:
        """Stop the server and wait for its process to end (so the port may be reused)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self.pg_database:
            import psycopg
            from psycopg import sql

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.pg_database)))

    # -- what an operator sets up once, through the real client ------------------------------------------

    def client(self) -> Any:
        from rucio.client import Client

        return Client()

    def add_rse(self, name: str, prefix: Path) -> None:
        """A deterministic POSIX RSE whose files live at <prefix>/<scope>/<name> ('identity' lfn2pfn):
        a Butler repository at <prefix>/<scope> keeps its tree."""
        client = self.client()
        prefix.mkdir(parents=True, exist_ok=True)
        client.add_rse(name, deterministic=True)
        client.add_rse_attribute(name, "lfn2pfn_algorithm", "identity")
        client.add_protocol(name, {
            "scheme": "file", "hostname": "", "port": 0, "prefix": str(prefix) + "/",
            "impl": "rucio.rse.protocols.posix.Default",
            "domains": {op: {"read": 1, "write": 1, "delete": 1, "third_party_copy_read": 1,
                             "third_party_copy_write": 1} for op in ("lan", "wan")}})
        client.set_local_account_limit("root", name, -1)

    def link(self, *rses: str) -> None:
        client = self.client()
        for a in rses:
            for b in rses:
                if a != b:
                    client.add_distance(a, b, {"distance": 1})

    # -- what FTS and the conveyor would do --------------------------------------------------------------

    def waiting(self, rule_id: str) -> list[dict[str, Any]]:
        """The locks of files the rule still waits for: scope, name, and the destination RSE."""
        return [lock for lock in self.client().list_replica_locks(rule_id) if lock["state"] != "OK"]

    def _mark(self, locks: list[dict[str, Any]], state: str) -> int:
        """Set the destination replicas of `locks` to `state` ('A' available, 'U' unavailable)."""
        by_rse: dict[str, list[dict[str, Any]]] = {}
        for lock in locks:
            by_rse.setdefault(lock["rse"], []).append({"scope": lock["scope"], "name": lock["name"], "state": state})
        for rse, files in by_rse.items():
            self.client().update_replicas_states(rse, files)
        return len(locks)

    def arrive(self, rule_id: str, source_prefix: Path, destination_prefix: Path) -> int:
        """Copy every file the rule waits for from the source RSE's tree to the destination's and mark
        the destination replicas available: the rule goes OK. Returns the number of files copied."""
        locks = self.waiting(rule_id)
        for lock in locks:
            relative = Path(lock["scope"]) / lock["name"]
            target = destination_prefix / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_prefix / relative, target)
        return self._mark(locks, "A")

    def fail(self, rule_id: str) -> int:
        """Mark the destination replicas the rule waits for unavailable, as the finisher does when a
        transfer fails for good: the rule goes STUCK."""
        return self._mark(self.waiting(rule_id), "U")
