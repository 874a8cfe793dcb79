"""createImage, createBackup, shelve/unshelve and rescue/unrescue over raw
HTTP against a cloud with the fake driver: response shapes per microversion,
the images they make in the image service, the states a user sees, and the
error contract."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, sql
from tests.functional.compute.conftest import (
    Nova,
    fake_cloud,
    project_user,
    stop_cloud,
    tiny_image,
    unique,
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, "snapshots", database=database, STRATUS_COMPUTE__QUOTA_METADATA_ITEMS="3")
    yield srv
    stop_cloud(srv)


def glance(server: Server, path: str, token: str | None = None, **params: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/image/v2{path}", params=params, headers={"X-Auth-Token": token or server.admin_token()}
    )


def wait_image(server: Server, image_id: str, status: str = "active", timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = glance(server, f"/images/{image_id}")
        if resp.status_code == 200 and resp.json()["status"] == status:
            return resp.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"image {image_id} not {status}: {resp.status_code} {resp.text}"
        time.sleep(0.1)


def wait_image_gone(server: Server, image_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while glance(server, f"/images/{image_id}").status_code != 404:
        assert time.monotonic() < deadline, f"image {image_id} still there"
        time.sleep(0.1)


def backups_of(server: Server, server_id: str, backup_type: str) -> list[dict[str, Any]]:
    resp = glance(server, "/images", instance_uuid=server_id, image_type="backup", backup_type=backup_type)
    assert resp.status_code == 200, resp.text
    return resp.json()["images"]  # type: ignore[no-any-return]


def events(nova: Nova, server_id: str) -> list[dict[str, Any]]:
    actions = nova.at("2.96").get(f"/servers/{server_id}/os-instance-actions").json()["instanceActions"]
    out = []
    for action in actions:
        shown = nova.at("2.96").get(f"/servers/{server_id}/os-instance-actions/{action['request_id']}")
        out.append(shown.json()["instanceAction"])
    return out


@pytest.fixture(scope="module")
def vm(nova96: Nova) -> dict[str, Any]:
    return nova96.boot(unique("snap"))


# -- createImage ---------------------------------------------------------------------------


def test_create_image_at_21_has_location_and_makes_a_snapshot_image(cloud: Server, nova: Nova, vm: dict[str, Any]) -> None:
    resp = nova.action(vm["id"], {"createImage": {"name": " snap-21 ", "metadata": {"purpose": "test"}}})
    assert resp.status_code == 202, resp.text
    assert resp.content == b""
    location = resp.headers["location"]
    assert location.startswith(f"{cloud.url}/compute/v2.1/images/")
    image = wait_image(cloud, location.rsplit("/", 1)[1])
    assert image["name"] == "snap-21"
    assert image["instance_uuid"] == vm["id"]
    assert image["image_type"] == "snapshot"
    assert image["base_image_ref"] == tiny_image(cloud)
    assert image["user_id"] == vm["user_id"]
    assert image["purpose"] == "test"
    assert image["owner"] == vm["tenant_id"]
    assert image["visibility"] == "private"
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "bare")
    assert image["min_disk"] >= 1 and image["size"] > 0
    shown = nova.wait(vm["id"], "ACTIVE")
    assert shown["OS-EXT-STS:task_state"] is None and shown["OS-EXT-STS:vm_state"] == "active"
    done = [a for a in events(nova, vm["id"]) if a["action"] == "createImage"]
    assert done and done[0]["events"][0]["result"] == "Success"


def test_create_image_at_245_answers_image_id(cloud: Server, nova: Nova, vm: dict[str, Any]) -> None:
    resp = nova.at("2.45").action(vm["id"], {"createImage": {"name": "snap-245"}})
    assert resp.status_code == 202, resp.text
    assert "location" not in resp.headers
    image_id = resp.json()["image_id"]
    assert wait_image(cloud, image_id)["name"] == "snap-245"
    nova.wait(vm["id"], "ACTIVE")


def test_create_image_of_a_stopped_server_keeps_it_stopped(cloud: Server, nova96: Nova) -> None:
    vm = nova96.boot(unique("stopped"))
    assert nova96.action(vm["id"], {"os-stop": None}).status_code == 202
    nova96.wait(vm["id"], "SHUTOFF")
    resp = nova96.action(vm["id"], {"createImage": {"name": "of-stopped"}})
    assert resp.status_code == 202, resp.text
    wait_image(cloud, resp.json()["image_id"])
    assert nova96.wait(vm["id"], "SHUTOFF")["OS-EXT-STS:vm_state"] == "stopped"


def test_a_server_boots_from_its_snapshot(cloud: Server, nova96: Nova, vm: dict[str, Any]) -> None:
    resp = nova96.action(vm["id"], {"createImage": {"name": unique("boot-me")}})
    image_id = resp.json()["image_id"]
    wait_image(cloud, image_id)
    nova96.wait(vm["id"], "ACTIVE")
    child = nova96.boot(unique("child"), imageRef=image_id)
    assert child["image"]["id"] == image_id


def test_create_image_errors(cloud: Server, nova: Nova, nova96: Nova, vm: dict[str, Any]) -> None:
    # unknown server, blank name, unknown field, metadata over quota (up to 2.38)
    assert nova96.action("nope", {"createImage": {"name": "x"}}).status_code == 404
    for body in ({"name": "  "}, {"name": ""}, {}, {"name": "x", "extra": 1}, {"name": "x", "metadata": {"a": 1}}):
        resp = nova96.action(vm["id"], {"createImage": body})
        assert resp.status_code == 400, f"{body}: {resp.text}"
        assert resp.json()["badRequest"]["code"] == 400
    many = {f"k{i}": "v" for i in range(4)}
    resp = nova.at("2.38").action(vm["id"], {"createImage": {"name": "m", "metadata": many}})
    assert resp.status_code == 403, resp.text
    assert "metadata_items" in resp.json()["forbidden"]["message"]
    resp = nova.at("2.39").action(vm["id"], {"createImage": {"name": "m", "metadata": many}})
    assert resp.status_code == 202, resp.text  # no image metadata quota from 2.39
    wait_image(cloud, resp.headers["location"].rsplit("/", 1)[1])
    nova.wait(vm["id"], "ACTIVE")


def test_locked_server_refuses_its_owner_but_not_admin(cloud: Server) -> None:
    member, _project = project_user(cloud)
    vm = member.boot(unique("locked"))
    assert member.action(vm["id"], {"lock": None}).status_code == 202
    for body in (
        {"createImage": {"name": "x"}},
        {"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1}},
        {"shelve": None},
        {"rescue": None},
    ):
        resp = member.action(vm["id"], body)
        assert resp.status_code == 409, resp.text
        assert "locked" in resp.json()["conflictingRequest"]["message"]
    admin = Nova(cloud, cloud.admin_token(), "2.96")
    resp = admin.action(vm["id"], {"createImage": {"name": "by-admin"}})
    assert resp.status_code == 202, resp.text
    image = wait_image(cloud, resp.json()["image_id"])
    assert image["owner"] == vm["tenant_id"]  # the server's project, not the admin's
    admin.wait(vm["id"], "ACTIVE")
    # the owner sees the image made of its server
    assert glance(cloud, f"/images/{image['id']}", member.token).status_code == 200


def test_a_host_without_snapshots_refuses_with_409(cloud: Server, nova96: Nova, vm: dict[str, Any]) -> None:
    ((caps,),) = sql(cloud, "select capabilities from compute_host")
    try:
        sql(cloud, "update compute_host set capabilities = ?", json.dumps(["pause"]))
        for body in (
            {"createImage": {"name": "x"}},
            {"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1}},
            {"shelve": None},
            {"rescue": None},
        ):
            resp = nova96.action(vm["id"], body)
            assert resp.status_code == 409, resp.text
            message = resp.json()["conflictingRequest"]["message"]
            assert "does not support" in message and "fake driver" in message
    finally:
        sql(cloud, "update compute_host set capabilities = ?", caps)
    assert not glance(cloud, "/images", name="x").json()["images"]


# -- createBackup ------------------------------------------------------------------------------


def test_backup_rotation(cloud: Server, nova: Nova, nova96: Nova) -> None:
    vm = nova96.boot(unique("backed"))
    made = []
    for i in range(3):
        resp = nova96.action(vm["id"], {"createBackup": {"name": f"bk{i}", "backup_type": "daily", "rotation": 2}})
        assert resp.status_code == 202, resp.text
        made.append(resp.json()["image_id"])
        wait_image(cloud, made[-1])
        nova96.wait(vm["id"], "ACTIVE")
    wait_image_gone(cloud, made[0])
    left = backups_of(cloud, vm["id"], "daily")
    assert sorted(b["id"] for b in left) == sorted(made[1:])
    assert all(b["image_type"] == "backup" and b["backup_type"] == "daily" for b in left)
    # another type rotates on its own
    resp = nova.action(vm["id"], {"createBackup": {"name": "w", "backup_type": "weekly", "rotation": "1"}})
    assert resp.status_code == 202, resp.text
    assert resp.headers["location"].startswith(f"{cloud.url}/compute/v2.1/images/")
    nova96.wait(vm["id"], "ACTIVE")
    wait_image(cloud, resp.headers["location"].rsplit("/", 1)[1])
    assert len(backups_of(cloud, vm["id"], "daily")) == 2
    # rotation 0 deletes every backup of the type, the new one too; no Location below 2.45
    resp = nova.action(vm["id"], {"createBackup": {"name": "z", "backup_type": "daily", "rotation": 0}})
    assert resp.status_code == 202, resp.text
    assert "location" not in resp.headers
    nova96.wait(vm["id"], "ACTIVE")
    deadline = time.monotonic() + 30
    while backups_of(cloud, vm["id"], "daily"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert len(backups_of(cloud, vm["id"], "weekly")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "b", "backup_type": "daily", "rotation": -1},
        {"name": "b", "backup_type": "daily", "rotation": "two"},
        {"name": "b", "backup_type": "daily", "rotation": 1.5},
        {"name": "b", "backup_type": "daily", "rotation": True},
        {"name": "b", "backup_type": 5, "rotation": 1},
        {"name": "b", "backup_type": None, "rotation": 1},
        {"name": "b", "rotation": 1},
        {"name": "b", "backup_type": "daily"},
    ],
)
def test_backup_bad_input(nova96: Nova, vm: dict[str, Any], body: dict[str, Any]) -> None:
    resp = nova96.action(vm["id"], {"createBackup": body})
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["code"] == 400


# -- shelve -----------------------------------------------------------------------------------


def test_shelve_offload_unshelve(cloud: Server, nova96: Nova) -> None:
    vm = nova96.boot(unique("shelf"))
    assert nova96.action(vm["id"], {"shelve": None}).status_code == 202
    shown = nova96.wait(vm["id"], "SHELVED_OFFLOADED")
    assert shown["OS-EXT-STS:vm_state"] == "shelved_offloaded"
    assert shown["OS-EXT-SRV-ATTR:host"] is None
    assert shown["OS-EXT-STS:power_state"] == 0
    (image,) = glance(cloud, "/images", name=f"{vm['name']}-shelved").json()["images"]
    assert image["status"] == "active" and image["instance_uuid"] == vm["id"]
    listed = nova96.get("/servers/detail", params={"status": "SHELVED_OFFLOADED"}).json()["servers"]
    assert vm["id"] in [s["id"] for s in listed]
    # wrong states
    assert nova96.action(vm["id"], {"shelve": None}).status_code == 409
    assert nova96.action(vm["id"], {"os-start": None}).status_code == 409
    assert nova96.action(vm["id"], {"createImage": {"name": "no"}}).status_code == 409
    # unshelve: 2.77 zone, 2.91 host and null zone; bad ones are 400
    assert nova96.at("2.76").action(vm["id"], {"unshelve": {"availability_zone": "nova"}}).status_code == 400
    assert nova96.at("2.77").action(vm["id"], {"unshelve": {"availability_zone": "mars"}}).status_code == 400
    assert nova96.at("2.90").action(vm["id"], {"unshelve": {"host": "fakehost"}}).status_code == 400
    assert nova96.at("2.91").action(vm["id"], {"unshelve": {"host": "nohost"}}).status_code == 400
    resp = nova96.at("2.91").action(vm["id"], {"unshelve": {"host": "fakehost"}})
    assert resp.status_code == 202, resp.text
    shown = nova96.wait(vm["id"], "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "fakehost"
    assert shown["image"]["id"] == tiny_image(cloud)  # the server's image, not the shelved one
    wait_image_gone(cloud, image["id"])
    assert nova96.action(vm["id"], {"unshelve": None}).status_code == 409


def test_shelve_offload_is_for_admins(cloud: Server) -> None:
    member, _ = project_user(cloud)
    vm = member.boot(unique("kept"))
    resp = member.action(vm["id"], {"shelveOffload": None})
    assert resp.status_code == 403, resp.text


def test_rescue_unrescue(cloud: Server, nova96: Nova) -> None:
    vm = nova96.boot(unique("rescue"))
    resp = nova96.action(vm["id"], {"rescue": {"adminPass": "s3cret"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"adminPass": "s3cret"}
    shown = nova96.wait(vm["id"], "RESCUE")
    assert shown["OS-EXT-STS:vm_state"] == "rescued"
    assert nova96.action(vm["id"], {"rescue": None}).status_code == 409
    assert nova96.action(vm["id"], {"unrescue": None}).status_code == 202
    nova96.wait(vm["id"], "ACTIVE")
    resp = nova96.action(vm["id"], {"rescue": None})
    assert resp.status_code == 200 and len(resp.json()["adminPass"]) >= 8
    nova96.wait(vm["id"], "RESCUE")
    nova96.action(vm["id"], {"unrescue": None})
    nova96.wait(vm["id"], "ACTIVE")
    bad = nova96.action(vm["id"], {"rescue": {"rescue_image_ref": "00000000-0000-0000-0000-000000000000"}})
    assert bad.status_code == 400, bad.text
    assert nova96.action(vm["id"], {"unrescue": None}).status_code == 409


def test_image_quota_is_a_clear_403(tmp_path_factory: pytest.TempPathFactory, database: str) -> None:
    """The image service's count quota (here 1 image per project) refuses the
    second snapshot: Nova's 403, and the server is left as it was."""
    srv = fake_cloud(tmp_path_factory, "imagequota", database=database, STRATUS_IMAGE__QUOTA_IMAGES="1")
    try:
        member, _ = project_user(srv)
        vm = member.boot(unique("quota"))
        first = member.action(vm["id"], {"createImage": {"name": "one"}})
        assert first.status_code == 202, first.text
        wait_image(srv, first.json()["image_id"])
        member.wait(vm["id"], "ACTIVE")
        resp = member.action(vm["id"], {"createImage": {"name": "two"}})
        assert resp.status_code == 403, resp.text
        assert "Quota exceeded for images" in resp.json()["forbidden"]["message"]
        shown = member.wait(vm["id"], "ACTIVE")
        assert shown["OS-EXT-STS:task_state"] is None
        resp = member.action(vm["id"], {"shelve": None})
        assert resp.status_code == 403, resp.text
        assert member.show(vm["id"])["status"] == "ACTIVE"
    finally:
        stop_cloud(srv)


