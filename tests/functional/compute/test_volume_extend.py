"""Growing and swapping an attached volume: ``openstack volume set --size`` on an
``in-use`` volume (Cinder 3.42) tells compute through Nova's external event
``volume-extended``, and the server's host grows the disk the running guest
sees (the fake driver's console says ``disk resized``); and the
``os-server-external-events`` API itself: Nova's answers per event, 207,
404, its microversions and policy; swapping an attached volume for another
(``PUT os-volume_attachments/{id}`` with a new ``volumeId``).  Compute's fake driver, the file volume
backend; SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, stop_cloud
from tests.functional.compute.conftest import Nova, fake_cloud, osc, osc_json, project_user
from tests.functional.compute.test_volume_attachments import (
    VOLUME_ENV,
    attach,
    console,
    error,
    wait_console,
)
from tests.functional.volume.conftest import Cinder, admin_project

EVENTS = "/os-server-external-events"
GIB = 1 << 30


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, "volextend", database=database, **VOLUME_ENV)
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def nova(cloud: Server) -> Nova:
    return Nova(cloud, cloud.admin_token(), "2.89")


@pytest.fixture(scope="module")
def cinder(cloud: Server) -> Cinder:
    return Cinder(cloud, cloud.admin_token(), admin_project(cloud))


def actions_of(nova: Nova, server_id: str) -> list[dict[str, Any]]:
    listed = nova.at("2.84").get(f"/servers/{server_id}/os-instance-actions").json()
    events = []
    for action in listed["instanceActions"]:
        shown = nova.at("2.84").get(
            f"/servers/{server_id}/os-instance-actions/{action['request_id']}"
        )
        events += shown.json()["instanceAction"].get("events", [])
    return events


def test_extend_in_use_is_seen_by_the_guest(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    vm = nova.boot()
    volume = cinder.create(size=1)
    attach(nova, vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    wait_console(nova, vm["id"], "disk added vdb")
    assert "disk resized" not in console(nova, vm["id"])

    osc(cloud, "--os-volume-api-version", "3.42", "volume", "set", "--size", "3", volume["id"])
    wait_console(nova, vm["id"], f"disk resized vdb {3 * GIB}")
    shown = cinder.wait(volume["id"], "in-use")
    assert shown["size"] == 3
    # The attachment is usable as before: it detaches, and the volume keeps its size.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = nova.delete(f"/servers/{vm['id']}/os-volume_attachments/{volume['id']}")
        if resp.status_code == 202:
            break
        time.sleep(0.1)  # still growing: the attachment is busy
    assert resp.status_code == 202, resp.text
    assert cinder.wait(volume["id"], "available")["size"] == 3
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204


def test_extend_before_3_42_is_refused_while_in_use(nova: Nova, cinder: Cinder) -> None:
    vm = nova.boot()
    volume = cinder.create(size=1)
    attach(nova, vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    refused = cinder.at("3.41").action(volume["id"], {"os-extend": {"new_size": 2}})
    assert refused.status_code == 400, refused.text
    assert list(refused.json()) == ["badRequest"]
    assert cinder.show(volume["id"])["size"] == 1
    assert "disk resized" not in console(nova, vm["id"])
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204
    nova.wait_gone(vm["id"])
    cinder.wait(volume["id"], "available")


def test_external_events_api(cloud: Server, nova: Nova) -> None:
    vm = nova.boot()
    missing = str(uuid.uuid4())
    both = {
        "events": [
            {"name": "network-changed", "server_uuid": vm["id"], "tag": "port-1"},
            {"name": "volume-extended", "server_uuid": missing, "tag": str(uuid.uuid4())},
        ]
    }
    resp = nova.post(EVENTS, json=both)
    assert resp.status_code == 207, resp.text
    assert resp.json()["events"] == [
        {"name": "network-changed", "server_uuid": vm["id"], "tag": "port-1",
         "status": "completed", "code": 200},
        {"name": "volume-extended", "server_uuid": missing, "tag": both["events"][1]["tag"],
         "status": "failed", "code": 404},
    ]  # fmt: skip
    ok = nova.post(
        EVENTS, json={"events": [{"name": "network-vif-plugged", "server_uuid": vm["id"]}]}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["events"][0]["code"] == 200 and "tag" not in ok.json()["events"][0]

    nowhere = {"events": [{"name": "network-changed", "server_uuid": missing}]}
    error(nova.post(EVENTS, json=nowhere), 404, "itemNotFound")
    for bad in (
        {"events": []},
        {"events": [{"name": "bogus", "server_uuid": vm["id"]}]},
        {"events": [{"name": "network-changed", "server_uuid": "nope"}]},
        {"events": [{"name": "network-changed", "server_uuid": vm["id"], "extra": 1}]},
        {"events": [{"name": "network-changed", "server_uuid": vm["id"], "status": "done"}]},
        {"event": []},
    ):
        error(nova.post(EVENTS, json=bad), 400, "badRequest")
    # volume-extended came with 2.51.
    early = {"events": [{"name": "volume-extended", "server_uuid": vm["id"], "tag": missing}]}
    error(nova.at("2.50").post(EVENTS, json=early), 400, "badRequest")
    # A project's member may not send events.
    stranger, _ = project_user(cloud)
    plain = {"events": [{"name": "network-changed", "server_uuid": vm["id"]}]}
    error(stranger.post(EVENTS, json=plain), 403, "forbidden")
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204


def test_swap_volume(cloud: Server, nova: Nova, cinder: Cinder) -> None:
    """PUT os-volume_attachments/{old} with another volumeId (Nova's swap):
    the guest keeps its disk, now on the new volume; the old one is free."""
    vm = nova.boot()
    old, new = cinder.create(size=1), cinder.create(size=2)
    attach(nova, vm["id"], old["id"], tag="data")
    cinder.wait(old["id"], "in-use")
    path = f"/servers/{vm['id']}/os-volume_attachments"

    # What Nova refuses: a smaller volume, one in use, a volume not attached,
    # a member's swap (an admin's call), a stopped server.
    bigger = cinder.create(size=3)
    busy = cinder.create(size=2)
    other = nova.boot()
    attach(nova, other["id"], busy["id"])
    cinder.wait(busy["id"], "in-use")
    swap_to = {"volumeAttachment": {"volumeId": busy["id"]}}
    assert "Invalid volume" in error(
        nova.put(f"{path}/{old['id']}", json=swap_to), 400, "badRequest"
    )
    tiny = cinder.create(size=1)
    assert cinder.action(old["id"], {"os-extend": {"new_size": 2}}).status_code == 202
    cinder.wait(old["id"], "in-use")
    wait_console(nova, vm["id"], f"disk resized vdb {2 * GIB}")
    deadline = time.monotonic() + 30
    while True:  # until the guest's disk has grown, the attachment is busy (400 "extending")
        smaller = nova.put(
            f"{path}/{old['id']}", json={"volumeAttachment": {"volumeId": tiny["id"]}}
        )
        if "extending" not in smaller.text or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "same size or larger" in error(smaller, 400, "badRequest")
    not_attached = nova.put(
        f"{path}/{bigger['id']}", json={"volumeAttachment": {"volumeId": new["id"]}}
    )
    error(not_attached, 404, "itemNotFound")
    member, _ = project_user(cloud)
    theirs = member.boot()
    refused = member.put(
        f"/servers/{theirs['id']}/os-volume_attachments/{old['id']}",
        json={"volumeAttachment": {"volumeId": new["id"]}},
    )
    error(refused, 403, "forbidden")
    assert cinder.show(new["id"])["status"] == "available"
    assert cinder.show(old["id"])["status"] == "in-use"

    resp = nova.put(f"{path}/{old['id']}", json={"volumeAttachment": {"volumeId": new["id"]}})
    assert resp.status_code == 202, resp.text
    assert cinder.wait(old["id"], "available")["attachments"] == []
    swapped = cinder.wait(new["id"], "in-use")
    assert [a["server_id"] for a in swapped["attachments"]] == [vm["id"]]
    wait_console(nova, vm["id"], f"disk swapped vdb {old['id']} {new['id']}")
    (row,) = nova.get(path).json()["volumeAttachments"]
    assert (row["volumeId"], row["device"], row["tag"]) == (new["id"], "/dev/vdb", "data")
    listed = osc_json(cloud, "server", "volume", "list", vm["id"])
    assert [v["Volume ID"] for v in listed] == [new["id"]]

    # The swapped-in volume is an ordinary attachment: it grows and detaches.
    osc(cloud, "--os-volume-api-version", "3.42", "volume", "set", "--size", "3", new["id"])
    wait_console(nova, vm["id"], f"disk resized vdb {3 * GIB}")
    assert nova.delete(f"{path}/{new['id']}").status_code == 202
    cinder.wait(new["id"], "available")
    wait_console(nova, vm["id"], "disk removed vdb")

    # A stopped server does not swap (Nova: ACTIVE or PAUSED only).
    attach(nova, vm["id"], old["id"])
    cinder.wait(old["id"], "in-use")
    assert nova.action(vm["id"], {"os-stop": None}).status_code == 202
    nova.wait(vm["id"], "SHUTOFF")
    stopped = nova.put(f"{path}/{old['id']}", json={"volumeAttachment": {"volumeId": new["id"]}})
    error(stopped, 409, "conflictingRequest")
    for sid in (vm["id"], other["id"]):
        assert nova.delete(f"/servers/{sid}").status_code == 204
        nova.wait_gone(sid)
    cinder.wait(old["id"], "available")
    assert cinder.show(new["id"])["status"] == "available"
