"""Fixtures for the orchestration (Heat v1) functional tests.

Every module runs its own cloud with identity, network, volume, object
store and orchestration, once on SQLite and once on PostgreSQL.  ``Heat``
is raw HTTP against /orchestration/v1/<project> that checks what holds for
every answer (never a 5xx, always a request id); ``osc`` runs the real
``openstack stack`` commands (python-heatclient's plugin)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server, start_cloud, stop_cloud
from tests.functional.apiclient import ApiClient

HEAT_CLOUD = {
    "STRATUS_SERVICES__ENABLED": '["identity", "network", "volume", "object-store", "orchestration"]',
    "STRATUS_COMPUTE__DRIVER": "fake",
}
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"


@pytest.fixture(scope="module")
def cloud(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp(f"heat-{database}"), database, **HEAT_CLOUD)
    yield srv
    stop_cloud(srv)


def osc(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = clirun.run([str(BIN / "openstack"), *args], env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    if check:
        assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"
    return result


def osc_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(osc(env, *args, "-f", "json").stdout)


class Heat(ApiClient):
    """Raw HTTP against /orchestration/v1/<project> with one token."""

    def __init__(self, server: Server, token: str, project_id: str) -> None:
        super().__init__(f"{server.url}/orchestration/v1/{project_id}", token)

    def create(self, name: str, template: dict[str, Any], **fields: Any) -> str:
        resp = self.post("/stacks", json={"stack_name": name, "template": template, **fields})
        assert resp.status_code == 201, resp.text
        return resp.json()["stack"]["id"]  # type: ignore[no-any-return]

    def stack(self, name: str, stack_id: str) -> dict[str, Any]:
        resp = self.get(f"/stacks/{name}/{stack_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()["stack"]  # type: ignore[no-any-return]

    def wait(self, name: str, stack_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            stack = self.stack(name, stack_id)
            if not stack["stack_status"].endswith("IN_PROGRESS"):
                return stack
            assert time.monotonic() < deadline, f"stack {name} still {stack['stack_status']}"
            time.sleep(0.1)


def heat_error(resp: httpx.Response) -> dict[str, Any]:
    """Heat's error body, its format checked; the ``error`` part."""
    body = resp.json()
    assert set(body) == {"explanation", "code", "error", "title"}, body
    assert body["code"] == resp.status_code
    assert set(body["error"]) == {"message", "traceback", "type"}, body
    assert body["error"]["traceback"] is None
    return body["error"]  # type: ignore[no-any-return]
