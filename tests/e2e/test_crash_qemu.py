"""SIGKILL of the cloud with the real QEMU driver while a server is being
created and another one snapshotted (QEMU's backup job writing the snapshot's
temporary disk), then a restart.

The guests outlive the cloud (QEMU runs daemonized) and are adopted; the
interrupted snapshot is taken again and its image becomes active; the create
finishes; and nothing in the data folder belongs to nothing: no temporary
snapshot disk, no partial download or unused base in the image cache, no
folder (overlay, config drive) of a server that is gone.  What a crash
leaves elsewhere is planted while the cloud is down and must be gone too.
One guest boots before the crash and one across it; the tiny image is
built once per cloud, as in the other e2e modules."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, start_server
from tests.e2e.test_compute_acceptance import HOST, Cloud, qemu_pids, wait_host, wait_no_process
from tests.functional.compute.conftest import Nova, tiny_image
from tests.functional.crashing import data_strays, eventually, kill_cloud, row_strays, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64"
)

TRANSITIONAL = {"queued", "saving", "importing", "uploading"}


class PatientCloud(Cloud):
    """The acceptance module's cloud, given longer to start: on a loaded
    machine a restart spends a while importing before it answers."""

    def start(self) -> Server:
        self.server = start_server(self.dir, port=self.port, ready_timeout=120, **self.env)
        wait_host(self.server)
        return self.server


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = PatientCloud(tmp_path_factory)
    yield c
    for folder in c.instances.iterdir() if c.instances.exists() else []:
        for pid in qemu_pids(folder.name):
            os.kill(pid, signal.SIGKILL)
    if c.server.process.poll() is None:
        c.server.stop()
    shutil.rmtree(c.dir, ignore_errors=True)


def nova(cloud: Cloud) -> Nova:
    return Nova(cloud.server, cloud.server.admin_token(), "2.96")


def glance(cloud: Cloud) -> httpx.Client:
    return httpx.Client(
        base_url=f"{cloud.server.url}/image/v2",
        headers={"X-Auth-Token": cloud.server.admin_token()},
        timeout=30,
    )


FILLER = 48 * 2**20  # random data that makes a copy of the disk take a while


@pytest.fixture(scope="module")
def big_disk(cloud: Cloud) -> bytes:
    """The tiny image with FILLER random bytes after its partitions: it
    boots the same, but a download or a full backup of it is not over in an
    instant, so the crash can land inside both."""
    tiny_image(cloud.server)
    (built,) = (cloud.dir / "compute" / "tiny").glob("*.qcow2")
    raw, qcow = cloud.dir / "big.raw", cloud.dir / "big.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(built), str(raw)], check=True)
    with raw.open("ab") as f:
        f.write(os.urandom(FILLER))
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow)], check=True)
    data = qcow.read_bytes()
    raw.unlink()
    qcow.unlink()
    return data


def upload(cloud: Cloud, name: str, data: bytes) -> str:
    with glance(cloud) as images:
        resp = images.post(
            "/images", json={"name": name, "disk_format": "qcow2", "container_format": "bare"}
        )
        assert resp.status_code == 201, resp.text
        image = str(resp.json()["id"])
        resp = images.put(
            f"/images/{image}/file",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert resp.status_code == 204, resp.text
    return image


def test_a_snapshot_and_a_create_killed_midway_end_cleanly(cloud: Cloud, big_disk: bytes) -> None:
    api = nova(cloud)
    first, second = upload(cloud, "big-1", big_disk), upload(cloud, "big-2", big_disk)
    snapped = api.boot("snapped", imageRef=first)["id"]
    (guest_pid,) = qemu_pids(snapped)
    cache = cloud.dir / "compute" / HOST / "images"

    resp = api.action(snapped, {"createImage": {"name": "snap"}})
    assert resp.status_code == 202, resp.text
    image = resp.json()["image_id"]
    resp = api.create_server("creating", imageRef=second)
    assert resp.status_code == 202, resp.text
    creating = resp.json()["server"]["id"]
    # QEMU's backup job writes the snapshot's temporary disk while the
    # create downloads its image: kill now
    folder = cloud.instances / snapped
    download = cache / f".{second}.partial"
    started = time.monotonic()
    while not (list(folder.glob("snapshot-*")) and download.exists()):
        assert time.monotonic() - started < 60, "the snapshot and the download never overlapped"
        time.sleep(0.005)
    kill_cloud(cloud.server)
    assert list(folder.glob("snapshot-*")) and download.exists(), "the crash came too late"
    assert qemu_pids(snapped) == [guest_pid], "the guest died with the cloud"

    # what a crash leaves elsewhere in the image cache and the instances
    unused = cache / str(uuid.uuid4())
    unused.write_bytes(b"an image no server uses")
    stray = cloud.instances / str(uuid.uuid4())
    stray.mkdir()
    (stray / "disk.qcow2").write_bytes(b"the disk of a server that is gone")
    (stray / "config.iso").write_bytes(b"its config drive")

    cloud.start()
    api = nova(cloud)
    api.wait(creating, "ACTIVE", timeout=120)
    images = glance(cloud)

    def settled() -> None:
        servers = api.get("/servers/detail").json()["servers"]
        assert {s["id"] for s in servers} == {creating, snapped}
        for s in servers:
            assert s["OS-EXT-STS:task_state"] is None, s
            assert s["status"] == "ACTIVE", s
        # the snapshot was taken again with the guest still running
        shown = images.get(f"/images/{image}").json()
        assert shown["status"] == "active", shown
        statuses = [i["status"] for i in images.get("/images").json()["images"]]
        assert not TRANSITIONAL & set(statuses), statuses
        assert data_strays(cloud.server) == []
        assert row_strays(cloud.server) == []

    eventually(settled, timeout=120)
    assert qemu_pids(snapped) == [guest_pid], "the guest was restarted"
    assert len(qemu_pids(creating)) == 1
    assert set(os.listdir(cache)) == {first, second}
    log = cloud.server.log.read_text()
    for said in (
        "left by an interrupted snapshot",
        "an image download a restart cut short",
        "no server here uses it",
        "which no longer exists",
    ):
        assert said in log, said
    assert "Traceback" not in log
    # (QEMU's backup job may still run at the restart: it is cancelled first)
    print(*[ln for ln in log.splitlines() if "backup job" in ln or "snapshot in" in ln], sep="\n")

    # the snapshot holds the whole disk, as a qcow2 image
    shown = images.get(f"/images/{image}").json()
    assert shown["disk_format"] == "qcow2" and shown["size"] > FILLER, shown
    with images.stream("GET", f"/images/{image}/file") as data:
        assert data.status_code == 200
        assert next(data.iter_bytes(4))[:4] == b"QFI\xfb"
    for server in (creating, snapped):
        assert api.delete(f"/servers/{server}").status_code == 204
    for server in (creating, snapped):
        api.wait_gone(server, timeout=60)
        wait_no_process(server)
    wait_for("the folders to go", lambda: not list(cloud.instances.glob("[!.]*")), 30)
    images.close()
