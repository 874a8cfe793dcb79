"""A server's volumes (``os-volume_attachments``, ``openstack server add
volume``): the API's semantics and errors in Nova's format, what Cinder
shows meanwhile, what the guest sees (the fake driver's console), server
delete, and a cloud killed mid-attach.  Compute's fake driver, the file
volume backend; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server, stop_cloud
from tests.functional.compute.conftest import (
    FAKE,
    Nova,
    fake_cloud,
    osc,
    osc_json,
    project_user,
    unique,
    user_in_project,
)
from tests.functional.volume.conftest import (
    Cinder,
    admin_project,
    qemu_write,
    same_content,
    volume_file,
    wait_for,
)

VOLUME_ENV = {
    "STRATUS_VOLUME__HOST": "volhost",
    "STRATUS_VOLUME__QUOTA_VOLUMES": "-1",
    "STRATUS_VOLUME__QUOTA_GIGABYTES": "-1",
    "STRATUS_COMPUTE__QUOTA_INSTANCES": "-1",
    "STRATUS_COMPUTE__QUOTA_CORES": "-1",
    "STRATUS_COMPUTE__QUOTA_RAM": "-1",
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, "volattach", database=database, **VOLUME_ENV)
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def nova(cloud: Server) -> Nova:
    return Nova(cloud, cloud.admin_token(), "2.89")


@pytest.fixture(scope="module")
def cinder(cloud: Server) -> Cinder:
    return Cinder(cloud, cloud.admin_token(), admin_project(cloud))


@pytest.fixture(scope="module")
def vm(nova: Nova) -> dict[str, Any]:
    return nova.boot()


def attachments(nova: Nova, server_id: str) -> list[dict[str, Any]]:
    resp = nova.get(f"/servers/{server_id}/os-volume_attachments")
    assert resp.status_code == 200, resp.text
    return resp.json()["volumeAttachments"]  # type: ignore[no-any-return]


def attach(nova: Nova, server_id: str, volume_id: str, **extra: Any) -> dict[str, Any]:
    resp = nova.post(
        f"/servers/{server_id}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": volume_id, **extra}},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["volumeAttachment"]  # type: ignore[no-any-return]


def console(nova: Nova, server_id: str) -> str:
    resp = nova.action(server_id, {"os-getConsoleOutput": {}})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["output"])


def wait_console(nova: Nova, server_id: str, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in console(nova, server_id):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never on the console of {server_id}")


def error(resp: Any, status: int, key: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == [key], body
    return str(body[key]["message"])


def test_attach_show_list_detach(nova: Nova, cinder: Cinder, vm: dict[str, Any]) -> None:
    volume = cinder.create(size=1)
    shown = attach(nova, vm["id"], volume["id"], tag="data", delete_on_termination=False)
    assert shown["volumeId"] == volume["id"] and shown["serverId"] == vm["id"]
    assert shown["device"] == "/dev/vdb" and shown["tag"] == "data"
    assert shown["attachment_id"] and shown["bdm_uuid"] and "id" not in shown

    used = cinder.wait(volume["id"], "in-use")
    assert [a["server_id"] for a in used["attachments"]] == [vm["id"]]
    assert used["attachments"][0]["device"] == "/dev/vdb"
    wait_console(nova, vm["id"], "disk added vdb")

    listed = attachments(nova, vm["id"])
    assert [a["volumeId"] for a in listed] == [volume["id"]]
    old = nova.at("2.1").get(f"/servers/{vm['id']}/os-volume_attachments/{volume['id']}")
    assert old.json()["volumeAttachment"] == {
        "id": volume["id"],
        "volumeId": volume["id"],
        "serverId": vm["id"],
        "device": "/dev/vdb",
    }
    # The server shows its volume (os-extended-volumes).
    server = nova.show(vm["id"])
    assert [v["id"] for v in server["os-extended-volumes:volumes_attached"]] == [volume["id"]]

    resp = nova.delete(f"/servers/{vm['id']}/os-volume_attachments/{volume['id']}")
    assert resp.status_code == 202, resp.text
    cinder.wait(volume["id"], "available")
    wait_console(nova, vm["id"], "disk removed vdb")
    assert attachments(nova, vm["id"]) == []
    assert cinder.show(volume["id"])["attachments"] == []


def test_second_volume_gets_the_next_device(nova: Nova, cinder: Cinder, vm: dict[str, Any]) -> None:
    a, b = cinder.create(size=1), cinder.create(size=1)
    assert attach(nova, vm["id"], a["id"])["device"] == "/dev/vdb"
    assert attach(nova, vm["id"], b["id"])["device"] == "/dev/vdc"
    cinder.wait(a["id"], "in-use")
    cinder.wait(b["id"], "in-use")
    for v in (a, b):
        assert (
            nova.delete(f"/servers/{vm['id']}/os-volume_attachments/{v['id']}").status_code == 202
        )
        cinder.wait(v["id"], "available")


def test_errors_in_novas_format(
    cloud: Server, nova: Nova, cinder: Cinder, vm: dict[str, Any]
) -> None:
    volume = cinder.create(size=1)
    attach(nova, vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    path = f"/servers/{vm['id']}/os-volume_attachments"

    # The same volume again, and to a second server: 400, as Nova.
    again = nova.post(path, json={"volumeAttachment": {"volumeId": volume["id"]}})
    assert "Invalid volume" in error(again, 400, "badRequest")
    other = nova.boot()
    second = nova.post(
        f"/servers/{other['id']}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": volume["id"]}},
    )
    assert "Invalid volume" in error(second, 400, "badRequest")
    assert attachments(nova, other["id"]) == []
    assert cinder.show(volume["id"])["status"] == "in-use"

    # Detaching what is not attached, a missing volume, a missing server: 404.
    spare = cinder.create(size=1)
    missing = nova.delete(f"/servers/{other['id']}/os-volume_attachments/{spare['id']}")
    error(missing, 404, "itemNotFound")
    nowhere = nova.post(
        path, json={"volumeAttachment": {"volumeId": "00000000-0000-0000-0000-000000000000"}}
    )
    assert "could not be found" in error(nowhere, 404, "itemNotFound")
    gone = nova.get("/servers/00000000-0000-0000-0000-000000000000/os-volume_attachments")
    error(gone, 404, "itemNotFound")

    # Bad bodies: 400, nothing stored.
    for body in (
        {"volumeAttachment": {"volumeId": "not-a-uuid"}},
        {"volumeAttachment": {"volumeId": spare["id"], "bogus": 1}},
        {"volumeAttachment": {}},
        {"volume": {"volumeId": spare["id"]}},
    ):
        error(nova.post(path, json=body), 400, "badRequest")
    old = nova.at("2.48").post(
        path, json={"volumeAttachment": {"volumeId": spare["id"], "tag": "t"}}
    )
    error(old, 400, "badRequest")
    # A swap for a volume that does not exist (swaps: test_volume_extend.py).
    nothing = {"volumeAttachment": {"volumeId": "00000000-0000-0000-0000-000000000000"}}
    error(nova.put(f"{path}/{volume['id']}", json=nothing), 404, "itemNotFound")
    assert cinder.show(spare["id"])["status"] == "available"

    # Another project neither sees the server nor may use the volume.
    stranger, project = project_user(cloud)
    error(stranger.get(path), 404, "itemNotFound")
    theirs = stranger.boot()
    foreign = stranger.post(
        f"/servers/{theirs['id']}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": spare["id"]}},
    )
    error(foreign, 404, "itemNotFound")
    assert cinder.show(spare["id"])["status"] == "available"
    # A reader of that project may look but not attach.
    reader = user_in_project(cloud, project["id"], "reader", "2.89")
    assert attachments(reader, theirs["id"]) == []
    refused = reader.post(
        f"/servers/{theirs['id']}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": spare["id"]}},
    )
    error(refused, 403, "forbidden")

    assert nova.delete(f"{path}/{volume['id']}").status_code == 202
    cinder.wait(volume["id"], "available")
    assert nova.delete(f"/servers/{other['id']}").status_code == 204


def test_stopped_server_gets_its_volume_at_start(nova: Nova, cinder: Cinder) -> None:
    server = nova.boot()
    assert nova.action(server["id"], {"os-stop": None}).status_code == 202
    nova.wait(server["id"], "SHUTOFF")
    volume = cinder.create(size=1)
    attach(nova, server["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    assert nova.action(server["id"], {"os-start": None}).status_code == 202
    nova.wait(server["id"], "ACTIVE")
    assert [a["volumeId"] for a in attachments(nova, server["id"])] == [volume["id"]]
    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    cinder.wait(volume["id"], "available")


def test_delete_detaches_and_deletes_on_termination(nova: Nova, cinder: Cinder) -> None:
    server = nova.boot()
    keep, drop = cinder.create(size=1), cinder.create(size=1)
    attach(nova, server["id"], keep["id"])
    attach(nova, server["id"], drop["id"], delete_on_termination=True)
    cinder.wait(keep["id"], "in-use")
    cinder.wait(drop["id"], "in-use")
    # delete_on_termination can change from 2.85.
    resp = nova.put(
        f"/servers/{server['id']}/os-volume_attachments/{keep['id']}",
        json={"volumeAttachment": {"volumeId": keep["id"], "delete_on_termination": False}},
    )
    assert resp.status_code == 202, resp.text
    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    cinder.wait(keep["id"], "available")
    cinder.wait_gone(f"/volumes/{drop['id']}")


def test_openstack_cli(cloud: Server, nova: Nova, cinder: Cinder, vm: dict[str, Any]) -> None:
    volume = cinder.create(size=1)
    osc(cloud, "server", "add", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    listed = osc_json(cloud, "server", "volume", "list", vm["id"])
    assert [(v["Volume ID"], v["Device"]) for v in listed] == [(volume["id"], "/dev/vdb")]
    osc(cloud, "server", "remove", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "available")


def test_killed_mid_attach_ends_clean(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    server = nova.boot()
    volume = cinder.create(size=1)
    attach(nova, server["id"], volume["id"])
    cloud.process.send_signal(signal.SIGKILL)
    cloud.process.wait()
    port = int(cloud.url.rsplit(":", 1)[1])
    srv = start_server(cloud.data_dir, cloud.database_url, port=port, **{**FAKE, **VOLUME_ENV})
    cloud.process = srv.process
    after = Cinder(srv, srv.admin_token(), cinder.project_id)
    shown = wait_for(lambda: after.show(volume["id"]), "in-use", 60, "the volume")
    assert [a["server_id"] for a in shown["attachments"]] == [server["id"]]
    again = Nova(srv, srv.admin_token(), "2.89")
    assert [a["volumeId"] for a in attachments(again, server["id"])] == [volume["id"]]
    assert (
        again.delete(f"/servers/{server['id']}/os-volume_attachments/{volume['id']}").status_code
        == 202
    )
    after.wait(volume["id"], "available")


# -- boot from volume -----------------------------------------------------------------------------


def bdm_server(nova: Nova, mapping: dict[str, Any], **extra: Any) -> Any:
    body = {
        "name": "bfv",
        "flavorRef": "1",
        "networks": "none",
        "block_device_mapping_v2": [{"boot_index": 0, "destination_type": "volume", **mapping}],
        **extra,
    }
    return nova.post("/servers", json={"server": body})


def test_boot_from_a_volume(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    image = nova.server_image()
    volume = cinder.create(size=1, imageRef=image)
    assert volume["bootable"] == "true"
    resp = bdm_server(nova, {"source_type": "volume", "uuid": volume["id"]})
    assert resp.status_code == 202, resp.text
    server = nova.wait(resp.json()["server"]["id"])
    assert server["image"] == ""
    assert [v["id"] for v in server["os-extended-volumes:volumes_attached"]] == [volume["id"]]
    (root,) = attachments(nova, server["id"])
    assert root["device"] == "/dev/vda" and root["delete_on_termination"] is False
    used = cinder.wait(volume["id"], "in-use")
    assert used["attachments"][0]["server_id"] == server["id"]

    # The root volume stays; another one comes and goes.
    refused = nova.delete(f"/servers/{server['id']}/os-volume_attachments/{volume['id']}")
    assert "root device" in error(refused, 400, "badRequest")
    # What its root disk being a volume does not allow yet: 409, nothing started.
    # (Cold and live migration are taken: with one host, there is nowhere to go.)
    nowhere = nova.action(server["id"], {"migrate": None})
    assert "own host" in error(nowhere, 400, "badRequest")
    for body in (
        {"shelve": None},
        {"rescue": None},
        {"createBackup": {"name": "b", "backup_type": "daily", "rotation": 1}},
    ):
        assert "boots from a volume" in error(
            nova.action(server["id"], body), 409, "conflictingRequest"
        )
    assert nova.show(server["id"])["status"] == "ACTIVE"
    extra = cinder.create(size=1)
    assert attach(nova, server["id"], extra["id"])["device"] == "/dev/vdb"
    cinder.wait(extra["id"], "in-use")

    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    cinder.wait(volume["id"], "available")
    cinder.wait(extra["id"], "available")


def test_boot_from_an_image_made_volume(nova: Nova, cinder: Cinder) -> None:
    image = nova.server_image()
    resp = bdm_server(
        nova,
        {"source_type": "image", "uuid": image, "volume_size": 1, "delete_on_termination": True},
    )
    assert resp.status_code == 202, resp.text
    server = nova.wait(resp.json()["server"]["id"])
    (root,) = attachments(nova, server["id"])
    assert root["delete_on_termination"] is True
    made = cinder.wait(root["volumeId"], "in-use")
    assert made["bootable"] == "true" and made["size"] == 1
    assert made["volume_image_metadata"]["image_id"] == image
    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    cinder.wait_gone(f"/volumes/{root['volumeId']}")


def test_boot_from_volume_refusals(
    cloud: Server, nova: Nova, cinder: Cinder, vm: dict[str, Any]
) -> None:
    used = cinder.create(size=1)
    attach(nova, vm["id"], used["id"])
    cinder.wait(used["id"], "in-use")
    before = {s["id"] for s in nova.get("/servers").json()["servers"]}

    in_use = bdm_server(nova, {"source_type": "volume", "uuid": used["id"]})
    assert "Invalid volume" in error(in_use, 400, "badRequest")
    missing = bdm_server(
        nova, {"source_type": "volume", "uuid": "00000000-0000-0000-0000-000000000000"}
    )
    error(missing, 404, "itemNotFound")
    no_size = bdm_server(nova, {"source_type": "image", "uuid": nova.server_image()})
    assert "volume_size" in error(no_size, 400, "badRequest")
    unknown = bdm_server(nova, {"source_type": "floppy", "uuid": used["id"]})
    error(unknown, 400, "badRequest")
    stranger, _project = project_user(cloud)
    theirs = cinder.create(size=1)
    foreign = bdm_server(stranger, {"source_type": "volume", "uuid": theirs["id"]})
    error(foreign, 404, "itemNotFound")
    # Nothing is left of the refused servers, and the volumes are as they were.
    assert {s["id"] for s in nova.get("/servers").json()["servers"]} == before
    assert cinder.show(used["id"])["status"] == "in-use"
    assert cinder.show(theirs["id"])["status"] == "available"
    assert nova.delete(f"/servers/{vm['id']}/os-volume_attachments/{used['id']}").status_code == 202
    cinder.wait(used["id"], "available")


def test_openstack_server_create_volume(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    volume = cinder.create(size=1, imageRef=nova.server_image())
    osc(cloud, "server", "create", "--flavor", "1", "--volume", volume["id"], "--wait", "bfv-cli")
    cinder.wait(volume["id"], "in-use")
    osc(cloud, "server", "create", "--flavor", "1", "--image", "tiny", "--boot-from-volume", "1",
        "--wait", "bfv-cli2")  # fmt: skip
    listed = osc_json(cloud, "server", "volume", "list", "bfv-cli2")
    assert [v["Device"] for v in listed] == ["/dev/vda"]
    osc(cloud, "server", "delete", "--wait", "bfv-cli", "bfv-cli2")
    cinder.wait(volume["id"], "available")
    made = cinder.show(listed[0]["Volume ID"])
    assert made["status"] == "available"  # --boot-from-volume keeps the volume


def test_snapshot_of_a_volume_backed_server(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    volume = cinder.create(size=1, imageRef=nova.server_image())
    resp = bdm_server(nova, {"source_type": "volume", "uuid": volume["id"]})
    server = nova.wait(resp.json()["server"]["id"])
    cinder.wait(volume["id"], "in-use")
    made = nova.at("2.45").action(server["id"], {"createImage": {"name": "bfv-snap"}})
    assert made.status_code == 202, made.text
    image_id = made.json()["image_id"]
    token = cloud.admin_token()
    image = httpx.get(
        f"{cloud.url}/image/v2/images/{image_id}", headers={"X-Auth-Token": token}
    ).json()
    assert image["status"] == "active" and image["size"] == 0
    assert image["bdm_v2"] == "True" and image["root_device_name"] == "/dev/vda"
    (mapping,) = json.loads(image["block_device_mapping"])
    assert mapping["source_type"] == "snapshot" and mapping["boot_index"] == 0
    snap = wait_for(
        lambda: cinder.get(f"/snapshots/{mapping['snapshot_id']}").json()["snapshot"],
        "available",
        60,
        "the volume's snapshot",
    )
    assert snap["volume_id"] == volume["id"]
    assert cinder.show(volume["id"])["status"] == "in-use"
    # A boot from that snapshot gets a volume of its own, with the same size.
    again = bdm_server(
        nova, {"source_type": "snapshot", "uuid": snap["id"], "delete_on_termination": True}
    )
    assert again.status_code == 202, again.text
    copy = nova.wait(again.json()["server"]["id"])
    (root,) = attachments(nova, copy["id"])
    assert root["volumeId"] != volume["id"]
    assert cinder.wait(root["volumeId"], "in-use")["snapshot_id"] == snap["id"]
    for sid in (server["id"], copy["id"]):
        assert nova.delete(f"/servers/{sid}").status_code == 204
        nova.wait_gone(sid)
    cinder.wait_gone(f"/volumes/{root['volumeId']}")


def test_boot_the_image_of_a_volume_backed_server(
    cloud: Server, nova: Nova, cinder: Cinder
) -> None:
    """``server image create`` of a server booted from a volume, with a data
    volume attached, then ``server create --image`` of that image: the new
    server boots from new volumes made from the image's snapshots, holding
    what the first server's volumes held."""
    root = cinder.create(size=1, imageRef=nova.server_image())
    resp = bdm_server(nova, {"source_type": "volume", "uuid": root["id"]})
    first = nova.wait(resp.json()["server"]["id"])
    data = cinder.create(size=2)
    attach(nova, first["id"], data["id"])
    cinder.wait(data["id"], "in-use")
    qemu_write(volume_file(cloud, data["id"]), 0x5A, 0, 65536)
    name = unique("bfv-image")
    osc(cloud, "server", "image", "create", "--name", name, "--wait", first["id"])

    osc(cloud, "server", "create", "--flavor", "1", "--image", name, "--wait", name)
    second = osc_json(cloud, "server", "show", name)
    assert second["status"] == "ACTIVE"
    listed = {
        v["Device"]: v["Volume ID"] for v in osc_json(cloud, "server", "volume", "list", name)
    }
    assert sorted(listed) == ["/dev/vda", "/dev/vdb"]
    assert not {root["id"], data["id"]} & set(listed.values())
    new_root, new_data = cinder.show(listed["/dev/vda"]), cinder.show(listed["/dev/vdb"])
    assert new_root["status"] == new_data["status"] == "in-use"
    assert new_root["bootable"] == "true" and new_data["size"] == 2
    assert new_root["snapshot_id"] and new_data["snapshot_id"]
    assert same_content(volume_file(cloud, data["id"]), volume_file(cloud, new_data["id"]))
    assert same_content(volume_file(cloud, root["id"]), volume_file(cloud, new_root["id"]))

    # A broken mapping in an image is the user's 400, never a 500.
    token = cloud.admin_token()
    bad = httpx.post(
        f"{cloud.url}/image/v2/images",
        headers={"X-Auth-Token": token},
        json={"name": unique("bad-bdm"), "disk_format": "raw", "container_format": "bare",
              "bdm_v2": "True", "block_device_mapping": "[{\"destination_type\": \"volume\"}]"},
    ).json()  # fmt: skip
    httpx.put(
        f"{cloud.url}/image/v2/images/{bad['id']}/file",
        headers={"X-Auth-Token": token, "Content-Type": "application/octet-stream"},
        content=b"",
    )
    refused = nova.post(
        "/servers",
        json={"server": {"name": "x", "flavorRef": "1", "imageRef": bad["id"], "networks": "none"}},
    )
    assert "block device mapping" in error(refused, 400, "badRequest")

    for server_id in (first["id"], second["id"]):
        assert nova.delete(f"/servers/{server_id}").status_code == 204
        nova.wait_gone(server_id)
    cinder.wait(new_root["id"], "available")  # the image said: not deleted on termination


