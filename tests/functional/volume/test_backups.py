"""Backups (full and incremental, restore into a new and an existing
volume, records exported and imported) and transfers between projects,
through the openstack CLI and raw HTTP; the restored bytes are compared
with the original's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.conftest import Server
from tests.functional.volume.conftest import (
    Cinder,
    osc,
    osc_json,
    osc_wait,
    project_user,
    qemu_write,
    same_content,
    unique,
    volume_file,
    wait_for,
)


def snapshot_of(path: Path, into: Path) -> Path:
    subprocess.run(["qemu-img", "convert", "-U", "-O", "qcow2", str(path), str(into)], check=True)
    return into


def write_random(path: Path, offset: int, length: int, scratch: Path) -> None:
    """Random bytes into a volume file at ``offset`` (through a raw copy:
    qemu-io writes patterns only)."""
    raw = scratch.with_suffix(".raw")
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(path), str(raw)], check=True)
    with raw.open("r+b") as f:
        f.seek(offset)
        f.write(os.urandom(length))
    subprocess.run(
        ["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True
    )
    raw.unlink()


def objects(cloud: Server, container: str) -> list[str]:
    token = cloud.admin_token()
    project = httpx.get(
        f"{cloud.auth_url}/projects", params={"name": "service"}, headers={"X-Auth-Token": token}
    ).json()["projects"][0]["id"]
    resp = httpx.get(
        f"{cloud.url}/object-store/v1/AUTH_{project}/{container}",
        params={"format": "json"},
        headers={"X-Auth-Token": token},
    )
    return [o["name"] for o in resp.json()] if resp.status_code == 200 else []


def test_full_and_incremental_backup_restore(cloud: Server, tmp_path: Path) -> None:
    name = unique("data")
    vid = osc_json(cloud, "volume", "create", "--size", "1", name)["id"]
    osc_wait(cloud, "volume", name)
    path = volume_file(cloud, vid)
    write_random(path, 0, 4 << 20, tmp_path / "r1")
    qemu_write(path, 0x11, 100 << 20, 1 << 20)
    full = osc_json(cloud, "volume", "backup", "create", "--name", unique("full"), name)["id"]
    b1 = osc_wait(cloud, "volume backup", full)
    assert b1["is_incremental"] is False and b1["object_count"] > 1
    first = snapshot_of(path, tmp_path / "first.qcow2")

    stored = objects(cloud, "volumebackups")
    assert any(full in o and o.endswith("_metadata") for o in stored)
    full_chunks = [o for o in stored if full in o and not o.endswith("_metadata")]
    assert full_chunks, stored

    write_random(path, 600 << 20, 1 << 20, tmp_path / "r2")
    incr = osc_json(
        cloud, "volume", "backup", "create", "--incremental", "--name", unique("incr"), name
    )["id"]
    b2 = osc_wait(cloud, "volume backup", incr)
    assert b2["is_incremental"] is True
    second = snapshot_of(path, tmp_path / "second.qcow2")
    incr_chunks = [
        o for o in objects(cloud, "volumebackups") if incr in o and not o.endswith("_metadata")
    ]
    assert 0 < len(incr_chunks) < len(full_chunks), "an incremental stores only what changed"
    assert osc_wait(cloud, "volume", name)["status"] == "available"

    # Restore the incremental into a new volume, the full one into an existing one.
    restored = osc_json(cloud, "volume", "backup", "restore", incr, unique("restored"))
    rid = restored.get("volume_id") or restored["id"]
    osc_wait(cloud, "volume", rid)
    assert same_content(volume_file(cloud, rid), second)

    target = unique("target")
    tid = osc_json(cloud, "volume", "create", "--size", "1", target)["id"]
    osc_wait(cloud, "volume", target)
    qemu_write(volume_file(cloud, tid), 0x77, 0, 1 << 20)
    osc(cloud, "volume", "backup", "restore", "--force", full, target)
    osc_wait(cloud, "volume", target)
    assert same_content(volume_file(cloud, tid), first)

    # A backup that an incremental depends on cannot go first.
    refused = osc(cloud, "volume", "backup", "delete", full, check=False)
    assert refused.returncode != 0 and "Incremental backups exist" in refused.stderr
    osc(cloud, "volume", "backup", "delete", incr)
    osc(cloud, "volume", "backup", "delete", full)
    for _ in range(300):
        if not [o for o in objects(cloud, "volumebackups") if full in o or incr in o]:
            break
    assert not [o for o in objects(cloud, "volumebackups") if full in o or incr in o]


def test_export_import_record(cinder: Cinder, cloud: Server) -> None:
    volume = cinder.create()
    qemu_write(volume_file(cloud, volume["id"]), 0x42, 0, 65536)
    backup = cinder.backup(volume["id"])
    record = cinder.get(f"/backups/{backup['id']}/export_record").json()["backup-record"]
    # Lose the record (not the objects: delete it from the database's view by importing a copy elsewhere).
    other = Cinder(cloud, cinder.token, cinder.project_id)
    dup = other.post("/backups/import_record", json={"backup-record": record})
    assert dup.status_code == 400 and "already exists" in dup.json()["badRequest"]["message"]
    bad = other.post(
        "/backups/import_record", json={"backup-record": {**record, "backup_url": "eA=="}}
    )
    assert bad.status_code == 400


def test_transfer_between_projects(cloud: Server) -> None:
    giver, _, giver_project = project_user(cloud)
    taker, taker_user, taker_project = project_user(cloud)
    volume = giver.create()
    resp = giver.post(
        "/os-volume-transfer", json={"transfer": {"volume_id": volume["id"], "name": "t"}}
    )
    assert resp.status_code == 202, resp.text
    transfer = resp.json()["transfer"]
    assert giver.show(volume["id"])["status"] == "awaiting-transfer"
    wrong = taker.post(
        f"/os-volume-transfer/{transfer['id']}/accept", json={"accept": {"auth_key": "nope"}}
    )
    assert wrong.status_code == 400 and "badRequest" in wrong.json()
    ok = taker.post(
        f"/os-volume-transfer/{transfer['id']}/accept",
        json={"accept": {"auth_key": transfer["auth_key"]}},
    )
    assert ok.status_code == 202, ok.text
    assert taker.show(volume["id"])["status"] == "available"
    assert giver.get(f"/volumes/{volume['id']}").status_code == 404
    assert volume["id"] in {v["id"] for v in taker.get("/volumes").json()["volumes"]}
    del taker_user, giver_project, taker_project


def test_transfer_with_the_cli(cloud: Server) -> None:
    name = unique("moving")
    osc(cloud, "volume", "create", "--size", "1", name)
    osc_wait(cloud, "volume", name)
    request = osc_json(cloud, "volume", "transfer", "request", "create", "--name", "t1", name)
    assert request["auth_key"]
    listed = osc_json(cloud, "volume", "transfer", "request", "list")
    assert any(t["ID"] == request["id"] for t in listed)
    osc(
        cloud,
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        request["auth_key"],
        request["id"],
    )
    assert osc_json(cloud, "volume", "show", name)["status"] == "available"
    wait_for(lambda: osc_json(cloud, "volume", "show", name), "available", 10, name)
