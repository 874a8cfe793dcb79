"""`[server] workers = 2`: a second process serves the same port, sharing
the database and the disks, and the primary keeps what must exist once."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, drop_database, start_cloud, stop_cloud

CLK_TCK = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listens(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on 127.0.0.1:port."""
    inodes = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":  # LISTEN
            inodes.add(fields[9])
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)


def wait_workers(server: Server, count: int) -> list[int]:
    """The API workers, once each listens on the cloud's port."""
    port = int(server.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = [
            pid
            for pid in children(server.process.pid)
            if b"api-worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if len(workers) == count and all(listens(pid, port) for pid in workers):
            return workers
        time.sleep(0.1)
    raise AssertionError(f"no {count} API workers:\n{server.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[tuple[Server, list[int]]]:
    server = start_cloud(
        tmp_path_factory.mktemp("workers"),
        database,
        STRATUS_SERVER__WORKERS="2",
        STRATUS_COMPUTE__DRIVER="fake",
        STRATUS_COMPUTE__HOST="fakehost",
        STRATUS_COMPUTE__TINY_IMAGE="false",
    )
    try:
        yield server, wait_workers(server, 1)
    finally:
        stop_cloud(server)


def fresh(method: str, url: str, **kw: object) -> httpx.Response:
    """One request on a new connection: the kernel picks a process for each."""
    with httpx.Client(timeout=30) as client:
        return client.request(method, url, **kw)  # type: ignore[arg-type]


def test_both_processes_serve_and_agree(cloud: tuple[Server, list[int]]) -> None:
    server, (worker,) = cloud
    token = server.admin_token()
    before = {pid: cpu_ticks(pid) for pid in (server.process.pid, worker)}
    for _ in range(300):
        resp = fresh(
            "GET",
            f"{server.auth_url}/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        )
        assert resp.status_code == 200  # a token issued by one process is valid in both
    used = {pid: cpu_ticks(pid) - ticks for pid, ticks in before.items()}
    assert all(ticks > 0 for ticks in used.values()), used


def test_objects_written_by_either_process_are_listed_and_read(
    cloud: tuple[Server, list[int]],
) -> None:
    server, _ = cloud
    token = server.admin_token()
    headers = {"X-Auth-Token": token}
    catalog = fresh("GET", f"{server.auth_url}/auth/catalog", headers=headers).json()["catalog"]
    (store,) = [s for s in catalog if s["type"] == "object-store"]
    (endpoint,) = [e["url"] for e in store["endpoints"] if e["interface"] == "public"]
    container = f"{endpoint}/workers-{uuid.uuid4().hex[:8]}"
    assert fresh("PUT", container, headers=headers).status_code == 201
    names = [f"o{i:03d}" for i in range(40)]
    for name in names:
        resp = fresh("PUT", f"{container}/{name}", headers=headers, content=name.encode() * 10)
        assert resp.status_code == 201
    listing = fresh("GET", f"{container}?format=json", headers=headers).json()
    assert [o["name"] for o in listing] == names
    for name in names[::7]:
        assert fresh("GET", f"{container}/{name}", headers=headers).content == name.encode() * 10


def test_servers_asked_of_either_process_become_active(cloud: tuple[Server, list[int]]) -> None:
    server, _ = cloud
    headers = {"X-Auth-Token": server.admin_token()}
    compute = f"{server.url}/compute/v2.1"
    images = fresh("GET", f"{server.url}/image/v2/images", headers=headers).json()["images"]
    image = images[0]["id"] if images else ""
    if not image:  # no tiny image in this cloud: register a small one
        body = {"name": "w", "disk_format": "raw", "container_format": "bare"}
        image = fresh("POST", f"{server.url}/image/v2/images", headers=headers, json=body).json()[
            "id"
        ]
        put = fresh(
            "PUT",
            f"{server.url}/image/v2/images/{image}/file",
            headers={**headers, "Content-Type": "application/octet-stream"},
            content=b"\0" * 1024,
        )
        assert put.status_code == 204
    ids = []
    for i in range(4):
        body = {
            "server": {"name": f"w{i}", "imageRef": image, "flavorRef": "1", "networks": "none"}
        }
        resp = fresh(
            "POST",
            f"{compute}/servers",
            headers={**headers, "OpenStack-API-Version": "compute 2.37"},
            json=body,
        )
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["server"]["id"])
    deadline = time.monotonic() + 60
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {
            i: fresh("GET", f"{compute}/servers/{i}", headers=headers).json()["server"]["status"]
            for i in ids
        }
        if all(s in ("ACTIVE", "ERROR") for s in statuses.values()):
            break
        time.sleep(0.2)
    assert set(statuses.values()) == {"ACTIVE"}, statuses


# No compute probing in these clouds: a primary killed mid-start must leave
# nothing behind that the test did not start.
QUIET = {"STRATUS_COMPUTE__DRIVER": "fake", "STRATUS_COMPUTE__TINY_IMAGE": "false"}


def test_the_workers_stop_with_the_primary(tmp_path: Path, database: str) -> None:
    server = start_cloud(tmp_path / "stop", database, STRATUS_SERVER__WORKERS="3", **QUIET)
    try:
        workers = wait_workers(server, 2)
    finally:
        stop_cloud(server)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


def test_the_workers_die_with_a_killed_primary(tmp_path: Path, database: str) -> None:
    server = start_cloud(tmp_path / "kill", database, STRATUS_SERVER__WORKERS="2", **QUIET)
    try:
        (worker,) = wait_workers(server, 1)
    finally:
        server.process.kill()
        server.process.wait()
        drop_database(server.database_url)
    deadline = time.monotonic() + 15
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_cpu_affinity_gives_each_process_its_own_cpu(tmp_path: Path, database: str) -> None:
    server = start_cloud(
        tmp_path / "pin", database, STRATUS_SERVER__WORKERS="2", STRATUS_SERVER__CPU_AFFINITY="true", **QUIET
    )
    try:
        (worker,) = wait_workers(server, 1)
        deadline = time.monotonic() + 15
        pins: list[set[int]] = []
        while time.monotonic() < deadline:
            pins = [os.sched_getaffinity(pid) for pid in (server.process.pid, worker)]
            if all(len(p) == 1 for p in pins):
                break
            time.sleep(0.1)
        assert all(len(p) == 1 for p in pins) and pins[0] != pins[1], pins
        assert httpx.get(f"{server.url}/identity/v3").status_code == 200
    finally:
        stop_cloud(server)
