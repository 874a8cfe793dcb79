"""What the interop guideline's compute tests (Tempest) check, as a user sees
it: action bodies of ``{}``, the shape of the update and rebuild answers at
2.1, access addresses, ``x-compute-request-id``, the version list, a
server's ``ips``, the image proxy below 2.36 and x509 key pairs (fake
driver, SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.conftest import Server
from tests.functional.compute.conftest import (
    Nova,
    osc,
    osc_json,
    tiny_image,
    unique,
    user_env,
    user_in_project,
)
from tests.functional.identity.helpers import user_with_role

EXTENSION_KEYS = {
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "OS-EXT-AZ:availability_zone",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "key_name",
    "config_drive",
    "os-extended-volumes:volumes_attached",
}


@pytest.fixture(scope="module")
def vm(nova: Nova) -> dict[str, Any]:
    return nova.boot(unique("conf"))


@pytest.mark.parametrize(
    ("action", "after", "undo"),
    [
        ("os-stop", "SHUTOFF", "os-start"),
        ("pause", "PAUSED", "unpause"),
        ("suspend", "SUSPENDED", "resume"),
    ],
)
@pytest.mark.parametrize("empty", [{}, None])
def test_actions_take_an_empty_object_or_null(
    nova: Nova, vm: dict[str, Any], action: str, after: str, undo: str, empty: Any
) -> None:
    resp = nova.action(vm["id"], {action: empty})
    assert resp.status_code == 202, resp.text
    nova.wait(vm["id"], after)
    resp = nova.action(vm["id"], {undo: empty})
    assert resp.status_code == 202, resp.text
    nova.wait(vm["id"], "ACTIVE")


def test_lock_then_unlock_with_empty_objects(nova: Nova, vm: dict[str, Any]) -> None:
    member, _ = _member_of(nova, vm)
    assert nova.action(vm["id"], {"lock": {}}).status_code == 202
    assert member.action(vm["id"], {"os-stop": {}}).status_code == 409  # locked by the admin
    resp = nova.action(vm["id"], {"unlock": {}})
    assert resp.status_code == 202, resp.text
    assert nova.at("2.9").show(vm["id"])["locked"] is False


def _member_of(nova: Nova, vm: dict[str, Any]) -> tuple[Nova, str]:
    return user_in_project(nova.server, vm["tenant_id"], "member", None), vm["tenant_id"]


def test_an_action_with_arguments_it_does_not_take_is_400(nova: Nova, vm: dict[str, Any]) -> None:
    resp = nova.action(vm["id"], {"os-stop": {"force": True}})
    assert resp.status_code == 400
    assert "badRequest" in resp.json()


def test_stop_of_a_server_that_does_not_exist_is_404(nova: Nova) -> None:
    resp = nova.action("00000000-0000-4000-8000-000000000000", {"os-stop": {}})
    assert resp.status_code == 404
    assert "itemNotFound" in resp.json()


def test_update_answers_the_view_without_extensions_before_275(nova: Nova) -> None:
    server = nova.boot(unique("upd"))
    resp = nova.put(f"/servers/{server['id']}", json={"server": {"name": "renamed"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["server"]
    assert body["name"] == "renamed"
    assert not EXTENSION_KEYS & set(body)
    assert "security_groups" not in body
    assert not any(k.startswith("OS-EXT-SRV-ATTR:") for k in body)
    for addrs in body["addresses"].values():
        assert all(set(a) == {"version", "addr"} for a in addrs)
    # 2.75 made it the full view
    full = nova.at("2.75").put(f"/servers/{server['id']}", json={"server": {"name": "again"}})
    assert EXTENSION_KEYS <= set(full.json()["server"])
    # and the show keeps its extensions at 2.1
    assert EXTENSION_KEYS <= set(nova.show(server["id"]))
    assert "progress" in body  # ACTIVE has a progress; SHUTOFF has none
    assert nova.action(server["id"], {"os-stop": None}).status_code == 202
    nova.wait(server["id"], "SHUTOFF")
    stopped = nova.put(f"/servers/{server['id']}", json={"server": {"name": "stopped"}}).json()["server"]
    assert stopped["status"] == "SHUTOFF"
    assert "progress" not in stopped
    assert "progress" not in nova.show(server["id"])


def test_rebuild_answers_the_password_and_the_view_without_extensions(nova: Nova) -> None:
    server = nova.boot(unique("reb"))
    resp = nova.action(
        server["id"],
        {"rebuild": {"imageRef": tiny_image(nova.server), "name": "rebuilt",
                     "metadata": {"rebuild": "server"}, "adminPass": "rebuildPassw0rd"}},
    )
    assert resp.status_code == 202, resp.text
    body = resp.json()["server"]
    assert body["adminPass"] == "rebuildPassw0rd"
    assert body["name"] == "rebuilt"
    assert body["metadata"] == {"rebuild": "server"}
    assert not EXTENSION_KEYS & set(body)
    nova.wait(server["id"])
    # without a password one is made up
    again = nova.action(server["id"], {"rebuild": {"imageRef": tiny_image(nova.server)}})
    assert again.status_code == 202, again.text
    assert len(again.json()["server"]["adminPass"]) >= 8
    nova.wait(server["id"])


def test_access_addresses_are_kept_and_changed(nova: Nova) -> None:
    resp = nova.create_server(
        unique("acc"), accessIPv4="1.1.1.1", accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2"
    )
    assert resp.status_code == 202, resp.text
    server = nova.wait(resp.json()["server"]["id"])
    # kept in the short form, as Nova shows them
    assert (server["accessIPv4"], server["accessIPv6"]) == ("1.1.1.1", "::babe:dc0c:1602")
    resp = nova.put(
        f"/servers/{server['id']}", json={"server": {"accessIPv4": "4.3.2.1", "accessIPv6": "::babe:4.3.2.1"}}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["accessIPv4"] == "4.3.2.1"
    shown = nova.show(server["id"])
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("4.3.2.1", "::babe:403:201")
    listed = nova.get("/servers/detail").json()["servers"]
    assert [s["accessIPv4"] for s in listed if s["id"] == server["id"]] == ["4.3.2.1"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("accessIPv6", "notvalid"), ("accessIPv4", "1.1.1"), ("accessIPv4", "::1"), ("accessIPv6", "")],
)
def test_bad_access_addresses_are_400(nova: Nova, vm: dict[str, Any], field: str, value: str) -> None:
    resp = nova.create_server(unique("bad"), **{field: value})
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["badRequest"]["message"]
    resp = nova.put(f"/servers/{vm['id']}", json={"server": {field: value}})
    assert resp.status_code == 400, resp.text


def test_every_answer_carries_the_compute_request_id(nova: Nova, vm: dict[str, Any]) -> None:
    for resp in (nova.get(f"/servers/{vm['id']}"), nova.get("/servers/nope"), nova.create_server("")):
        assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]
        assert resp.headers["x-compute-request-id"].startswith("req-")


def test_the_version_list_starts_with_v20(nova: Nova) -> None:
    root = nova.server.url + "/compute"
    listed = nova.http.get(root + "/").json()["versions"]
    assert [v["id"] for v in listed] == ["v2.0", "v2.1"]
    assert listed[0]["status"] == "SUPPORTED" and listed[1]["status"] == "CURRENT"
    for v in listed:  # every self link can be followed to the version's own document
        (link,) = [x["href"] for x in v["links"] if x["rel"] == "self"]
        resp = nova.http.get(link)
        assert resp.status_code == 200, link
        assert resp.json()["version"]["id"] == v["id"]


def test_a_servers_ips_by_network(nova: Nova, vm: dict[str, Any]) -> None:
    resp = nova.get(f"/servers/{vm['id']}/ips")
    assert resp.status_code == 200, resp.text
    addresses = resp.json()["addresses"]
    shown = nova.show(vm["id"])["addresses"]
    assert addresses == {
        net: [{"version": a["version"], "addr": a["addr"]} for a in addrs] for net, addrs in shown.items()
    }
    for net, addrs in addresses.items():
        one = nova.get(f"/servers/{vm['id']}/ips/{net}")
        assert one.status_code == 200
        assert one.json() == {net: addrs}
    missing = nova.get(f"/servers/{vm['id']}/ips/no-such-network")
    assert missing.status_code == 404
    assert "itemNotFound" in missing.json()
    assert nova.get("/servers/00000000-0000-4000-8000-000000000000/ips").status_code == 404


def _proxy_image(nova: Nova, image_id: str, status: str = "ACTIVE") -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        resp = nova.get(f"/images/{image_id}")
        assert resp.status_code == 200, resp.text
        image: dict[str, Any] = resp.json()["image"]
        if image["status"] == status:
            return image
        assert time.monotonic() < deadline, f"image {image_id}: {image}"
        time.sleep(0.2)


def test_the_image_proxy_shows_lists_and_deletes_a_snapshot(nova: Nova, vm: dict[str, Any]) -> None:
    resp = nova.action(vm["id"], {"createImage": {"name": "tempest-\u20a1-snap", "metadata": {"image_type": "test"}}})
    assert resp.status_code == 202, resp.text
    image_id = resp.headers["location"].rsplit("/", 1)[1]
    image = _proxy_image(nova, image_id)
    assert image["name"] == "tempest-\u20a1-snap"
    assert image["metadata"]["image_type"] == "test"
    assert image["server"]["id"] == vm["id"]
    assert image["progress"] == 100
    original = nova.get(f"/images/{tiny_image(nova.server)}").json()["image"]
    assert image["minRam"] == original["minRam"]
    assert {"self", "bookmark", "alternate"} == {link["rel"] for link in image["links"]}
    assert image_id in [i["id"] for i in nova.get("/images").json()["images"]]
    detail = nova.get("/images/detail").json()["images"]
    assert [i["status"] for i in detail if i["id"] == image_id] == ["ACTIVE"]
    nova.wait(vm["id"])
    assert nova.delete(f"/images/{image_id}").status_code == 204
    gone = nova.get(f"/images/{image_id}")
    assert gone.status_code == 404
    assert "itemNotFound" in gone.json()
    assert nova.delete(f"/images/{image_id}").status_code == 404


def test_the_image_proxy_is_gone_from_236(nova: Nova) -> None:
    image = tiny_image(nova.server)
    assert nova.at("2.35").get(f"/images/{image}").status_code == 200
    assert nova.at("2.36").get(f"/images/{image}").status_code == 404
    assert nova.at("2.36").get("/images").status_code == 404


def test_x509_key_pairs(nova: Nova) -> None:
    v22 = nova.at("2.2")
    name = unique("x509")
    resp = v22.post("/os-keypairs", json={"keypair": {"name": name, "type": "x509"}})
    assert resp.status_code == 201, resp.text
    made = resp.json()["keypair"]
    assert made["type"] == "x509"
    cert = x509.load_pem_x509_certificate(made["public_key"].encode())
    key = serialization.load_pem_private_key(made["private_key"].encode(), password=None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER), usedforsecurity=False).hexdigest()
    assert made["fingerprint"].replace(":", "") == sha1
    shown = v22.get(f"/os-keypairs/{name}").json()["keypair"]
    assert (shown["type"], shown["fingerprint"]) == ("x509", made["fingerprint"])
    listed = v22.get("/os-keypairs").json()["keypairs"]
    assert [k["keypair"]["type"] for k in listed if k["keypair"]["name"] == name] == ["x509"]
    # an imported certificate keeps its fingerprint; what is not one is 400
    imported = v22.post(
        "/os-keypairs", json={"keypair": {"name": unique("imp"), "type": "x509", "public_key": made["public_key"]}}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["keypair"]["fingerprint"] == made["fingerprint"]
    bad = v22.post(
        "/os-keypairs", json={"keypair": {"name": unique("bad"), "type": "x509", "public_key": "ssh-ed25519 AAAA"}}
    )
    assert bad.status_code == 400
    assert "badRequest" in bad.json()
    # before 2.2 there is no type
    assert nova.post("/os-keypairs", json={"keypair": {"name": unique("old"), "type": "x509"}}).status_code == 400



def test_availability_zones_with_the_cli(cloud: Server, nova: Nova) -> None:
    """`openstack availability zone list` asks for the detail (admins), and
    falls back on the plain list when refused (everyone else)."""
    rows = osc_json(cloud, "availability", "zone", "list", "--compute", "--long")
    mine = [r for r in rows if r["Host Name"] == "fakehost"]
    assert len(mine) == 1
    assert (mine[0]["Zone Name"], mine[0]["Zone Status"]) == ("nova", "available")
    assert mine[0]["Service Name"] == "nova-compute"
    assert mine[0]["Service Status"].startswith("enabled :-)")
    user, project, _token = user_with_role(cloud, "member")
    env = user_env(cloud, user["name"], user["password"], project["id"])
    proc = osc(cloud, "availability", "zone", "list", "--compute", "-f", "json", env=env)
    assert [(r["Zone Name"], r["Zone Status"]) for r in json.loads(proc.stdout)] == [("nova", "available")]
    member = Nova(cloud, _token)
    refused = member.get("/os-availability-zone/detail")
    assert refused.status_code == 403
    assert "forbidden" in refused.json()
    detail = nova.get("/os-availability-zone/detail").json()["availabilityZoneInfo"]
    assert detail[0]["hosts"]["fakehost"]["nova-compute"]["available"] is True
