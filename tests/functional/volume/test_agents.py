"""The volume agent: a second host as `stratus volume-agent --host NAME`
(its own process and folder), and crashes: the cloud SIGKILLed during a
create from an image and a backup ends, after a restart, with every
volume and backup available or in error with its reason, and nothing left
behind (files, qemu-nbd servers, objects), nor what other crashes left
(planted while it is down)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, POSTGRES_URL, Server, _database_params, start_server
from tests.functional.volume.conftest import (
    CLOUD_ENV,
    Cinder,
    admin_project,
    stop_cloud,
    unique,
    volume_cloud,
    volume_file,
    wait_for,
)


@pytest.fixture(scope="module", params=_database_params())
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    srv = volume_cloud(tmp_path_factory, request.param, name="agents")
    yield srv
    if srv.process.poll() is None:
        stop_cloud(srv)


def restart(srv: Server) -> Server:
    url = POSTGRES_URL if srv.database == "postgres" else ""
    port = int(srv.url.rsplit(":", 1)[1])
    return start_server(srv.data_dir, url, port=port, **CLOUD_ENV)


def nbd_servers(data_dir: Path) -> list[int]:
    """qemu-nbd processes serving files of this data folder."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0].endswith(b"qemu-nbd")
            and any(str(data_dir).encode() in a for a in cmdline)
        ):
            found.append(int(pid))
    return found


def fill_random(path: Path, mib: int) -> None:
    raw = path.with_suffix(".fill")
    with raw.open("wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    subprocess.run(
        ["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True
    )
    raw.unlink()


def big_image(cloud: Server, token: str, mib: int) -> str:
    headers = {"X-Auth-Token": token}
    image = httpx.post(
        f"{cloud.url}/image/v2/images",
        json={"name": unique("big"), "disk_format": "raw", "container_format": "bare"},
        headers=headers,
    ).json()

    def body() -> Iterator[bytes]:
        for _ in range(mib):
            yield os.urandom(1 << 20)

    resp = httpx.put(
        f"{cloud.url}/image/v2/images/{image['id']}/file",
        content=body(),
        headers={**headers, "Content-Type": "application/octet-stream"},
        timeout=120,
    )
    assert resp.status_code == 204, resp.text
    return str(image["id"])


def test_crash_during_create_from_image_and_backup(cloud: Server) -> None:
    cinder = Cinder(cloud, cloud.admin_token(), admin_project(cloud))
    source = cinder.create(size=1)
    fill_random(volume_file(cloud, source["id"]), 400)
    image_id = big_image(cloud, cinder.token, 400)

    backup = cinder.post("/backups", json={"backup": {"volume_id": source["id"], "name": "crash"}})
    assert backup.status_code == 202
    bid = backup.json()["backup"]["id"]
    made = cinder.post(
        "/volumes", json={"volume": {"size": 1, "imageRef": image_id, "name": "crash"}}
    )
    vid = made.json()["volume"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        v = cinder.show(vid)["status"]
        b = cinder.get(f"/backups/{bid}").json()["backup"]["status"]
        if (
            v in ("downloading", "creating")
            and b == "creating"
            and cinder.show(source["id"])["status"] == "backing-up"
        ):
            break
        time.sleep(0.02)
    time.sleep(0.3)  # both under way
    cloud.process.send_signal(signal.SIGKILL)
    cloud.process.wait()
    # What other crashes leave, planted while the cloud is down: a volume's
    # file and a snapshot's of rows that are gone (or never committed), a
    # scratch file, an export folder no attachment wants whose pid file
    # names a process that is not its daemon (a reboot reuses numbers).
    root = cloud.data_dir / "volumes" / "volhost"
    stray_volume, stray_snapshot, stray_export = (str(uuid.uuid4()) for _ in range(3))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2",
                    str(root / "volumes" / f"volume-{stray_volume}.qcow2"), "1G"], check=True)  # fmt: skip
    (root / "snapshots" / f"snapshot-{stray_snapshot}").write_bytes(b"a snapshot of nothing")
    (root / "tmp" / "image-stray.partial").write_bytes(b"half an image")
    (root / "exports" / stray_export).mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "300"])
    (root / "exports" / stray_export / "pid").write_text(f"{bystander.pid}\n")

    srv = restart(cloud)
    cloud.process = srv.process
    cinder = Cinder(srv, srv.admin_token(), cinder.project_id)
    volume = wait_for(lambda: cinder.show(vid), "error", 60, "the interrupted volume")
    messages = cinder.get("/messages").json()["messages"]
    assert any(m["resource_uuid"] == vid and "interrupted" in m["user_message"] for m in messages)
    del volume
    back = wait_for(
        lambda: cinder.get(f"/backups/{bid}").json()["backup"],
        "error",
        60,
        "the interrupted backup",
    )
    assert "interrupted" in back["fail_reason"]
    assert cinder.wait(source["id"])["status"] == "available"

    # Nothing left behind: files of live volumes only, no scratch, no servers, no objects.
    # (The agent sweeps what belongs to nothing after it has ended the
    # interrupted work, so a moment after the backup shows its error.)
    live = {f"volume-{v['id']}.qcow2" for v in cinder.get("/volumes").json()["volumes"]} - {
        f"volume-{vid}.qcow2"
    }

    def left() -> tuple[set[str], list[Path], list[Path]]:
        return ({p.name for p in (root / "volumes").iterdir()},
                list((root / "tmp").iterdir()), list((root / "snapshots").iterdir()))  # fmt: skip

    deadline = time.monotonic() + 30
    while left() != (live, [], []):
        assert time.monotonic() < deadline, f"left behind: {left()}"
        time.sleep(0.1)
    assert nbd_servers(srv.data_dir) == []
    deadline = time.monotonic() + 30
    while (root / "exports" / stray_export).exists():
        assert time.monotonic() < deadline, "the stray export's folder stays"
        time.sleep(0.1)
    assert bystander.poll() is None, "a process the stray pid file named was signalled"
    bystander.kill()
    bystander.wait()
    log = srv.log.read_text()
    assert f"removing the file of volume {stray_volume}, which no volume of volhost owns" in log
    assert f"removing snapshot {stray_snapshot}, which no snapshot owns" in log
    assert "image-stray.partial, left by an interrupted operation" in log
    assert f"the export of volume {stray_export} stopped" in log
    assert "crash" not in str(backup_objects(srv, bid))

    # The interrupted work can be done again.
    assert cinder.delete(f"/volumes/{vid}").status_code == 202
    again = cinder.backup(source["id"])
    assert again["status"] == "available"