def test_a_server_never_placed_gives_its_volume_back(nova: Nova, cinder: Cinder) -> None:
    flavor = nova.post(
        "/flavors",
        json={"flavor": {"name": unique("huge"), "ram": 10_000_000, "vcpus": 1, "disk": 1}},
    )
    assert flavor.status_code == 200, flavor.text
    volume = cinder.create(size=1, imageRef=nova.server_image())
    resp = bdm_server(
        nova,
        {"source_type": "volume", "uuid": volume["id"]},
        flavorRef=flavor.json()["flavor"]["id"],
    )
    assert resp.status_code == 202, resp.text
    server = nova.wait(resp.json()["server"]["id"], "ERROR")
    assert "No valid host" in server["fault"]["message"]
    assert cinder.show(volume["id"])["status"] == "reserved"
    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    assert cinder.wait(volume["id"], "available")["attachments"] == []


def test_killed_mid_detach_ends_clean(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    server = nova.boot()
    volume = cinder.create(size=1)
    attach(nova, server["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    resp = nova.delete(f"/servers/{server['id']}/os-volume_attachments/{volume['id']}")
    assert resp.status_code == 202
    cloud.process.send_signal(signal.SIGKILL)
    cloud.process.wait()
    port = int(cloud.url.rsplit(":", 1)[1])
    srv = start_server(cloud.data_dir, cloud.database_url, port=port, **{**FAKE, **VOLUME_ENV})
    cloud.process = srv.process
    after = Cinder(srv, srv.admin_token(), cinder.project_id)
    shown = wait_for(lambda: after.show(volume["id"]), "available", 60, "the volume")
    assert shown["attachments"] == []
    again = Nova(srv, srv.admin_token(), "2.89")
    assert attachments(again, server["id"]) == []
