"""Fixtures for the load-balancing (Octavia v2) functional tests.

Every module runs its own cloud with identity, network and load-balancer
(the fake data planes: these tests drive the API), once on SQLite and once
on PostgreSQL.  ``Octavia`` is raw HTTP against /load-balancer/v2 that
checks what holds for every answer (never a 5xx, always a request id);
the CLI is the real ``openstack loadbalancer``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.apiclient import ApiClient
from tests.functional.network.conftest import Project, project_with, unique

LB_CLOUD = {"STRATUS_SERVICES__ENABLED": '["identity", "network", "load-balancer"]'}


@pytest.fixture(scope="module")
def cloud(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp(f"lb-{database}"), database, **LB_CLOUD)
    yield srv
    stop_cloud(srv)


class Octavia(ApiClient):
    """Raw HTTP against /load-balancer/v2/lbaas with one token."""

    def __init__(self, server: Server, token: str) -> None:
        super().__init__(f"{server.url}/load-balancer/v2/lbaas", token)

    def create(self, path: str, key: str, **attrs: Any) -> dict[str, Any]:
        resp = self.post(path, json={key: attrs})
        assert resp.status_code == 201, resp.text
        return resp.json()[key]  # type: ignore[no-any-return]

    def wait_active(self, lb_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            lb = self.get(f"/loadbalancers/{lb_id}").json()["loadbalancer"]
            if lb["provisioning_status"] == "ACTIVE":
                return lb  # type: ignore[no-any-return]
            assert lb["provisioning_status"] != "ERROR", lb
            assert time.monotonic() < deadline, f"load balancer {lb_id} never ACTIVE: {lb}"
            time.sleep(0.05)


def fault(resp: httpx.Response) -> str:
    """Octavia's error body: its faultstring (the format is checked)."""
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
    assert body["faultcode"] == ("Client" if resp.status_code < 500 else "Server"), body
    assert body["debuginfo"] is None
    return body["faultstring"]  # type: ignore[no-any-return]


class Tenant:
    """A project's user: its Neutron and Octavia clients and a subnet."""

    def __init__(self, server: Server, project: Project, cidr: str) -> None:
        self.project = project
        self.env = project.env
        self.lb = Octavia(server, project.api.token)
        self.net = project.api.network()
        self.subnet = project.api.subnet(self.net["id"], cidr)


@pytest.fixture(scope="module")
def alice(cloud: Server) -> Tenant:
    return Tenant(cloud, project_with(cloud), "10.61.0.0/24")


@pytest.fixture(scope="module")
def bob(cloud: Server) -> Tenant:
    return Tenant(cloud, project_with(cloud), "10.62.0.0/24")


__all__ = ["Octavia", "Tenant", "fault", "unique"]