def backup_objects(srv: Server, backup_id: str) -> list[str]:
    token = srv.admin_token()
    project = httpx.get(
        f"{srv.auth_url}/projects", params={"name": "service"}, headers={"X-Auth-Token": token}
    ).json()["projects"][0]["id"]
    resp = httpx.get(
        f"{srv.url}/object-store/v1/AUTH_{project}/volumebackups",
        params={"format": "json"},
        headers={"X-Auth-Token": token},
    )
    names = [o["name"] for o in resp.json()] if resp.status_code == 200 else []
    return [n for n in names if backup_id in n]


def test_a_second_volume_host_of_its_own(cloud: Server) -> None:
    port = cloud.url.rsplit(":", 1)[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    if cloud.database == "postgres":
        environ["STRATUS_DATABASE__URL"] = POSTGRES_URL
    environ.update(STRATUS_SERVER__PORT=port, STRATUS_COMPUTE__DRIVER="fake")
    log = cloud.data_dir / "volume-agent-far.log"
    agent = subprocess.Popen(
        [str(BIN / "stratus"), "volume-agent", "--data-dir", str(cloud.data_dir), "--host", "far"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=environ,
    )
    cinder = Cinder(cloud, cloud.admin_token(), admin_project(cloud))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            hosts = {s["host"]: s for s in cinder.get("/os-services").json()["services"]}
            if hosts.get("far@file", {}).get("state") == "up":
                break
            assert agent.poll() is None, log.read_text()
            time.sleep(0.2)
        assert hosts["far@file"]["state"] == "up", log.read_text()
        disabled = cinder.put(
            "/os-services/disable", json={"host": "volhost@file", "binary": "cinder-volume"}
        )
        assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
        volume = cinder.create()
        shown = cinder.show(volume["id"])
        assert shown["os-vol-host-attr:host"] == "far@file#file"
        assert (
            cloud.data_dir / "volumes" / "far" / "volumes" / f"volume-{volume['id']}.qcow2"
        ).exists()
        backup = cinder.backup(volume["id"])
        assert backup["status"] == "available"
        assert cinder.delete(f"/backups/{backup['id']}").status_code == 202
        cinder.wait_gone(f"/backups/{backup['id']}")
        assert cinder.delete(f"/volumes/{volume['id']}").status_code == 202
        cinder.wait_gone(f"/volumes/{volume['id']}")
        assert not (
            cloud.data_dir / "volumes" / "far" / "volumes" / f"volume-{volume['id']}.qcow2"
        ).exists()
    finally:
        cinder.put("/os-services/enable", json={"host": "volhost@file", "binary": "cinder-volume"})
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=30) == 0, log.read_text()
