"""Fixtures shared by every test: real Stratus servers started as processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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
    database: str

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
                return Server(url, data_dir, process, log, "postgres" if database_url else "sqlite")
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"stratus up did not answer in 30 s:\n{log.read_text()}")


def _database_params() -> list[object]:
    params: list[object] = [pytest.param("sqlite", id="sqlite")]
    if POSTGRES_URL:
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    elif os.environ.get("CI"):
        raise RuntimeError("CI must run the PostgreSQL tests: STRATUS_TEST_POSTGRES_URL is not set")
    return params


def reset_postgres(url: str) -> None:
    """Empty the test database, so that every session bootstraps afresh."""
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session", params=_database_params())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One all-in-one cloud per database kind, shared by the session."""
    url = POSTGRES_URL if request.param == "postgres" else ""
    if url:
        reset_postgres(url)
    srv = start_server(tmp_path_factory.mktemp(f"stratus-{request.param}"), url)
    yield srv
    code = srv.stop()
    assert code == 0, f"stratus did not stop cleanly ({code}):\n{srv.log.read_text()}"
