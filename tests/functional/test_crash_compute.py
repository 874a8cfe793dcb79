"""SIGKILL of the cloud while a server is being created and another one
snapshotted (the fake driver holds both midway, the snapshot with half its
disk written), then a restart: the create finishes, the snapshot ends
without a stuck image or server, nothing is left in the servers' folders or
the image store (a folder of a server that is gone, a move's aside folder
of one, files an earlier run left half written in a live server's folder
and the NBD key of a volume it no longer has, planted while the cloud is down, go too), nor anywhere in the data folder or the database; the
created server's volume, reserved at the crash, ends attached; and the
cloud works on."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from stratus.compute.drivers.fake_host import SNAPSHOT_HOLD, SPAWN_HOLD
from tests.conftest import Server, drop_database, start_cloud, start_server
from tests.functional.compute.conftest import FAKE, Nova
from tests.functional.crashing import data_strays, eventually, kill_cloud, row_strays, wait_for
from tests.functional.volume.conftest import Cinder, admin_project

TRANSITIONAL = {"queued", "saving", "importing", "uploading"}


@dataclass
class Crashed:
    srv: Server
    creating: str  # the server whose create was interrupted
    snapped: str  # the server whose snapshot was interrupted
    image: str  # the snapshot's image
    volume: str  # a volume of ``creating``, reserved at the crash


def instances(srv: Server) -> Path:
    return srv.data_dir / "compute" / "fakehost" / "instances"


@pytest.fixture
def crashed(tmp_path: Path, database: str) -> Iterator[Crashed]:
    srv = start_cloud(tmp_path / "cloud", database, **FAKE)
    restarted: Server | None = None
    spawn_hold = tmp_path / "spawn.hold"
    snapshot_hold = tmp_path / "snapshot.hold"
    try:
        nova = Nova(srv, srv.admin_token(), "2.96")
        snapped = nova.boot("snapped", metadata={SNAPSHOT_HOLD: str(snapshot_hold)})
        spawn_hold.touch()
        snapshot_hold.touch()
        # the server being created gets a volume too, reserved in Cinder
        cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
        volume = cinder.create()["id"]
        mapping = {"uuid": volume, "source_type": "volume", "destination_type": "volume"}
        resp = nova.create_server(
            "creating",
            metadata={SPAWN_HOLD: str(spawn_hold)},
            block_device_mapping_v2=[mapping],
        )
        assert resp.status_code == 202, resp.text
        creating = resp.json()["server"]["id"]
        resp = nova.action(snapped["id"], {"createImage": {"name": "snap"}})
        assert resp.status_code == 202, resp.text
        image = resp.json()["image_id"]
        folder = instances(srv) / snapped["id"]
        wait_for("the snapshot to be half written", lambda: list(folder.glob("snapshot-*")))
        wait_for(
            "the create to be under way",
            lambda: nova.show(creating).get("OS-EXT-STS:task_state") == "spawning",
        )

        kill_cloud(srv)
        spawn_hold.unlink()
        snapshot_hold.unlink()
        # what a crash between a server's end and its folder's removal leaves
        stray = instances(srv) / str(uuid.uuid4())
        stray.mkdir()
        (stray / "disk.qcow2").write_bytes(b"the disk of a server that is gone")
        # ... a move's aside folder of a server that is gone, and what an
        # earlier run was writing in a live server's folder: a disk arriving
        # from another host, a config drive
        aside = srv.data_dir / "compute" / "fakehost" / "moves" / str(uuid.uuid4())
        aside.mkdir(parents=True)
        (aside / "disk.qcow2").write_bytes(b"the old copy of a server that is gone")
        unfinished = [folder / "incoming.disk.partial", folder / ".disk.config.x1y2.tmp"]
        # ... and the NBD key of a volume the server no longer has
        (folder / "nbd-0badc0de").mkdir()
        (folder / "nbd-0badc0de" / "keys.psk").write_text("stratus-0badc0de:00ff\n")
        past = time.time() - 60
        for path in unfinished:
            path.write_bytes(b"half written")
            os.utime(path, (past, past))
        restarted = start_server(srv.data_dir, srv.database_url, **FAKE)
        yield Crashed(restarted, creating, snapped["id"], image, volume)
    finally:
        for s in (restarted, srv):
            if s is not None and s.process.poll() is None:
                s.stop()
        drop_database(srv.database_url)


def test_a_create_and_a_snapshot_killed_midway_end_cleanly(crashed: Crashed) -> None:
    srv = crashed.srv
    token = srv.admin_token()
    nova = Nova(srv, token, "2.96")
    glance = httpx.Client(
        base_url=f"{srv.url}/image/v2", headers={"X-Auth-Token": token}, timeout=30
    )

    # the interrupted create is taken up again and finishes
    nova.wait(crashed.creating, "ACTIVE", timeout=60)

    def settled() -> None:
        servers = nova.get("/servers/detail").json()["servers"]
        assert {s["id"] for s in servers} == {crashed.creating, crashed.snapped}
        for s in servers:
            assert s["OS-EXT-STS:task_state"] is None, s
            assert s["status"] in ("ACTIVE", "SHUTOFF"), s
        # the snapshot's image is active (taken again) or gone, never stuck
        resp = glance.get(f"/images/{crashed.image}")
        assert resp.status_code == 404 or resp.json()["status"] == "active", resp.text
        statuses = {i["id"]: i["status"] for i in glance.get("/images").json()["images"]}
        assert not TRANSITIONAL & set(statuses.values()), statuses
        # nothing on disk belongs to nothing
        assert not list(srv.data_dir.rglob("snapshot-*"))
        assert not list(instances(srv).glob("*/*.partial")) + list(instances(srv).glob("*/.*.tmp"))
        assert not list((srv.data_dir / "compute" / "fakehost" / "moves").iterdir())
        assert not list(instances(srv).glob("*/nbd-*"))
        folders = {p.name for p in instances(srv).iterdir() if not p.name.startswith(".")}
        assert folders <= {crashed.creating, crashed.snapped}
        stored = {p.name for p in (srv.data_dir / "images").iterdir()}
        assert stored == {i for i, s in statuses.items() if s == "active"}
        assert data_strays(srv) == []
        assert row_strays(srv) == []

    eventually(settled, timeout=60)
    # the created server's volume is attached: in use by it
    cinder = Cinder(srv, token, admin_project(srv))
    shown = cinder.wait(crashed.volume, "in-use")
    assert [a["server_id"] for a in shown["attachments"]] == [crashed.creating]
    attached = nova.get(f"/servers/{crashed.creating}/os-volume_attachments").json()
    assert [a["volumeId"] for a in attached["volumeAttachments"]] == [crashed.volume]
    assert row_strays(srv) == []
    log = srv.log.read_text()
    assert "left by an interrupted snapshot" in log
    assert "which no longer exists" in log
    assert "set aside for a move of server" in log
    assert "incoming.disk.partial, left unfinished by an earlier run" in log
    assert ".disk.config.x1y2.tmp, left unfinished by an earlier run" in log
    assert "nbd-0badc0de, the NBD key of a volume server" in log
    assert "Traceback" not in log

    # the cloud works on: a new server, and a snapshot of the resumed one
    nova.boot("after")
    resp = nova.action(crashed.creating, {"createImage": {"name": "after"}})
    assert resp.status_code == 202, resp.text
    image = resp.json()["image_id"]
    deadline = time.monotonic() + 60
    while glance.get(f"/images/{image}").json()["status"] != "active":
        assert time.monotonic() < deadline, "the new snapshot never became active"
        time.sleep(0.2)
    glance.close()
