"""Fixtures shared by every test: real Stratus servers started as processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("STRATUS_TEST_POSTGRES_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `stratus up`."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    database: str  # "sqlite" or "postgres"
    database_url: str = ""  # PostgreSQL's; "" for SQLite in the data folder

    def shared_env(self) -> dict[str, str]:
        """What another Stratus process on this cloud's data folder needs to
        share its state (a `stratus compute-agent`): its database."""
        return {"STRATUS_DATABASE__URL": self.database_url} if self.database_url else {}

    @property
    def identity_url(self) -> str:
        return f"{self.url}/identity"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    @property
    def admin_password(self) -> str:
        return (self.data_dir / "admin-password").read_text().strip()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for the openstack CLI as the admin, from clouds.yaml."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), OS_CLOUD="stratus")
        env.update(extra)
        return env

    def admin_token(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"id": "default"}, "password": self.admin_password}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        resp = httpx.post(f"{self.auth_url}/auth/tokens", json=body)
        resp.raise_for_status()
        return resp.headers["x-subject-token"]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_server(data_dir: Path, database_url: str = "", port: int | None = None, **env: str) -> Server:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    # One process unless a test asks for more: a second costs time and memory.
    environ["STRATUS_SERVER__WORKERS"] = "1"
    if database_url:
        environ["STRATUS_DATABASE__URL"] = database_url
    # A real data plane holds the machine's root namespace: only the tests
    # that exercise it ask for it (STRATUS_NETWORK__DRIVER="linux").
    environ["STRATUS_NETWORK__DRIVER"] = "fake"
    # HAProxy in namespaces likewise: the load balancers' data plane tests
    # ask for it (STRATUS_LOADBALANCER__DRIVER="haproxy").
    environ["STRATUS_LOADBALANCER__DRIVER"] = "fake"
    environ.update(env)
    process = subprocess.Popen(
        [str(BIN / "stratus"), "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=environ,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stratus up exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/identity/v3", timeout=1).status_code == 200:
                kind = "postgres" if database_url else "sqlite"
                return Server(url, data_dir, process, log, kind, database_url)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"stratus up did not answer in 30 s:\n{log.read_text()}")


def database_params() -> list[object]:
    """The databases every functional cloud runs on: SQLite, and PostgreSQL
    when STRATUS_TEST_POSTGRES_URL names one (CI always does)."""
    params: list[object] = [pytest.param("sqlite", id="sqlite")]
    if POSTGRES_URL:
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    elif os.environ.get("CI"):
        raise RuntimeError("CI must run the PostgreSQL tests: STRATUS_TEST_POSTGRES_URL is not set")
    return params


_database_params = database_params  # the older name


def _pg(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _pg_run(url: str, *statements: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(_pg(url))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def new_database(kind: str) -> str:
    """The database URL for one new cloud: "" for SQLite (in its data
    folder), or a fresh, empty PostgreSQL database of its own (dropped by
    ``drop_database``), so that clouds running at once never share one."""
    if kind != "postgres":
        return ""
    base, _, _name = POSTGRES_URL.rpartition("/")
    name = f"{_name}_{uuid.uuid4().hex[:12]}"
    _pg_run(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    """Drop a database of ``new_database`` (its cloud stopped).  An autovacuum
    worker may still be on it, which our role cannot end: try again a while."""
    if not url:
        return
    import asyncpg

    name = url.rpartition("/")[2]
    deadline = time.monotonic() + 60
    while True:
        try:
            _pg_run(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def reset_postgres(url: str) -> None:
    """Empty the test database, so that every session bootstraps afresh."""
    _pg_run(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")


def sql(server: Server, statement: str, *params: object) -> list[tuple[object, ...]]:
    """Run one SQL statement on a cloud's database (``?`` placeholders) and
    return its rows: tests that look behind the API or break things on purpose."""
    if not server.database_url:
        import sqlite3

        with sqlite3.connect(server.data_dir / "stratus.db", timeout=30) as db:
            return [tuple(row) for row in db.execute(statement, params).fetchall()]
    import asyncio

    import asyncpg

    parts = statement.split("?")
    numbered = "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]

    async def run() -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(_pg(server.database_url))
        try:
            return [tuple(row) for row in await conn.fetch(numbered, *params)]
        finally:
            await conn.close()

    return asyncio.run(run())


def start_cloud(data_dir: Path, database: str = "sqlite", **env: str) -> Server:
    """``start_server`` on a database of its own of the given kind."""
    url = new_database(database)
    try:
        return start_server(data_dir, url, **env)
    except BaseException:
        drop_database(url)
        raise


def stop_cloud(srv: Server, sig: int = signal.SIGTERM) -> None:
    """Stop a cloud of ``start_cloud``, which must end cleanly, and drop its database."""
    try:
        code = srv.stop(sig)
        assert code == 0, f"stratus did not stop cleanly ({code}):\n{srv.log.read_text()[-4000:]}"
    finally:
        drop_database(srv.database_url)


@pytest.fixture(scope="session", params=database_params())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One all-in-one cloud per database kind, shared by the session."""
    srv = start_cloud(tmp_path_factory.mktemp(f"stratus-{request.param}"), request.param)
    yield srv
    stop_cloud(srv)
