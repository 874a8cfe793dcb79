"""Account listings and stats, per policy; order-independent merges."""

from __future__ import annotations

from pathlib import Path

from stratus.objectstore.drivers.accountdb import AccountDB
from stratus.objectstore.drivers.base import PolicyStats
from stratus.objectstore.drivers.timestamp import Timestamp


def make(tmp_path: Path, name: str = "a.db") -> AccountDB:
    return AccountDB.create(str(tmp_path / name), "AUTH_a", Timestamp(1))


def test_reports_stats_and_listing(tmp_path: Path) -> None:
    db = make(tmp_path)
    db.put_container("photos", "10", "0", 3, 300, 0, Timestamp(10))
    db.put_container("docs", "11", "0", 1, 5, 1, Timestamp(11))
    db.put_container("docs/old", "12", "0", 0, 0, 1, Timestamp(12))
    db.put_container("photos", "10", "0", 4, 400, 0, Timestamp(20))  # newer stats
    db.put_container("photos", "10", "0", 1, 1, 0, Timestamp(15))  # stale report
    info = db.info()
    assert (info.container_count, info.object_count, info.bytes_used) == (3, 5, 405)
    assert info.policies == {0: PolicyStats(1, 4, 400), 1: PolicyStats(2, 1, 5)}
    assert db.list() == [
        {"name": "docs", "count": 1, "bytes": 5, "last_modified": "1970-01-01T00:00:11.000000"},
        {"name": "docs/old", "count": 0, "bytes": 0, "last_modified": "1970-01-01T00:00:12.000000"},
        {"name": "photos", "count": 4, "bytes": 400, "last_modified": "1970-01-01T00:00:10.000000"},
    ]
    assert [e.get("subdir", e.get("name")) for e in db.list(delimiter="/")] == [
        "docs", "docs/", "photos",
    ]  # fmt: skip
    assert [e["name"] for e in db.list(reverse=True, limit=1)] == ["photos"]
    assert [e["name"] for e in db.list(prefix="d", marker="docs")] == ["docs/old"]

    db.put_container("docs", "11", "30", 0, 0, 1, Timestamp(30))  # deleted
    info = db.info()
    assert (info.container_count, info.object_count, info.bytes_used) == (2, 4, 400)
    assert [e["name"] for e in db.list()] == ["docs/old", "photos"]
    assert not db.put_container("docs", "11", "30", 0, 0, 1, Timestamp(30))  # no change
    db.put_container("docs", "40", "30", 2, 2, 1, Timestamp(40))  # created again
    assert db.info().container_count == 3


def test_merge_is_order_independent(tmp_path: Path) -> None:
    a, b = make(tmp_path, "a.db"), make(tmp_path, "b.db")
    a.put_container("c1", "10", "0", 1, 10, 0, Timestamp(10))
    b.put_container("c1", "10", "0", 2, 20, 0, Timestamp(11))
    b.put_container("c2", "10", "0", 5, 50, 0, Timestamp(10))
    a.put_container("c2", "10", "20", 0, 0, 0, Timestamp(20))
    a.merge_items(b.get_items_since(-1, 100), source=b.info().id)
    b.merge_items(a.get_items_since(b.get_sync(a.info().id), 100), source=a.info().id)
    assert a.list() == b.list()
    ia, ib = a.info(), b.info()
    assert (ia.container_count, ia.object_count, ia.bytes_used) == (1, 2, 20)
    assert (ib.container_count, ib.object_count, ib.bytes_used) == (1, 2, 20)
    assert b.get_sync(a.info().id) == a.max_row()


def test_account_state(tmp_path: Path) -> None:
    db = make(tmp_path)
    db.update_metadata({"X-Account-Meta-Temp-Url-Key": ("k", Timestamp(2))})
    assert db.get_metadata() == {"X-Account-Meta-Temp-Url-Key": "k"}
    db.set_delete_timestamp(Timestamp(5))
    assert db.info().deleted
    db.set_put_timestamp(Timestamp(6))
    assert not db.info().deleted
