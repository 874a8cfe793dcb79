"""Version discovery, microversion negotiation and per-microversion response shapes."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import Nova

SERVER_21_REQUIRED = {
    "id", "name", "status", "image", "flavor", "user_id", "tenant_id",
    "created", "updated", "metadata", "links", "addresses", "hostId",
}
SERVER_LATER_FIELDS = {
    "description", "tags", "locked", "locked_reason", "host_status",
    "trusted_image_certificates", "server_groups", "pinned_availability_zone",
}


@pytest.mark.parametrize("path", ["/compute/", "/compute/v2.1", "/compute/v2.1/"])
def test_discovery_without_token(cloud: Server, path: str) -> None:
    resp = httpx.get(cloud.url + path)
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("x-openstack-request-id")
    body = resp.json()
    if path == "/compute/":
        assert isinstance(body["versions"], list)
        (version,) = [v for v in body["versions"] if v["id"] == "v2.1"]
    else:
        version = body["version"]
    assert version["id"] == "v2.1"
    assert version["status"] == "CURRENT"
    assert version["version"] == "2.96"
    assert version["min_version"] == "2.1"
    (self_link,) = [link for link in version["links"] if link["rel"] == "self"]
    assert self_link["href"].rstrip("/") == f"{cloud.url}/compute/v2.1"


@pytest.mark.parametrize(
    "header",
    [
        {"OpenStack-API-Version": "compute 2.60"},
        {"X-OpenStack-Nova-API-Version": "2.60"},
        {"OpenStack-API-Version": "compute 2.60", "X-OpenStack-Nova-API-Version": "2.60"},
    ],
)
def test_negotiation_headers_honoured_and_echoed(nova: Nova, header: dict[str, str]) -> None:
    resp = nova.get("/flavors/1", version=None, headers=header)
    assert resp.status_code == 200, resp.text
    assert resp.headers["openstack-api-version"] == "compute 2.60"
    assert resp.headers["x-openstack-nova-api-version"] == "2.60"
    flavor = resp.json()["flavor"]
    assert "description" in flavor  # 2.55
    assert "extra_specs" not in flavor  # 2.61


def test_no_header_means_21(nova: Nova) -> None:
    resp = nova.get("/flavors/1", version=None)
    assert resp.headers["openstack-api-version"] == "compute 2.1"
    assert resp.headers["x-openstack-nova-api-version"] == "2.1"


@pytest.mark.parametrize("value", ["2.97", "3.0", "2.200", "1.1"])
@pytest.mark.parametrize("header", ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"])
def test_unsupported_version_is_406(nova: Nova, header: str, value: str) -> None:
    text = f"compute {value}" if header == "OpenStack-API-Version" else value
    resp = nova.get("/flavors/1", version=None, headers={header: text})
    assert resp.status_code == 406, resp.text


@pytest.mark.parametrize("header", ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"])
def test_latest_is_max(nova: Nova, header: str) -> None:
    text = "compute latest" if header == "OpenStack-API-Version" else "latest"
    resp = nova.get("/flavors/1", version=None, headers={header: text})
    assert resp.status_code == 200, resp.text
    assert resp.headers["openstack-api-version"] == "compute 2.96"
    assert resp.headers["x-openstack-nova-api-version"] == "2.96"


@pytest.mark.parametrize("value", ["garbage", "2", "2.x", "compute"])
def test_garbage_version_is_400(nova: Nova, value: str) -> None:
    resp = nova.get("/flavors/1", version=None, headers={"X-OpenStack-Nova-API-Version": value})
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["code"] == 400
    resp = nova.get("/flavors/1", version=None, headers={"OpenStack-API-Version": f"compute {value}"})
    assert resp.status_code == 400, resp.text


def test_other_service_in_header_is_ignored(nova: Nova) -> None:
    resp = nova.get("/flavors/1", version=None, headers={"OpenStack-API-Version": "volume 3.70"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["openstack-api-version"] == "compute 2.1"


def test_server_at_21_has_exactly_21_fields(nova: Nova) -> None:
    created = nova.boot()
    server = nova.show(created["id"])
    assert SERVER_21_REQUIRED <= set(server), SERVER_21_REQUIRED - set(server)
    assert not (SERVER_LATER_FIELDS & set(server)), SERVER_LATER_FIELDS & set(server)
    assert set(server["flavor"]) == {"id", "links"}
    listed = nova.get("/servers/detail").json()["servers"]
    for s in listed:
        assert not (SERVER_LATER_FIELDS & set(s))
        assert SERVER_21_REQUIRED <= set(s)
    brief = nova.get("/servers").json()["servers"]
    assert brief and all(set(s) == {"id", "name", "links"} for s in brief)


def test_server_at_296_has_later_fields(nova: Nova) -> None:
    created = nova.at("2.96").boot()
    server = nova.at("2.96").show(created["id"])
    assert SERVER_LATER_FIELDS <= set(server), SERVER_LATER_FIELDS - set(server)
    assert server["locked"] is False
    assert server["tags"] == []
    assert server["server_groups"] == []
    assert server["host_status"] == "UP"  # admin
    # 2.47: the flavor is embedded
    assert {"original_name", "vcpus", "ram", "disk", "ephemeral", "swap", "extra_specs"} <= set(server["flavor"])
    assert server["flavor"]["original_name"] == "m1.tiny"


def test_keypair_create_at_21_is_200_without_type(nova: Nova) -> None:
    resp = nova.post("/os-keypairs", json={"keypair": {"name": "k21"}})
    assert resp.status_code == 200, resp.text
    kp = resp.json()["keypair"]
    assert {"fingerprint", "name", "public_key", "user_id", "private_key"} <= set(kp)
    assert "type" not in kp
    resp = nova.delete("/os-keypairs/k21")
    assert resp.status_code == 202, resp.text  # 202 at 2.1, 204 from 2.2


def test_keypair_create_at_22_is_201_with_type(nova: Nova) -> None:
    resp = nova.at("2.2").post("/os-keypairs", json={"keypair": {"name": "k22"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["keypair"]["type"] == "ssh"
    assert nova.at("2.2").delete("/os-keypairs/k22").status_code == 204
