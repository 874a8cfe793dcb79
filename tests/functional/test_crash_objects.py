"""SIGKILL of the whole cloud (primary and API workers) in the middle of a
stream of object PUTs, overwrites and deletes, then a restart: within a
minute every container listing and the account's listing and totals equal
what is on disk, nothing the crash left stays on the devices, and every
acknowledged write reads back.

Besides what the kill interrupts (by chance), the test plants, while the
cloud is down, what a kill at the worst instants leaves: an object and a
tombstone renamed into place without their listing update, an older version
beside the current one, a partial body in tmp/, and an account that never
got its containers' last reports."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from stratus.objectstore.drivers.diskfile import DiskDevice
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.ring.ring import Ring
from tests.conftest import Server, drop_database, start_cloud, start_server
from tests.functional.crashing import (
    children,
    data_strays,
    devices,
    eventually,
    kill_cloud,
    objects_on_disk,
    stray_files,
    wait_for,
)
from tests.functional.objectstore.conftest import STORE_ENV, Account, Swift, admin_account

# The default all-in-one has an API worker per core: writes land in both.
ENV = {**STORE_ENV, "STRATUS_SERVER__WORKERS": "2"}
SIZES = (0, 10, 4096, 70_000, 300_000)  # the last streams through tmp/ (> 256 KiB)
CONTAINERS = ("c1", "c2", "c3")  # the writers use c1 and c2


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class History:
    """One writer's operations on its own names, in order: the outcome each
    name may show after the crash is its last acknowledged one, or the
    operation in flight when the cloud died (it may have landed)."""

    acked: dict[str, str | None] = field(default_factory=dict)  # path -> md5, None: deleted
    in_flight: dict[str, str | None] = field(default_factory=dict)

    def allowed(self, path: str) -> set[str | None]:
        out = {self.acked[path]} if path in self.acked else {None}
        if path in self.in_flight:
            out.add(self.in_flight[path])
        return out


def writer(account: Account, n: int, history: History, stop: threading.Event) -> None:
    rng = random.Random(n)
    names = [f"{CONTAINERS[i % 2]}/w{n}-{i}" for i in range(6)]
    with account.client() as c:
        while not stop.is_set():
            path = rng.choice(names)
            if path in history.acked and rng.random() < 0.3:
                history.in_flight[path] = None
                try:
                    resp = c.delete(f"/{path}")
                except httpx.HTTPError:
                    return  # the cloud is gone
                assert resp.status_code in (204, 404), resp.text
                history.acked[path] = None
            else:
                data = os.urandom(rng.choice(SIZES))
                history.in_flight[path] = md5(data)
                try:
                    resp = c.put(f"/{path}", content=data)
                except httpx.HTTPError:
                    return
                assert resp.status_code == 201, resp.text
                history.acked[path] = md5(data)
            del history.in_flight[path]


def endless(stop: threading.Event) -> Iterator[bytes]:
    while not stop.is_set():
        yield b"z" * 65536
        time.sleep(0.01)


def account_db(data_dir: Path) -> Path:
    (found,) = [p for d in devices(data_dir) for p in (d / "accounts").rglob("*.db")]
    return found


def container_dbs(data_dir: Path) -> list[Path]:
    return [p for d in devices(data_dir) for p in (d / "containers").rglob("*.db")]


def forget_reports(data_dir: Path, backup: Path) -> None:
    """The account as it was at ``backup``; each container's reported stats
    as that account saw them: the reports since were lost in the crash."""
    target = account_db(data_dir)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, target)
    with sqlite3.connect(backup) as old:
        seen = {
            r[0]: r[1:]
            for r in old.execute(
                "SELECT name, put_timestamp, delete_timestamp, object_count, bytes_used "
                "FROM container WHERE deleted = 0"
            )
        }
    for path in container_dbs(data_dir):
        conn = sqlite3.connect(path)
        try:
            (name,) = conn.execute("SELECT container FROM stat").fetchone()
            put, delete, count, size = seen[name]
            conn.execute(
                "UPDATE stat SET reported_put_timestamp = ?, reported_delete_timestamp = ?, "
                "reported_object_count = ?, reported_bytes_used = ?",
                (put, delete, count, size),
            )
            conn.commit()
        finally:
            conn.close()


def plant_object(data_dir: Path, account: str, container: str, obj: str) -> str:
    """An object renamed into place whose listing update a crash stopped."""
    ring = Ring.load(data_dir / "objectstore" / "rings" / "object.ring.gz")
    (device,) = devices(data_dir)
    data = f"{obj}: renamed into place, never listed".encode()
    part, name_hash, _ = ring.locate(account, container, obj)
    DiskDevice(device).put(part, name_hash, f"/{account}/{container}/{obj}", Timestamp.now(), data)
    return md5(data)


def plant(data_dir: Path, account: str) -> dict[str, str | None]:
    """Objects renamed into place whose listing update a crash stopped: a new
    object in c1 and a tombstone over ``c2/kept-0``; an older version beside
    ``c1/kept-0``; a partial body in tmp/."""
    ring = Ring.load(data_dir / "objectstore" / "rings" / "object.ring.gz")
    (device,) = devices(data_dir)
    disk = DiskDevice(device)
    planted: dict[str, str | None] = {
        "c1/planted": plant_object(data_dir, account, "c1", "planted")
    }
    part, name_hash, _ = ring.locate(account, "c2", "kept-0")
    disk.delete(part, name_hash, f"/{account}/c2/kept-0", Timestamp.now())
    planted["c2/kept-0"] = None
    part, name_hash, _ = ring.locate(account, "c1", "kept-0")
    folder = Path(disk.hash_dir(part, name_hash))
    (current,) = list(folder.iterdir())
    shutil.copyfile(current, folder / f"{Timestamp(time.time() - 3600).internal}.data")
    partial = device / "tmp" / "tmpabcdef"
    partial.write_bytes(b"half a body" * 1000)
    past = time.time() - 60
    os.utime(partial, (past, past))
    return planted


@dataclass
class Crashed:
    srv: Server
    account: Account
    histories: list[History]
    planted: dict[str, str | None]
    kept: dict[str, str]


@pytest.fixture
def crashed(tmp_path: Path, database: str) -> Iterator[Crashed]:
    srv = start_cloud(tmp_path / "cloud", database, **ENV)
    restarted: Server | None = None
    try:
        account = admin_account(srv)
        kept: dict[str, str] = {}
        with account.client() as c:
            for container in CONTAINERS:
                assert c.put(f"/{container}").status_code == 201
                for i in range(3):
                    data = os.urandom(100 * (i + 1))
                    assert c.put(f"/{container}/kept-{i}", content=data).status_code == 201
                    kept[f"{container}/kept-{i}"] = md5(data)
            wait_for(
                "the account's totals",
                lambda: c.head("").headers.get("x-account-object-count") == "9",
            )
        backup = tmp_path / "account-before.db"
        with sqlite3.connect(account_db(srv.data_dir)) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
        # c3 changes once more, then no more: only the reporter can tell its
        # account (the lost report is planted below)
        with account.client() as c:
            assert c.put("/c3/late", content=b"late").status_code == 201
            kept["c3/late"] = md5(b"late")

        stop = threading.Event()
        histories = [History() for _ in range(3)]
        threads = [
            threading.Thread(target=writer, args=(account, n, h, stop), daemon=True)
            for n, h in enumerate(histories)
        ]

        def stalled() -> None:
            with pytest.raises(httpx.HTTPError), account.client() as c:
                c.put("/c1/never-finished", content=endless(stop))

        threads.append(threading.Thread(target=stalled, daemon=True))
        for t in threads:
            t.start()
        wait_for("writes", lambda: sum(len(h.acked) for h in histories) >= 12)
        time.sleep(1.0)
        kill_cloud(srv)
        stop.set()
        for t in threads:
            t.join(timeout=30)

        forget_reports(srv.data_dir, backup)
        planted = plant(srv.data_dir, account.name)
        restarted = start_server(srv.data_dir, srv.database_url, **ENV)
        yield Crashed(restarted, admin_account(restarted), histories, planted, kept)
    finally:
        for s in (restarted, srv):
            if s is not None and s.process.poll() is None:
                s.stop()
        drop_database(srv.database_url)


def listing(c: Swift, path: str) -> list[dict[str, object]]:
    resp = c.get(path, params={"format": "json"})
    assert resp.status_code in (200, 204), resp.text
    return resp.json() if resp.status_code == 200 else []


def test_listings_equal_the_disk_after_a_kill_mid_write(crashed: Crashed) -> None:
    srv, account = crashed.srv, crashed.account
    prefix = f"/{account.name}/"

    def converged() -> None:
        disk = {
            k[len(prefix) :]: v
            for k, v in objects_on_disk(srv.data_dir).items()
            if k.startswith(prefix)
        }
        with account.client() as c:
            total_count = total_bytes = 0
            for container in CONTAINERS:
                listed = {
                    f"{container}/{e['name']}": (e["bytes"], e["hash"])
                    for e in listing(c, f"/{container}")
                }
                on_disk = {
                    name: (o.size, o.etag)
                    for name, o in disk.items()
                    if name.startswith(f"{container}/")
                }
                assert listed == on_disk, container
                head = c.head(f"/{container}")
                assert int(head.headers["x-container-object-count"]) == len(on_disk)
                assert int(head.headers["x-container-bytes-used"]) == sum(
                    s for s, _ in on_disk.values()
                )
                total_count += len(on_disk)
                total_bytes += sum(s for s, _ in on_disk.values())
            head = c.head("")
            assert int(head.headers["x-account-object-count"]) == total_count
            assert int(head.headers["x-account-bytes-used"]) == total_bytes
            rows = {e["name"]: (e["count"], e["bytes"]) for e in listing(c, "")}
            for container in CONTAINERS:
                on_disk = [o for n, o in disk.items() if n.startswith(f"{container}/")]
                assert rows[container] == (len(on_disk), sum(o.size for o in on_disk))
        assert stray_files(srv.data_dir) == []
        assert data_strays(srv) == []

    eventually(converged, timeout=60)

    # every acknowledged write reads back (or, for the write in flight at the
    # kill, possibly that write); what was planted shows as it lies on disk
    with account.client() as c:

        def state(path: str) -> str | None:
            resp = c.get(f"/{path}")
            assert resp.status_code in (200, 404), resp.text
            return md5(resp.content) if resp.status_code == 200 else None

        for history in crashed.histories:
            for path in set(history.acked) | set(history.in_flight):
                assert state(path) in history.allowed(path), path
        for path, expected in crashed.planted.items():
            assert state(path) == expected, path
        for path, expected in crashed.kept.items():
            if path not in crashed.planted:
                assert state(path) == expected, path
        # the cloud takes writes again
        assert c.put("/c1/after", content=b"after").status_code == 201
        assert state("c1/after") == md5(b"after")

    log = srv.log.read_text()
    assert "removed tmp/tmpabcdef" in log
    assert f"/{account.name}/c1/planted: its listing row was behind what is on disk" in log
    assert f"/{account.name}/c2/kept-0: its listing row was behind what is on disk" in log
    assert "stats sent to the account" in log
    assert "Traceback" not in log


def test_a_worker_killed_mid_write_is_followed_by_recovery(tmp_path: Path, database: str) -> None:
    """One API worker dies (the primary runs on): what its unfinished writes
    left, here an object renamed into place without its listing row, is
    listed within a minute, and the remaining processes serve on."""
    srv = start_cloud(tmp_path / "cloud", database, **ENV)
    try:
        account = admin_account(srv)
        with account.client() as c:
            assert c.put("/c1").status_code == 201
            for i in range(20):
                assert c.put(f"/c1/before-{i}", content=b"x" * i).status_code == 201
        (worker,) = children(srv.process.pid)
        os.kill(worker, signal.SIGKILL)
        planted = plant_object(srv.data_dir, account.name, "c1", "worker-crashed")

        def listed() -> None:
            with account.client() as c:
                names = {e["name"] for e in listing(c, "/c1")}
            assert names == {f"before-{i}" for i in range(20)} | {"worker-crashed"}

        eventually(listed, timeout=60)
        with account.client() as c:
            assert md5(c.get("/c1/worker-crashed").content) == planted

        def counted() -> None:
            # The container reports its new total to the account after the
            # listing row lands: the account's count follows within the minute.
            with account.client() as c:
                assert c.head("").headers["x-account-object-count"] == "21"

        eventually(counted, timeout=60)
        log = srv.log.read_text()
        assert f"workers: API worker {worker} exited" in log
        assert "Traceback" not in log
    finally:
        srv.stop()
        drop_database(srv.database_url)
