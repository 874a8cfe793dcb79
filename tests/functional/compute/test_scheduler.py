"""Atomic claims: many servers at once on a host too small for all of them."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, fake_cloud, stop_cloud, unique

FITS = 3  # m1.small (2048 MiB) servers that fit on the fake host (16384 MiB)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    reserved = 16384 - FITS * 2048 - 1000  # room for FITS m1.small and not one more
    srv = fake_cloud(
        tmp_path_factory,
        database=database,
        STRATUS_COMPUTE__RESERVED_HOST_MEMORY_MB=str(reserved),
        STRATUS_COMPUTE__QUOTA_INSTANCES="100",
        STRATUS_COMPUTE__QUOTA_CORES="100",
        STRATUS_COMPUTE__QUOTA_RAM="1000000",
    )
    yield srv
    stop_cloud(srv)


def settle(nova: Nova, ids: list[str], timeout: float = 60) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        servers = {sid: nova.show(sid) for sid in ids}
        if all(s["status"] in ("ACTIVE", "ERROR") and s["OS-EXT-STS:task_state"] is None for s in servers.values()):
            return servers
        assert time.monotonic() < deadline, {k: v["status"] for k, v in servers.items()}
        time.sleep(0.2)


def capacity(nova: Nova) -> tuple[int, int]:
    hyp = nova.get("/os-hypervisors/detail", version="2.1").json()["hypervisors"][0]
    return hyp["memory_mb"], hyp["memory_mb_used"]


def check(nova: Nova, ids: list[str]) -> None:
    servers = settle(nova, ids)
    active = [s for s in servers.values() if s["status"] == "ACTIVE"]
    errors = [s for s in servers.values() if s["status"] == "ERROR"]
    assert len(active) == FITS, {s["name"]: s["status"] for s in servers.values()}
    assert len(errors) == len(ids) - FITS
    for s in errors:
        assert "no valid host" in s["fault"]["message"].lower(), s["fault"]
    assert sum(s["flavor"]["ram"] for s in active) == FITS * 2048
    # and the host's books agree
    total, used = capacity(nova)
    assert used <= total
    for sid in ids:
        assert nova.delete(f"/servers/{sid}").status_code == 204
    for sid in ids:
        nova.wait_gone(sid)
    assert capacity(nova)[1] == 0


def test_max_count_10(nova96: Nova) -> None:
    name = unique("burst")
    resp = nova96.create_server(name, flavor="2", min_count=1, max_count=10)
    assert resp.status_code == 202, resp.text
    ids = [s["id"] for s in nova96.get("/servers", params={"name": f"^{name}-"}).json()["servers"]]
    assert len(ids) == 10
    check(nova96, ids)


def test_10_parallel_posts(nova96: Nova) -> None:
    def post(i: int) -> str:
        resp = nova96.at("2.96").create_server(unique(f"par{i}"), flavor="2")
        assert resp.status_code == 202, resp.text
        return str(resp.json()["server"]["id"])

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        ids = list(pool.map(post, range(10)))
    check(nova96, ids)


def test_room_is_reused_after_delete(nova96: Nova) -> None:
    ids = [nova96.boot(unique("seq"), flavor="2")["id"] for _ in range(FITS)]
    failed = nova96.boot(unique("seq"), flavor="2", status="ERROR")
    assert nova96.delete(f"/servers/{ids[0]}").status_code == 204
    nova96.wait_gone(ids[0])
    ok = nova96.boot(unique("seq"), flavor="2")
    for sid in [*ids[1:], failed["id"], ok["id"]]:
        nova96.delete(f"/servers/{sid}")
