"""Fixtures and helpers for the database service (Trove v1.0) functional
tests: a cloud per module on SQLite and on PostgreSQL, with the database
agent's fake driver (API semantics and errors; the real servers are in
tests/e2e/test_database_dataplane.py)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server, start_cloud, stop_cloud
from tests.functional.apiclient import ApiClient

# Backups in the cloud's object store, as segments of 64 KiB (the fake
# driver's backups are about 200 KiB: a few segments each).
CLOUD_ENV = {"STRATUS_COMPUTE__DRIVER": "fake", "STRATUS_DBAAS__DRIVER": "fake",
             "STRATUS_DBAAS__BACKUP_SEGMENT_SIZE": str(64 * 1024)}  # fmt: skip
SETTLED = {"ACTIVE", "ERROR"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cloud(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp(f"database-{database}"), database, **CLOUD_ENV)
    yield srv
    stop_cloud(srv)


def osc(cloud: Server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = clirun.run(
        [str(BIN / "openstack"), *args], env=cloud.env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"
    return result


def osc_json(cloud: Server, *args: str) -> Any:
    return json.loads(osc(cloud, *args, "-f", "json").stdout)


def wait_status(cloud: Server, name: str, wanted: set[str] = SETTLED, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        shown = osc_json(cloud, "database", "instance", "show", name)
        if shown["status"] in wanted or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def wait_until(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not in {timeout} s"
        time.sleep(0.2)


class Trove(ApiClient):
    """Raw HTTP against /database/v1.0/<project>: every answer is checked
    for what holds everywhere (no 5xx, a request id)."""

    def __init__(self, server: Server, token: str, project_id: str):
        super().__init__(f"{server.url}/database/v1.0/{project_id}", token)

    def fault(self, resp: httpx.Response, status: int, key: str) -> str:
        """The message of a Trove fault, checking its status and shape."""
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert list(body) == [key], body
        assert body[key]["code"] == status
        return str(body[key]["message"])
