"""Raw HTTP: version discovery and microversions, the attachment flows
(the attachments API and the legacy actions) with their status machine, a
connector of another host served over an NBD export (TLS-PSK), and bad
input answered in Cinder's error format, never a 500."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import tiny_image
from tests.functional.volume.conftest import Cinder, project_user, unique, volume_file, wait_for

CONNECTOR = {"host": "volhost", "initiator": "iqn.test", "mountpoint": "/dev/vdb"}


def nbd_io(data: dict[str, object], keys: Path, command: str) -> str:
    """qemu-io through an NBD export, with the key its connection carries."""
    keys.mkdir(mode=0o700, exist_ok=True)
    (keys / "keys.psk").write_text(f"{data['psk_identity']}:{data['psk_key']}\n")
    opts = (
        f"driver=raw,file.driver=nbd,file.server.type=inet,file.server.host={data['host']},"
        f"file.server.port={data['port']},file.export={data['export']},file.tls-creds=tls0"
    )
    tls = f"tls-creds-psk,id=tls0,endpoint=client,dir={keys},username={data['psk_identity']}"
    cmd = ["qemu-io", "--object", tls, "--image-opts", opts, "-c", command]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


@pytest.mark.skipif(not shutil.which("qemu-storage-daemon"), reason="needs qemu-storage-daemon")
def test_a_connector_of_another_host_gets_an_nbd_export(
    cloud: Server, cinder: Cinder, tmp_path: Path
) -> None:
    vtype = cinder.post("/types", json={"volume_type": {
        "name": unique("multi"), "extra_specs": {"multiattach": "<is> True"}}})  # fmt: skip
    volume = cinder.create(volume_type=vtype.json()["volume_type"]["id"])
    server = unique("far")

    def remote(instance: str, host: str) -> dict[str, Any]:
        made = cinder.post("/attachments", json={"attachment": {
            "volume_uuid": volume["id"], "instance_uuid": instance}})  # fmt: skip
        att = made.json()["attachment"]
        far = {**CONNECTOR, "host": host}
        resp = cinder.put(f"/attachments/{att['id']}", json={"attachment": {"connector": far}})
        assert resp.status_code == 200, resp.text
        info = resp.json()["attachment"]["connection_info"]
        assert info["driver_volume_type"] == "nbd", info
        return {"id": att["id"], "connector": far, **info["data"]}

    one = remote(server, "elsewhere")
    assert one["host"] == "127.0.0.1" and one["export"] == one["id"]
    assert "path" not in one and len(str(one["psk_key"])) == 64
    folder = cloud.data_dir / "volumes" / "volhost" / "exports" / volume["id"]
    assert (folder / "keys.psk").stat().st_mode & 0o077 == 0
    # The consumer writes through the export, over TLS with the key it was given.
    out = nbd_io(one, tmp_path / "k1", "write -P 0x6b 1M 64k")
    assert "wrote 65536/65536 bytes" in out, out
    assert cinder.post(f"/attachments/{one['id']}/action", json={"os-complete": None}).status_code == 204
    assert cinder.show(volume["id"])["status"] == "in-use"
    # The same connector again (a retried attach): the same export.
    again = cinder.put(f"/attachments/{one['id']}", json={"attachment": {"connector": one["connector"]}})
    assert again.json()["attachment"]["connection_info"]["data"]["port"] == one["port"]
    # A second server on a second remote host (multiattach), and the first
    # server's move to a third (its source's and destination's attachments
    # side by side): one daemon serves all three, each with its own export
    # and key, while the first goes on.
    two = remote(unique("far"), "elsewhere2")
    moved = remote(server, "elsewhere3")
    assert one["port"] == two["port"] == moved["port"]
    assert len({one["psk_key"], two["psk_key"], moved["psk_key"]}) == 3
    # A key file that lost lines (a crash while it was rewritten): the
    # agent's pass writes it again from the attachments.
    (folder / "keys.psk").write_text(f"{one['psk_identity']}:{one['psk_key']}\n")
    deadline = time.monotonic() + 10
    while "read 65536/65536" not in nbd_io(two, tmp_path / "k2", "read -P 0x6b 1M 64k"):
        assert time.monotonic() < deadline, "the key file was not mended"
        time.sleep(0.1)
    assert "wrote 65536/65536" in nbd_io(moved, tmp_path / "k3", "write -P 0x6c 2M 64k")
    # Its daemon killed (a reboot, say): the agent serves it again, with the
    # port and keys the consumers hold.
    pid = int((folder / "pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            served = int((folder / "pid").read_text()) != pid
        except (OSError, ValueError):
            served = False  # being started again
        if served and "read 65536/65536" in nbd_io(one, tmp_path / "k1", "read -P 0x6b 1M 64k"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the export was not served again")
    assert "read 65536/65536" in nbd_io(two, tmp_path / "k2", "read -P 0x6c 2M 64k")
    # One attachment deleted (the move confirmed): its key alone is cut.
    assert cinder.delete(f"/attachments/{one['id']}").status_code == 200
    deadline = time.monotonic() + 10
    while "read 4096/4096" in nbd_io(one, tmp_path / "k1", "read 0 4k"):
        assert time.monotonic() < deadline, "the deleted attachment's key still works"
        time.sleep(0.1)
    # (the key itself: it opens none of the other exports either)
    assert "read 4096/4096" not in nbd_io({**one, "export": moved["export"]}, tmp_path / "k1", "read 0 4k")
    assert "read 65536/65536" in nbd_io(moved, tmp_path / "k3", "read -P 0x6b 1M 64k")
    # The others detached: the export ends and its keys go; the data is in the volume's file.
    for att in (two, moved):
        assert cinder.delete(f"/attachments/{att['id']}").status_code == 200
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not folder.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(one["port"]))) != 0
    path = volume_file(cloud, volume["id"])
    check = ["qemu-io", "-f", path.suffix[1:], "-c", "read -P 0x6b 1M 64k", str(path)]
    assert "read 65536/65536" in subprocess.run(check, capture_output=True, text=True).stdout

    # The legacy actions: os-initialize_connection gives a remote connector
    # an export too (the same one when asked again), os-attach keeps it,
    # os-terminate_connection ends it.
    vid = cinder.create()["id"]
    far = {**CONNECTOR, "host": "elsewhere"}
    assert cinder.action(vid, {"os-reserve": None}).status_code == 202
    conn = cinder.action(vid, {"os-initialize_connection": {"connector": far}})
    assert conn.status_code == 200, conn.text
    legacy = conn.json()["connection_info"]
    assert legacy["driver_volume_type"] == "nbd", legacy
    again = cinder.action(vid, {"os-initialize_connection": {"connector": far}})
    assert again.json()["connection_info"]["data"]["psk_key"] == legacy["data"]["psk_key"]
    assert "wrote 4096/4096" in nbd_io(legacy["data"], tmp_path / "k4", "write -P 0x6d 0 4k")
    attach = {"os-attach": {"instance_uuid": unique("old"), "mountpoint": "/dev/vdb"}}
    assert cinder.action(vid, attach).status_code == 202
    shown = cinder.show(vid)
    assert shown["status"] == "in-use" and len(shown["attachments"]) == 1
    assert cinder.action(vid, {"os-begin_detaching": None}).status_code == 202
    assert cinder.action(vid, {"os-terminate_connection": {"connector": far}}).status_code == 202
    deadline = time.monotonic() + 10
    while "read 4096/4096" in nbd_io(legacy["data"], tmp_path / "k4", "read 0 4k"):
        assert time.monotonic() < deadline, "the terminated connection's key still works"
        time.sleep(0.1)
    assert cinder.action(vid, {"os-detach": {}}).status_code == 202
    assert cinder.show(vid)["status"] == "available"
    deadline = time.monotonic() + 10
    while (folder.parent / vid).exists():
        assert time.monotonic() < deadline, "the legacy connection's export is still there"
        time.sleep(0.05)
    for gone in (volume["id"], vid):  # the project's quota is shared by the module's tests
        assert cinder.delete(f"/volumes/{gone}").status_code == 202


def test_discovery_and_microversions(cloud: Server, cinder: Cinder) -> None:
    root = httpx.get(f"{cloud.url}/volume/")
    assert root.status_code == 300
    version = root.json()["versions"][0]
    assert version["id"] == "v3.0" and version["min_version"] == "3.0"
    assert tuple(int(x) for x in version["version"].split(".")) >= (3, 70)
    v3 = httpx.get(f"{cloud.url}/volume/v3/")
    assert v3.status_code == 200 and v3.json()["versions"][0]["status"] == "CURRENT"
    resp = cinder.at("3.50").get("/volumes")
    assert resp.headers["OpenStack-API-Version"] == "volume 3.50"
    assert cinder.at(None).get("/volumes").headers["OpenStack-API-Version"] == "volume 3.0"
    latest = cinder.at("latest").get("/volumes")
    assert latest.headers["OpenStack-API-Version"] == f"volume {version['version']}"
    too_new = cinder.at("3.999").get("/volumes")
    assert too_new.status_code == 406 and "notAcceptable" in too_new.json()
    catalog = httpx.get(
        f"{cloud.auth_url}/auth/catalog", headers={"X-Auth-Token": cloud.admin_token()}
    ).json()["catalog"]
    types = {e["type"]: e for e in catalog}
    assert {"block-storage", "volumev3"} <= set(types)
    assert types["block-storage"]["endpoints"][0]["url"].endswith(f"/volume/v3/{cinder.project_id}")


def test_bad_input_in_cinders_format(cinder: Cinder) -> None:
    for size in (0, -1, "#$%", 1.5, None):
        resp = cinder.post("/volumes", json={"volume": {"size": size}})
        assert resp.status_code == 400, (size, resp.text)
        assert resp.json()["badRequest"]["code"] == 400
    assert cinder.post("/volumes", json={"volume": {"size": 1, "bogus": 1}}).status_code == 400
    assert (
        cinder.post("/volumes", json={"volume": {"size": 1, "volume_type": "nope"}}).status_code
        == 404
    )
    assert cinder.post("/volumes", json={"volume": {"snapshot_id": "nope"}}).status_code == 404
    assert cinder.post("/volumes", json={"volume": {"source_volid": "nope"}}).status_code == 404
    zone = cinder.post("/volumes", json={"volume": {"size": 1, "availability_zone": "elsewhere"}})
    assert zone.status_code == 400
    missing = cinder.get("/volumes/nope")
    assert missing.status_code == 404 and missing.json()["itemNotFound"]["code"] == 404
    snap = cinder.post("/snapshots", json={"snapshot": {"volume_id": "nope"}})
    assert snap.status_code == 404 and "itemNotFound" in snap.json()
    assert cinder.post("/snapshots", json={"snapshot": {}}).status_code == 400
    assert cinder.post("/volumes/x/action", json={"os-bogus": {}}).status_code == 400
    assert cinder.request("POST", "/volumes", content=b"{nope").status_code == 400


def test_size_below_image_extend_smaller_and_delete_attached(cloud: Server, cinder: Cinder) -> None:
    token = cinder.token
    tiny = {"id": tiny_image(cloud)}
    resp = cinder.post(
        "/volumes", json={"volume": {"size": 1, "imageRef": tiny["id"], "name": unique("small")}}
    )
    assert resp.status_code == 202  # tiny fits in 1 GiB
    httpx.patch(
        f"{cloud.url}/image/v2/images/{tiny['id']}",
        json=[{"op": "replace", "path": "/min_disk", "value": 2}],
        headers={
            "X-Auth-Token": token,
            "Content-Type": "application/openstack-images-v2.1-json-patch",
        },
    ).raise_for_status()
    try:
        small = cinder.post("/volumes", json={"volume": {"size": 1, "imageRef": tiny["id"]}})
        assert small.status_code == 400 and "minDisk" in small.json()["badRequest"]["message"]
    finally:
        httpx.patch(
            f"{cloud.url}/image/v2/images/{tiny['id']}",
            json=[{"op": "replace", "path": "/min_disk", "value": 0}],
            headers={
                "X-Auth-Token": token,
                "Content-Type": "application/openstack-images-v2.1-json-patch",
            },
        )
    volume = cinder.create(size=2)
    smaller = cinder.action(volume["id"], {"os-extend": {"new_size": 1}})
    assert smaller.status_code == 400 and "badRequest" in smaller.json()
    att = cinder.post("/attachments", json={"attachment": {"volume_uuid": volume["id"],
                                                           "instance_uuid": unique("i"), "connector": CONNECTOR}})  # fmt: skip
    assert att.status_code == 200, att.text
    cinder.post(f"/attachments/{att.json()['attachment']['id']}/action", json={"os-complete": None})
    assert cinder.show(volume["id"])["status"] == "in-use"
    attached = cinder.delete(f"/volumes/{volume['id']}")
    assert attached.status_code == 400 and "badRequest" in attached.json()
    cinder.delete(f"/attachments/{att.json()['attachment']['id']}")
    assert cinder.show(volume["id"])["status"] == "available"


def test_attachments_api_flow(cinder: Cinder) -> None:
    volume = cinder.create()
    instance = unique("server")
    reserved = cinder.post(
        "/attachments",
        json={"attachment": {"volume_uuid": volume["id"], "instance_uuid": instance}},
    )
    assert reserved.status_code == 200, reserved.text
    att = reserved.json()["attachment"]
    assert att["status"] == "reserved" and cinder.show(volume["id"])["status"] == "reserved"
    second = cinder.post(
        "/attachments",
        json={"attachment": {"volume_uuid": volume["id"], "instance_uuid": unique("other")}},
    )
    assert second.status_code == 400, "a volume goes to one server unless it is multiattach"
    updated = cinder.put(f"/attachments/{att['id']}", json={"attachment": {"connector": CONNECTOR}})
    assert updated.status_code == 200, updated.text
    info = updated.json()["attachment"]["connection_info"]
    assert info["driver_volume_type"] == "file"
    assert info["data"]["path"].endswith(".qcow2") and info["data"]["format"] == "qcow2"
    assert cinder.show(volume["id"])["status"] == "attaching"
    done = cinder.post(f"/attachments/{att['id']}/action", json={"os-complete": None})
    assert done.status_code == 204
    shown = cinder.show(volume["id"])
    assert shown["status"] == "in-use"
    assert shown["attachments"][0]["server_id"] == instance
    assert shown["attachments"][0]["attachment_id"] == att["id"]
    listed = cinder.get("/attachments", params={"volume_id": volume["id"]}).json()["attachments"]
    assert [a["id"] for a in listed] == [att["id"]]
    assert cinder.at("3.26").get("/attachments").status_code == 404
    assert cinder.delete(f"/attachments/{att['id']}").status_code == 200
    assert cinder.show(volume["id"])["status"] == "available"


def test_legacy_attach_flow_and_multiattach(cinder: Cinder) -> None:
    volume = cinder.create()
    vid = volume["id"]
    assert cinder.action(vid, {"os-reserve": None}).status_code == 202
    assert cinder.show(vid)["status"] == "attaching"
    conn = cinder.action(vid, {"os-initialize_connection": {"connector": CONNECTOR}})
    assert (
        conn.status_code == 200 and conn.json()["connection_info"]["driver_volume_type"] == "file"
    )
    assert (
        cinder.action(
            vid, {"os-attach": {"instance_uuid": "i-1", "mountpoint": "/dev/vdb"}}
        ).status_code
        == 202
    )
    assert cinder.show(vid)["status"] == "in-use"
    assert cinder.action(vid, {"os-reserve": None}).status_code == 400, "in-use for a second server"
    assert cinder.action(vid, {"os-begin_detaching": None}).status_code == 202
    assert cinder.show(vid)["status"] == "detaching"
    assert cinder.action(vid, {"os-roll_detaching": None}).status_code == 202
    assert cinder.show(vid)["status"] == "in-use"
    assert cinder.action(vid, {"os-begin_detaching": None}).status_code == 202
    assert (
        cinder.action(vid, {"os-terminate_connection": {"connector": CONNECTOR}}).status_code == 202
    )
    assert cinder.action(vid, {"os-detach": {}}).status_code == 202
    assert cinder.show(vid)["status"] == "available"
    assert cinder.action(vid, {"os-unreserve": None}).status_code == 202

    vtype = cinder.post("/types", json={"volume_type": {"name": unique("multi"),
                                                         "extra_specs": {"multiattach": "<is> True"}}})  # fmt: skip
    shared = cinder.create(volume_type=vtype.json()["volume_type"]["id"])
    assert shared["multiattach"] is True
    for server in ("a", "b"):
        resp = cinder.post("/attachments", json={"attachment": {"volume_uuid": shared["id"],
                                                                "instance_uuid": server, "connector": CONNECTOR}})  # fmt: skip
        assert resp.status_code == 200, resp.text
        cinder.post(
            f"/attachments/{resp.json()['attachment']['id']}/action", json={"os-complete": None}
        )
    assert len(cinder.show(shared["id"])["attachments"]) == 2
    readonly = cinder.create()
    assert (
        cinder.action(readonly["id"], {"os-update_readonly_flag": {"readonly": True}}).status_code
        == 202
    )
    ro = cinder.post(
        "/attachments", json={"attachment": {"volume_uuid": readonly["id"], "connector": CONNECTOR}}
    )
    assert ro.json()["attachment"]["connection_info"]["data"]["access_mode"] == "ro"


def test_other_projects_and_readers(cloud: Server, cinder: Cinder) -> None:
    owner, _, _ = project_user(cloud)
    stranger, _, _ = project_user(cloud)
    reader, _, _ = project_user(cloud, "reader")
    volume = owner.create()
    vid = volume["id"]
    assert stranger.get(f"/volumes/{vid}").status_code == 404
    assert vid not in {v["id"] for v in stranger.get("/volumes").json()["volumes"]}
    assert stranger.post("/snapshots", json={"snapshot": {"volume_id": vid}}).status_code == 404
    grab = stranger.post(
        "/attachments", json={"attachment": {"volume_uuid": vid, "connector": CONNECTOR}}
    )
    assert grab.status_code == 404
    assert stranger.action(vid, {"os-reserve": None}).status_code == 404
    assert stranger.delete(f"/volumes/{vid}").status_code == 404
    denied = reader.post("/volumes", json={"volume": {"size": 1}})
    assert denied.status_code == 403 and "forbidden" in denied.json()
    wrong_url = Cinder(cloud, owner.token, stranger.project_id)
    assert wrong_url.get("/volumes").status_code == 400
    assert owner.action(vid, {"os-reset_status": {"status": "error"}}).status_code == 403
    assert cinder.get(f"/volumes/{vid}").status_code == 200, "the admin sees every project's"


def test_quota_over_limit(cloud: Server, cinder: Cinder) -> None:
    user, _, project = project_user(cloud)
    set_quota = cinder.put(
        f"/os-quota-sets/{project['id']}", json={"quota_set": {"volumes": 1, "gigabytes": 3}}
    )
    assert set_quota.status_code == 200 and set_quota.json()["quota_set"]["volumes"] == 1
    first = user.create()
    second = user.post("/volumes", json={"volume": {"size": 1}})
    assert second.status_code == 413 and second.json()["overLimit"]["code"] == 413
    too_big = user.action(first["id"], {"os-extend": {"new_size": 4}})
    assert too_big.status_code == 413
    usage = user.get(f"/os-quota-sets/{project['id']}", params={"usage": "true"}).json()[
        "quota_set"
    ]
    assert usage["volumes"] == {"limit": 1, "in_use": 1, "reserved": 0, "allocated": 0}
    limits = user.get("/limits").json()["limits"]["absolute"]
    assert limits["maxTotalVolumes"] == 1 and limits["totalVolumesUsed"] == 1
    assert (
        user.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {"volumes": 5}}).status_code
        == 403
    )


def test_status_actions_and_listing(cinder: Cinder) -> None:
    tag = unique("list")
    made = [cinder.create(metadata={"tag": tag}) for _ in range(3)]
    listed = cinder.get(
        "/volumes/detail", params={"metadata": f'{{"tag": "{tag}"}}', "sort": "id:asc"}
    )
    ids = [v["id"] for v in listed.json()["volumes"]]
    assert ids == sorted(v["id"] for v in made)
    page = cinder.get(
        "/volumes", params={"metadata": f'{{"tag": "{tag}"}}', "sort": "id:asc", "limit": 2}
    )
    assert len(page.json()["volumes"]) == 2 and page.json()["volumes_links"]
    rest = cinder.get(
        "/volumes",
        params={"metadata": f'{{"tag": "{tag}"}}', "sort": "id:asc", "marker": ids[1]},
    )
    assert [v["id"] for v in rest.json()["volumes"]] == ids[2:]
    assert cinder.get("/volumes", params={"status": "nonsense"}).json()["volumes"] == []
    assert cinder.get("/volumes", params={"sort": "bogus:asc"}).status_code == 400
    vid = made[0]["id"]
    assert cinder.action(vid, {"os-reset_status": {"status": "error"}}).status_code == 202
    assert cinder.show(vid)["status"] == "error"
    assert cinder.action(vid, {"os-force_delete": {}}).status_code == 202
    cinder.wait_gone(f"/volumes/{vid}")
    image_meta = cinder.action(made[1]["id"], {"os-set_image_metadata": {"metadata": {"a": "b"}}})
    assert image_meta.json()["metadata"] == {"a": "b"}
    assert cinder.show(made[1]["id"])["volume_image_metadata"] == {"a": "b"}
    snap = cinder.snapshot(made[2]["id"])
    reverted = cinder.action(made[2]["id"], {"revert": {"snapshot_id": snap["id"]}})
    assert reverted.status_code == 202, reverted.text
    cinder.wait(made[2]["id"])
    assert cinder.delete(f"/volumes/{made[2]['id']}").status_code == 400, "it has a snapshot"
    assert cinder.delete(f"/volumes/{made[2]['id']}", params={"cascade": "true"}).status_code == 202
    cinder.wait_gone(f"/volumes/{made[2]['id']}")


def test_a_type_that_asks_for_raw_files(cloud: Server, cinder: Cinder) -> None:
    """The extra spec ``stratus:file_format`` chooses the image format of
    a new volume (the database service's volumes are raw files); the
    connection names it, and the volume still grows."""
    vtype = cinder.post("/types", json={"volume_type": {
        "name": unique("raw"), "extra_specs": {"stratus:file_format": "raw"}}})  # fmt: skip
    assert vtype.status_code == 200, vtype.text
    raw = cinder.create(volume_type=vtype.json()["volume_type"]["id"])
    assert volume_file(cloud, raw["id"]).suffix == ".raw"
    assert volume_file(cloud, cinder.create()["id"]).suffix == ".qcow2"
    resp = cinder.post("/attachments", json={"attachment": {
        "volume_uuid": raw["id"], "instance_uuid": "s1", "connector": CONNECTOR}})  # fmt: skip
    assert resp.json()["attachment"]["connection_info"]["data"]["format"] == "raw"
    cinder.delete(f"/attachments/{resp.json()['attachment']['id']}")
    assert cinder.action(raw["id"], {"os-extend": {"new_size": 2}}).status_code == 202
    cinder.wait(raw["id"], "available")
    assert volume_file(cloud, raw["id"]).stat().st_size == 2 * 2**30
    # Snapshots of a qcow2 backend are internal qcow2 ones: a raw volume's
    # ends in error, and the volume is unharmed.
    snap = cinder.post("/snapshots", json={"snapshot": {"volume_id": raw["id"]}})
    assert snap.status_code == 202, snap.text
    sid = snap.json()["snapshot"]["id"]
    wait_for(lambda: cinder.get(f"/snapshots/{sid}").json()["snapshot"], "error", 60, sid)
    assert cinder.show(raw["id"])["status"] == "available"