def test_shelved_offload_time(tmp_path_factory: pytest.TempPathFactory, database: str) -> None:
    """-1: a shelved server keeps its host until an admin offloads it;
    unshelving a SHELVED server starts it where it is.  Then the offloaded
    one is unshelved through the scheduler; a disabled host leaves it
    offloaded with the reason in its actions; delete takes the shelved image."""
    srv = fake_cloud(tmp_path_factory, "keep", database=database, STRATUS_COMPUTE__SHELVED_OFFLOAD_TIME="-1")
    try:
        nova = Nova(srv, srv.admin_token(), "2.96")
        vm = nova.boot(unique("kept"))
        assert nova.action(vm["id"], {"shelve": None}).status_code == 202
        shown = nova.wait(vm["id"], "SHELVED")
        assert shown["OS-EXT-STS:vm_state"] == "shelved" and shown["OS-EXT-SRV-ATTR:host"] == "fakehost"
        assert shown["OS-EXT-STS:power_state"] == 4
        (image,) = glance(srv, "/images", name=f"{vm['name']}-shelved").json()["images"]
        assert nova.action(vm["id"], {"unshelve": None}).status_code == 202
        assert nova.wait(vm["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fakehost"
        wait_image_gone(srv, image["id"])

        assert nova.action(vm["id"], {"shelve": None}).status_code == 202
        nova.wait(vm["id"], "SHELVED")
        # 2.77: a zone only for an offloaded server
        assert nova.at("2.77").action(vm["id"], {"unshelve": {"availability_zone": "nova"}}).status_code == 409
        assert nova.action(vm["id"], {"shelveOffload": None}).status_code == 202
        assert nova.wait(vm["id"], "SHELVED_OFFLOADED")["OS-EXT-SRV-ATTR:host"] is None

        (service,) = nova.get("/os-services", version="2.53").json()["services"]
        nova.put(f"/os-services/{service['id']}", version="2.53", json={"status": "disabled"})
        try:
            assert nova.action(vm["id"], {"unshelve": None}).status_code == 202
            shown = nova.wait(vm["id"], "SHELVED_OFFLOADED")
            assert shown["OS-EXT-SRV-ATTR:host"] is None
            unshelves = [a for a in events(nova, vm["id"]) if a["action"] == "unshelve"]
            assert unshelves[0]["events"][0]["result"] == "Error"
            assert "No valid host" in (unshelves[0]["events"][0].get("details") or "")
        finally:
            nova.put(f"/os-services/{service['id']}", version="2.53", json={"status": "enabled"})
        assert nova.at("2.77").action(vm["id"], {"unshelve": {"availability_zone": "nova"}}).status_code == 202
        assert nova.wait(vm["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "fakehost"

        # deleting a shelved server deletes its shelved image too
        assert nova.action(vm["id"], {"shelve": None}).status_code == 202
        nova.wait(vm["id"], "SHELVED")
        (image,) = glance(srv, "/images", name=f"{vm['name']}-shelved").json()["images"]
        assert nova.delete(f"/servers/{vm['id']}").status_code == 204
        nova.wait_gone(vm["id"])
        wait_image_gone(srv, image["id"])
    finally:
        stop_cloud(srv)


def test_shelved_servers_are_offloaded_after_the_offload_time(
    tmp_path_factory: pytest.TempPathFactory, database: str
) -> None:
    srv = fake_cloud(tmp_path_factory, "later", database=database, STRATUS_COMPUTE__SHELVED_OFFLOAD_TIME="1")
    try:
        nova = Nova(srv, srv.admin_token(), "2.96")
        vm = nova.boot(unique("later"))
        assert nova.action(vm["id"], {"shelve": None}).status_code == 202
        # the scheduling loop looks every 5 s at most
        assert nova.wait(vm["id"], "SHELVED_OFFLOADED", timeout=30)["OS-EXT-SRV-ATTR:host"] is None
        # shelved first, then offloaded by the periodic check (its own action)
        assert [a["action"] for a in events(nova, vm["id"])][:2] == ["shelveOffload", "shelve"]
    finally:
        stop_cloud(srv)
