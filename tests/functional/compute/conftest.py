"""Fixtures and helpers for the compute (Nova v2.1) functional tests.

Every module runs its own cloud with the in-memory ``fake`` driver, once on
SQLite and once on PostgreSQL (``database``), so that tests which disable the
host, shrink it or lower quotas cannot disturb the others.  ``cloud`` is
module-scoped; modules that need other settings start a server of their own
with ``fake_cloud(tmp_path_factory, database=database, **env)``.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server, start_cloud, stop_cloud
from tests.functional.apiclient import ApiClient
from tests.functional.identity.helpers import user_with_role

FAKE = {"STRATUS_COMPUTE__DRIVER": "fake", "STRATUS_COMPUTE__HOST": "fakehost"}
TERMINAL = {"ACTIVE", "ERROR", "SHUTOFF", "PAUSED", "SUSPENDED"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Nova(ApiClient):
    """Raw HTTP against /compute/v2.1 with one token and an optional microversion.

    Every response is checked for the two things that hold everywhere: no 5xx
    and an ``x-openstack-request-id`` header."""

    def __init__(self, server: Server, token: str, version: str | None = None) -> None:
        super().__init__(f"{server.url}/compute/v2.1", token, timeout=30)
        self.server = server
        self.version = version

    def at(self, version: str | None) -> Nova:
        return Nova(self.server, self.token, version)

    def request(self, method: str, path: str, version: str | None = "default", **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        v = self.version if version == "default" else version
        if v is not None:
            headers["OpenStack-API-Version"] = f"compute {v}"
        return super().request(method, path, headers=headers, **kw)

    # -- servers ---------------------------------------------------------------------

    def create_server(self, name: str | None = None, flavor: str = "1", **extra: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "name": name if name is not None else unique("vm"),
            "imageRef": self.server_image(),
            "flavorRef": flavor,
        }
        if self.version and self.version != "2.1" and "networks" not in extra:
            body["networks"] = "none"
        body.update(extra)
        hints = body.pop("scheduler_hints", None)
        payload: dict[str, Any] = {"server": body}
        if hints:
            payload["os:scheduler_hints"] = hints
        return self.post("/servers", json=payload)

    def boot(self, name: str | None = None, status: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
        resp = self.create_server(name, **extra)
        assert resp.status_code == 202, resp.text
        return self.wait(resp.json()["server"]["id"], status)

    def show(self, server_id: str) -> dict[str, Any]:
        resp = self.get(f"/servers/{server_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()["server"]  # type: ignore[no-any-return]

    def wait(self, server_id: str, status: str = "ACTIVE", timeout: float = 30) -> dict[str, Any]:
        """Poll until the server has ``status`` and no task; fail early on another terminal state."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.at("2.96").show(server_id)
            if last["status"] == status and last.get("OS-EXT-STS:task_state") is None:
                return last
            if last["status"] in TERMINAL - {status} and last.get("OS-EXT-STS:task_state") is None:
                raise AssertionError(f"server {server_id} is {last['status']}, not {status}: {last}")
            time.sleep(0.1)
        raise AssertionError(f"server {server_id} not {status} after {timeout} s: {last}")

    def wait_gone(self, server_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(f"/servers/{server_id}").status_code == 404:
                return
            time.sleep(0.1)
        raise AssertionError(f"server {server_id} still there after {timeout} s")

    def action(self, server_id: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(f"/servers/{server_id}/action", json=body, **kw)

    def server_image(self) -> str:
        return tiny_image(self.server)


# by the cloud's data folder: a later cloud may get an earlier one's port
_IMAGES: dict[Path, str] = {}


def tiny_image(server: Server) -> str:
    """The id of the bootstrap image ``tiny`` (waits until it is active)."""
    if server.data_dir in _IMAGES:
        return _IMAGES[server.data_dir]
    token = server.admin_token()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        resp = httpx.get(
            f"{server.url}/image/v2/images", params={"name": "tiny"}, headers={"X-Auth-Token": token}
        )
        images = resp.json().get("images", []) if resp.status_code == 200 else []
        if images and images[0]["status"] == "active":
            _IMAGES[server.data_dir] = images[0]["id"]
            return images[0]["id"]
        time.sleep(0.2)
    raise AssertionError("the bootstrap image `tiny` never became active")


def fake_cloud(
    factory: pytest.TempPathFactory, name: str = "compute", *, database: str, **env: str
) -> Server:
    """A cloud with the fake driver on a database of ``database``'s kind
    (stop it with ``stop_cloud``)."""
    srv = start_cloud(factory.mktemp(name), database, **{**FAKE, **env})
    try:
        tiny_image(srv)
    except BaseException:
        stop_cloud(srv)
        raise
    return srv


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, database=database)
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def nova(cloud: Server) -> Nova:
    """Admin, no microversion header (= 2.1)."""
    return Nova(cloud, cloud.admin_token())


@pytest.fixture(scope="module")
def nova96(nova: Nova) -> Nova:
    return nova.at("2.96")


def project_user(server: Server, role: str = "member", version: str | None = "2.96") -> tuple[Nova, dict[str, Any]]:
    """A fresh project with a user holding ``role``; returns their client and the project."""
    _user, project, token = user_with_role(server, role)
    return Nova(server, token, version), project


def user_in_project(server: Server, project_id: str, role: str, version: str | None = "2.96") -> Nova:
    from tests.functional.identity.helpers import client, grant, make_user, token_for

    with client(server) as c:
        user = make_user(c)
        grant(c, project_id, user["id"], role)
    return Nova(server, token_for(server, user["id"], user["password"], project_id), version)


# -- the openstack CLI ----------------------------------------------------------------------


def osc(server: Server, *args: str, check: bool = True, timeout: float = 90, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = clirun.run(
        [str(BIN / "openstack"), *args],
        env=env or server.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, f"openstack {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def osc_json(server: Server, *args: str) -> Any:
    return json.loads(osc(server, *args, "-f", "json").stdout)


def user_env(server: Server, username: str, password: str, project_id: str) -> dict[str, str]:
    env = {k: v for k, v in server.env().items() if k not in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE")}
    env.update(
        OS_AUTH_URL=server.auth_url,
        OS_USERNAME=username,
        OS_PASSWORD=password,
        OS_PROJECT_ID=project_id,
        OS_USER_DOMAIN_NAME="Default",
        OS_IDENTITY_API_VERSION="3",
        OS_CLIENT_CONFIG_FILE=str(Path("/nonexistent/clouds.yaml")),
    )
    return env
