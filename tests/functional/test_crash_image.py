"""SIGKILL of `stratus up` in the middle of an image upload, then a restart:
no image stays `saving`, nothing the crash left stays on disk, what was
stored stays readable, and the interrupted image takes a new upload."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, drop_database, start_cloud, start_server
from tests.functional.compute.conftest import FAKE, Nova, tiny_image

CHUNK = b"x" * (1 << 20)
OCTET = {"Content-Type": "application/octet-stream"}


def glance(srv: Server, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{srv.url}/image/v2", headers={"X-Auth-Token": token}, timeout=60)


def wait_for(what: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.1)


def stream_forever(stop: threading.Event) -> Iterator[bytes]:
    while not stop.is_set():
        yield CHUNK
        time.sleep(0.05)


@pytest.fixture
def crashed(tmp_path: Path, database: str) -> Iterator[tuple[Server, dict[str, str]]]:
    """A cloud killed mid-upload, with leftovers of other crashes planted
    beside the one it made; yields the restarted cloud and what to check."""
    srv = start_cloud(tmp_path / "cloud", database, **FAKE)
    restarted: Server | None = None
    try:
        token = srv.admin_token()
        images = srv.data_dir / "images"
        with glance(srv, token) as c:
            kept = c.post("/images", json={"name": "kept", "disk_format": "raw", "container_format": "bare"}).json()
            data = os.urandom(3 << 20)
            assert c.put(f"/images/{kept['id']}/file", content=data, headers=OCTET).status_code == 204
            gone = c.post("/images", json={"name": "gone", "disk_format": "raw", "container_format": "bare"}).json()
            assert c.put(f"/images/{gone['id']}/file", content=b"old", headers=OCTET).status_code == 204
            assert c.delete(f"/images/{gone['id']}").status_code == 204
            victim = c.post("/images", json={"name": "victim", "disk_format": "raw", "container_format": "bare"}).json()

        stop = threading.Event()

        def upload() -> None:
            with pytest.raises(httpx.HTTPError), glance(srv, token) as c:
                c.put(f"/images/{victim['id']}/file", content=stream_forever(stop), headers=OCTET)

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        partial = images / f".{victim['id']}.partial"
        wait_for("the upload to be under way", lambda: partial.exists() and partial.stat().st_size > (4 << 20))
        with glance(srv, token) as c:
            assert c.get(f"/images/{victim['id']}").json()["status"] == "saving"

        nova = Nova(srv, token, "2.96")
        vm = nova.boot("snapped")
        folder = srv.data_dir / "compute" / "fakehost" / "instances" / vm["id"]
        folder.mkdir(parents=True, exist_ok=True)

        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait()
        stop.set()
        uploader.join(timeout=30)

        # What other crashes leave, planted while the cloud is down: data of
        # a deleted image (a crash between the row and the file), data of no
        # image at all, a staged file of nobody, a snapshot's temporary disk.
        stray = str(uuid.uuid4())
        (images / gone["id"]).write_bytes(b"old")
        (images / stray).write_bytes(b"nobody's")
        (images / f"{stray}.staged").write_bytes(b"nobody's")
        snapshot = folder / f"snapshot-{uuid.uuid4()}.qcow2"
        snapshot.write_bytes(b"half a disk")
        past = time.time() - 60
        for path in (images / gone["id"], images / stray, images / f"{stray}.staged", snapshot):
            os.utime(path, (past, past))

        restarted = start_server(srv.data_dir, srv.database_url, **FAKE)
        yield restarted, {
            "kept": kept["id"],
            "kept_md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "gone": gone["id"],
            "victim": victim["id"],
            "stray": stray,
            "snapshot": str(snapshot),
        }
    finally:
        for s in (restarted, srv):
            if s is not None and s.process.poll() is None:
                s.stop()
        drop_database(srv.database_url)


def test_an_upload_killed_midway_leaves_nothing_behind(crashed: tuple[Server, dict[str, str]]) -> None:
    srv, ids = crashed
    images = srv.data_dir / "images"
    token = srv.admin_token()
    with glance(srv, token) as c:
        # the interrupted upload: queued again, never stuck in saving
        assert c.get(f"/images/{ids['victim']}").json()["status"] == "queued"
        wait_for(
            "the sweep",
            lambda: not any(
                (images / name).exists()
                for name in (f".{ids['victim']}.partial", ids["gone"], ids["stray"], f"{ids['stray']}.staged")
            ),
        )
        wait_for("the agent's sweep", lambda: not Path(ids["snapshot"]).exists())  # it starts in the background
        # what was stored is intact
        got = c.get(f"/images/{ids['kept']}/file")
        assert got.status_code == 200 and hashlib.md5(got.content, usedforsecurity=False).hexdigest() == ids["kept_md5"]
        # the interrupted image takes a new upload
        assert c.put(f"/images/{ids['victim']}/file", content=b"again" * 1000, headers=OCTET).status_code == 204
        assert c.get(f"/images/{ids['victim']}").json()["status"] == "active"
        statuses = [i["status"] for i in c.get("/images").json()["images"]]
        assert "saving" not in statuses
    # nothing else is left: the store holds exactly the images that keep data
    with glance(srv, token) as c:
        active = {i["id"] for i in c.get("/images").json()["images"] if i["status"] == "active"}
    assert {p.name for p in images.iterdir()} == active
    log = srv.log.read_text()
    assert f"image {ids['victim']}: its upload was interrupted by a restart; queued again" in log
    assert f"removed .{ids['victim']}.partial" in log and f"removed {ids['stray']}" in log
    assert "left by an interrupted snapshot" in log
    assert "Traceback" not in log
    assert tiny_image(srv)  # the cloud works on
