"""Container listings: Swift's query semantics, byte order, stats, merge."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from stratus.objectstore.drivers.base import DatabaseNotFound, ObjectRow
from stratus.objectstore.drivers.containerdb import ContainerDB
from stratus.objectstore.drivers.database import db_path, listing_json
from stratus.objectstore.drivers.listing import after_prefix
from stratus.objectstore.drivers.timestamp import Timestamp

NAMES = [
    "a", "a/", "a/b", "a/b/c", "a/b/d", "a/c", "b", "b-1", "b/x", "c/d/e", "photos/", "photos/1.jpg",
    "photos/2010/x.jpg", "photos/2011/y.jpg", "z",
]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> ContainerDB:
    path = db_path(str(tmp_path), "containers", 3, "f" * 32)
    cdb = ContainerDB.create(path, "AUTH_a", "c", Timestamp(1))
    for i, name in enumerate(NAMES):
        cdb.put_object(name, Timestamp(10 + i), i + 1, "text/plain", f"etag{i}")
    return cdb


def names(entries: list[dict[str, object]]) -> list[object]:
    return [e.get("name", e.get("subdir")) for e in entries]


def test_plain_listing_and_entry_shape(db: ContainerDB) -> None:
    entries = db.list()
    assert names(entries) == NAMES
    assert entries[0] == {
        "hash": "etag0",
        "last_modified": "1970-01-01T00:00:10.000000",
        "bytes": 1,
        "name": "a",
        "content_type": "text/plain",
    }
    assert orjson.loads(listing_json(entries)) == entries


def test_markers_limit_prefix(db: ContainerDB) -> None:
    assert names(db.list(limit=3)) == NAMES[:3]
    assert names(db.list(marker="a/c", limit=2)) == ["b", "b-1"]
    assert names(db.list(marker="b", end_marker="c")) == ["b-1", "b/x"]
    assert names(db.list(prefix="photos/")) == [n for n in NAMES if n.startswith("photos/")]
    assert names(db.list(prefix="photos/", marker="photos/2010/x.jpg")) == ["photos/2011/y.jpg"]
    assert db.list(prefix="nothing") == []
    assert db.list(limit=0) == []


def test_delimiter_rolls_up(db: ContainerDB) -> None:
    assert names(db.list(delimiter="/")) == ["a", "a/", "b", "b-1", "b/", "c/", "photos/", "z"]
    assert names(db.list(prefix="photos/", delimiter="/")) == [
        "photos/", "photos/1.jpg", "photos/2010/", "photos/2011/",
    ]  # fmt: skip
    # The subdir given as the marker is not repeated.
    assert names(db.list(delimiter="/", marker="a/")) == ["b", "b-1", "b/", "c/", "photos/", "z"]
    assert names(db.list(delimiter="/", limit=3)) == ["a", "a/", "b"]
    assert names(db.list(prefix="a/", delimiter="/")) == ["a/", "a/b", "a/b/", "a/c"]
    assert names(db.list(delimiter="-")) == ["a", "a/", "a/b", "a/b/c", "a/b/d", "a/c", "b", "b-",
                                             "b/x", "c/d/e", "photos/", "photos/1.jpg",
                                             "photos/2010/x.jpg", "photos/2011/y.jpg", "z"]  # fmt: skip
    assert names(db.list(delimiter="/b")) == ["a", "a/", "a/b", "a/c", "b", "b-1", "b/x",
                                              "c/d/e", "photos/", "photos/1.jpg",
                                              "photos/2010/x.jpg", "photos/2011/y.jpg", "z"]  # fmt: skip


def test_reverse(db: ContainerDB) -> None:
    assert names(db.list(reverse=True)) == NAMES[::-1]
    assert names(db.list(reverse=True, marker="b", limit=2)) == ["a/c", "a/b/d"]
    assert names(db.list(reverse=True, marker="b/x", end_marker="a/c")) == ["b-1", "b"]
    assert names(db.list(reverse=True, delimiter="/")) == [
        "z", "photos/", "c/", "b/", "b-1", "b", "a/", "a",
    ]  # fmt: skip
    assert names(db.list(reverse=True, prefix="photos/", delimiter="/")) == [
        "photos/2011/", "photos/2010/", "photos/1.jpg", "photos/",
    ]  # fmt: skip


def test_path(db: ContainerDB) -> None:
    assert names(db.list(path="photos")) == ["photos/1.jpg"]
    assert names(db.list(path="a")) == ["a/b", "a/c"]
    assert names(db.list(path="a/b/")) == ["a/b/c", "a/b/d"]
    # As Swift: a name ending at the delimiter is one level deep.
    assert names(db.list(path="")) == ["a", "a/", "b", "b-1", "photos/", "z"]
    assert names(db.list(path="a", reverse=True)) == ["a/c", "a/b"]


def test_utf8_byte_order(tmp_path: Path) -> None:
    cdb = ContainerDB.create(str(tmp_path / "u.db"), "AUTH_a", "u", Timestamp(1))
    unicode_names = ["\U0001f600", "\uff5e", "é", "z", "Z", "a\u0301", "\u00e9\u00e9"]
    for n in unicode_names:
        cdb.put_object(n, Timestamp(2), 1, "x", "e")
    expected = sorted(unicode_names, key=lambda n: n.encode("utf-8"))
    assert names(cdb.list()) == expected
    assert names(cdb.list(marker="é")) == expected[expected.index("é") + 1 :]
    # A delimiter after a BMP character at the top: the roll-up skip works.
    cdb.put_object("\uffff/x", Timestamp(2), 1, "x", "e")
    cdb.put_object("\uffff/y", Timestamp(2), 1, "x", "e")
    assert names(cdb.list(delimiter="/"))[-2:] == ["\uffff/", "\U0001f600"]
    assert after_prefix("a\U0010ffff") == "b"
    assert after_prefix("\ud7ff") == "\ue000"


def test_stats_newer_wins_and_deletes(db: ContainerDB) -> None:
    info = db.info()
    assert (info.object_count, info.bytes_used) == (len(NAMES), sum(range(1, len(NAMES) + 1)))
    assert not db.put_object("a", Timestamp(5), 100, "x", "old")  # older: ignored
    assert db.put_object("a", Timestamp(50), 100, "x", "new")
    assert db.info().bytes_used == info.bytes_used - 1 + 100
    assert db.delete_object("a", Timestamp(60))
    assert not db.delete_object("a", Timestamp(55))
    assert not db.put_object("a", Timestamp(60), 7, "x", "tie")  # a delete wins a tie
    info = db.info()
    assert info.object_count == len(NAMES) - 1
    assert "a" not in names(db.list())
    (count,) = db.conn.execute("SELECT count(*) FROM object WHERE name = 'a'").fetchone()
    assert count == 1  # the deletion is a row, for replication
    assert db.reclaim(Timestamp(61)) >= 1
    assert db.info().object_count == len(NAMES) - 1


def test_merge_between_replicas(db: ContainerDB, tmp_path: Path) -> None:
    other = ContainerDB.create(str(tmp_path / "r.db"), "AUTH_a", "c", Timestamp(1))
    other.put_object("a", Timestamp(100), 9, "x", "newer-here")
    other.put_object("new", Timestamp(5), 3, "x", "n")
    db.delete_object("b", Timestamp(200))
    remote_id = db.info().id
    items = db.get_items_since(other.get_sync(remote_id), 1000)
    assert [i.row_id for i in items] == sorted(i.row_id for i in items)
    other.merge_items(items, source=remote_id)
    assert other.get_sync(remote_id) == db.max_row()
    db.merge_items(other.get_items_since(-1, 1000), source=other.info().id)
    listing_a, listing_b = db.list(), other.list()
    assert listing_a == listing_b
    assert "b" not in names(listing_a) and "new" in names(listing_a)
    assert next(e for e in listing_a if e["name"] == "a")["hash"] == "newer-here"
    info_a, info_b = db.info(), other.info()
    assert (info_a.object_count, info_a.bytes_used) == (info_b.object_count, info_b.bytes_used)
    assert info_a.object_count == len(listing_a)
    assert info_a.bytes_used == sum(e["bytes"] for e in listing_a)
    # Merging again changes nothing, and the incremental sync point holds.
    assert other.merge_items(db.get_items_since(other.get_sync(remote_id), 1000)) == 0


def test_container_state_metadata_and_reports(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    with pytest.raises(DatabaseNotFound):
        ContainerDB.open(path)
    db = ContainerDB.create(path, "AUTH_a", "c", Timestamp(1))
    assert ContainerDB.create(path, "AUTH_a", "c", Timestamp(2)).info().put_timestamp == (
        Timestamp(2).internal
    )
    db.update_metadata({"X-Container-Meta-A": ("1", Timestamp(5)), "X-Versions": ("v", "5")})
    db.update_metadata({"X-Container-Meta-A": ("old", Timestamp(4)), "X-Versions": ("", "6")})
    assert db.get_metadata() == {"X-Container-Meta-A": "1"}
    assert db.unreported() is not None
    report = db.unreported()
    assert report is not None
    db.mark_reported(report)
    assert db.unreported() is None
    db.put_object("o", Timestamp(3), 5, "x", "e")
    assert db.unreported() == {**report, "object_count": 1, "bytes_used": 5}
    db.set_delete_timestamp(Timestamp(9))
    assert not db.info().deleted  # not empty
    db.delete_object("o", Timestamp(10))
    assert db.info().deleted and db.is_empty()
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    plan = " ".join(
        str(r)
        for r in db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT name FROM object WHERE deleted = 0 AND name > 'x' "
            "ORDER BY name LIMIT 5"
        )
    )
    assert "ix_object_deleted_name" in plan and "TEMP B-TREE" not in plan


def test_batch_is_one_transaction(tmp_path: Path) -> None:
    db = ContainerDB.create(str(tmp_path / "b.db"), "AUTH_a", "c", Timestamp(1))
    rows = [ObjectRow(f"o{i}", Timestamp(2).internal, 1) for i in range(100)]
    rows.append(ObjectRow("bad", Timestamp(2).internal, 1, content_type=None))  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        db.merge_items(rows)
    assert db.list() == [] and db.info().object_count == 0
