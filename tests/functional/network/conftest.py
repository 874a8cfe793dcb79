"""Fixtures and helpers for the network (Neutron v2.0) functional tests.

Every module runs its own cloud with identity and network only (no compute:
these tests drive the API), once on SQLite and once on PostgreSQL when
STRATUS_TEST_POSTGRES_URL is set.  ``Neutron`` is raw HTTP against
/network/v2.0 that checks what holds for every answer (never a 5xx, always a
request id); ``osc`` runs the real openstack CLI.  The data plane's tests
(``test_dataplane_*``) take a ``lab`` instead: hosts in namespaces of their
own, removed afterwards whatever happens.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, POSTGRES_URL, Server, database_params, reset_postgres, start_server
from tests.functional.apiclient import ApiClient
from tests.functional.identity.helpers import (
    admin_token,
    client,
    grant,
    make_project,
    make_user,
    token_for,
)
from tests.functional.network.lab import ROOT, Lab, lab_at

NETWORK_ONLY = {"STRATUS_SERVICES__ENABLED": '["identity", "network"]'}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if not ROOT:
        pytest.skip("the data plane needs root (namespaces, nftables)")
    with lab_at(tmp_path) as the_lab:
        yield the_lab


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=database_params())
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = POSTGRES_URL if request.param == "postgres" else ""
    if url:
        reset_postgres(url)
    srv = start_server(tmp_path_factory.mktemp(f"network-{request.param}"), url, **NETWORK_ONLY)
    yield srv
    code = srv.stop()
    assert code == 0, f"stratus did not stop cleanly ({code}):\n{srv.log.read_text()[-4000:]}"


class Neutron(ApiClient):
    """Raw HTTP against /network/v2.0 with one token."""

    def __init__(self, server: Server, token: str, project_id: str = "") -> None:
        super().__init__(f"{server.url}/network/v2.0", token)
        self.server = server
        self.project_id = project_id

    def create(self, kind: str, **attrs: Any) -> dict[str, Any]:
        """POST /{kind}s {kind: attrs}; 201 expected; the created resource."""
        collection = (
            "security-groups"
            if kind == "security_group"
            else ("security-group-rules" if kind == "security_group_rule" else f"{kind}s")
        )
        resp = self.post(f"/{collection}", json={kind: attrs})
        assert resp.status_code == 201, resp.text
        return resp.json()[kind]  # type: ignore[no-any-return]

    def network(self, **attrs: Any) -> dict[str, Any]:
        return self.create("network", name=unique("net"), **attrs)

    def subnet(self, network_id: str, cidr: str = "10.10.0.0/24", **attrs: Any) -> dict[str, Any]:
        return self.create("subnet", network_id=network_id, cidr=cidr, ip_version=4, **attrs)

    def port(self, network_id: str, **attrs: Any) -> dict[str, Any]:
        return self.create("port", network_id=network_id, **attrs)

    def router(self, **attrs: Any) -> dict[str, Any]:
        return self.create("router", name=unique("router"), **attrs)

    def public_id(self) -> str:
        resp = self.get("/networks", params={"name": "public", "router:external": "true"})
        return resp.json()["networks"][0]["id"]  # type: ignore[no-any-return]


def error_type(resp: httpx.Response) -> str:
    body = resp.json()
    assert set(body) == {"NeutronError"}, body
    assert set(body["NeutronError"]) == {"type", "message", "detail"}, body
    return body["NeutronError"]["type"]  # type: ignore[no-any-return]


@dataclass
class Project:
    """A project with a user holding a role on it, and its clients."""

    id: str
    user: dict[str, Any]
    api: Neutron
    env: dict[str, str]


def project_with(server: Server, role: str = "member", project_id: str | None = None) -> Project:
    with client(server) as c:
        project = {"id": project_id} if project_id else make_project(c)
        user = make_user(c)
        grant(c, project["id"], user["id"], role)
    token = token_for(server, user["id"], user["password"], project["id"])
    env = {k: v for k, v in server.env().items() if k not in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE")}
    env.update(
        OS_AUTH_URL=server.auth_url,
        OS_USERNAME=user["name"],
        OS_PASSWORD=user["password"],
        OS_PROJECT_ID=project["id"],
        OS_USER_DOMAIN_NAME="Default",
        OS_IDENTITY_API_VERSION="3",
        OS_CLIENT_CONFIG_FILE="/nonexistent/clouds.yaml",
    )
    return Project(project["id"], user, Neutron(server, token, project["id"]), env)


@pytest.fixture(scope="module")
def admin(cloud: Server) -> Neutron:
    return Neutron(cloud, admin_token(cloud))


@pytest.fixture(scope="module")
def alice(cloud: Server) -> Project:
    return project_with(cloud)


@pytest.fixture(scope="module")
def bob(cloud: Server) -> Project:
    return project_with(cloud)


def osc(
    server: Server, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = clirun.run(
        [str(BIN / "openstack"), *args],
        env=env or server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, (
            f"openstack {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def osc_json(server: Server, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(osc(server, *args, "-f", "json", env=env).stdout)
