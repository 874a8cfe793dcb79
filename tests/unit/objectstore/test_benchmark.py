"""Micro-benchmarks, printed (run with -s), never asserted on time."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stratus.objectstore.drivers.base import ObjectRow
from stratus.objectstore.drivers.containerdb import ContainerDB
from stratus.objectstore.drivers.database import listing_json
from stratus.objectstore.drivers.diskfile import DiskDevice as ObjectDevice
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.ring.ring import hash_path


def _report(label: str, n: int, wall: float, cpu: float) -> None:
    print(f"\n{label}: {n / wall:,.0f}/s, {cpu / n * 1e3:.3f} ms CPU each ({n} in {wall:.2f} s)")


def test_put_and_get_4k(tmp_path: Path) -> None:
    dev = ObjectDevice(tmp_path / "sda")
    data = os.urandom(4096)
    hashes = [hash_path("AUTH_b", "c", f"o{i}").hex() for i in range(400)]

    def put(h: str) -> None:
        dev.put(int(h[:2], 16), h, "/AUTH_b/c/o", Timestamp.now(), data)

    runs = (
        ("4 KiB PUT + fsync, 1 thread", 1, hashes[:50]),
        ("4 KiB PUT + fsync, 16 threads", 16, hashes),
    )
    for label, workers, batch in runs:
        wall, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(put, batch))
        _report(label, len(batch), time.perf_counter() - wall, time.process_time() - cpu)

    wall, cpu = time.perf_counter(), time.process_time()
    for h in hashes:
        with dev.open(int(h[:2], 16), h) as r:
            assert len(r.read()) == 4096
    _report(
        "4 KiB GET (open + read)",
        len(hashes),
        time.perf_counter() - wall,
        time.process_time() - cpu,
    )


def test_listing_10000(tmp_path: Path) -> None:
    db = ContainerDB.create(str(tmp_path / "c.db"), "AUTH_b", "c", Timestamp(1))
    now = Timestamp.now().internal
    rows = [ObjectRow(f"dir{i % 10}/object-{i:06d}", now, 4096, "application/octet-stream",
                      "d41d8cd98f00b204e9800998ecf8427e") for i in range(10000)]  # fmt: skip
    wall = time.perf_counter()
    db.merge_items(rows)
    print(f"\n10,000 rows merged in one transaction: {(time.perf_counter() - wall) * 1e3:.1f} ms")
    wall = time.perf_counter()
    for i in range(200):
        db.put_object(f"single-{i}", Timestamp.now(), 1, "x", "e")
    each = (time.perf_counter() - wall) / 200
    print(f"one put_object per transaction (WAL fsync each): {each * 1e3:.2f} ms")
    for label, kwargs in (
        ("", {}),
        (" with delimiter '/' and prefix", {"prefix": "dir3/", "delimiter": "/"}),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        entries = db.list(limit=10000, **kwargs)  # type: ignore[arg-type]
        body = listing_json(entries)
        print(
            f"listing{label}: {len(entries)} entries, {len(body)} bytes of JSON in "
            f"{(time.perf_counter() - wall) * 1e3:.1f} ms ({(time.process_time() - cpu) * 1e3:.1f} ms CPU)"
        )
    wall = time.perf_counter()
    assert len(db.list(delimiter="/")) == 10 + 200
    print(f"delimiter roll-up of the top level: {(time.perf_counter() - wall) * 1e3:.2f} ms")
