"""An account's database: its containers with their counts, and its stats.

Containers report ``(put_timestamp, delete_timestamp, object_count,
bytes_used)`` here (the container server on change, the updater when that
failed).  Per container name the newest put and delete timestamps are kept
and the counts come from the report with the newest ``stats_timestamp`` (the
reporter's clock), so merging replicas in any order gives the same rows.  A
container is deleted when its delete timestamp is newer than its put.  The
account's totals, overall and per storage policy, change incrementally.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, ClassVar

from stratus.objectstore.drivers.base import AccountInfo, ContainerRow, PolicyStats
from stratus.objectstore.drivers.database import COMMON_STAT, Database, last_modified_sql
from stratus.objectstore.drivers.listing import Entry
from stratus.objectstore.drivers.timestamp import Timestamp

_LAST_MODIFIED = last_modified_sql("put_timestamp")


class AccountDB(Database):
    TABLE: ClassVar[str] = "container"
    _row_time: ClassVar[str] = "max(put_timestamp, delete_timestamp)"
    ROW_COLUMNS: ClassVar[str] = (
        "name, put_timestamp, delete_timestamp, object_count, bytes_used, stats_timestamp, "
        "storage_policy_index, ROWID"
    )
    SCHEMA: ClassVar[str] = f"""
CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    object_count INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL,
    stats_timestamp TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_container_deleted_name ON container (deleted, name);
CREATE TABLE stat (
    {COMMON_STAT},
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE policy_stat (
    storage_policy_index INTEGER PRIMARY KEY,
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
);
"""

    @staticmethod
    def stat_of(account: str, put_timestamp: Timestamp) -> dict[str, Any]:
        return Database.new_stat(account, put_timestamp)

    @classmethod
    def create(cls, path: str, account: str, put_timestamp: Timestamp) -> AccountDB:
        """Create the database, or open it if another request just did."""
        return cls.create_file(path, cls.stat_of(account, put_timestamp), put_timestamp)

    def info(self) -> AccountInfo:
        values = self.stat_as(
            "account, created_at, put_timestamp, delete_timestamp, status_changed_at, id, "
            "container_count, object_count, bytes_used"
        )
        with self.lock:
            policies = {
                p: PolicyStats(c, o, b)
                for p, c, o, b in self.conn.execute(
                    "SELECT storage_policy_index, container_count, object_count, bytes_used "
                    "FROM policy_stat WHERE container_count > 0 OR object_count > 0"
                )
            }
        return AccountInfo(**values, max_row=self.max_row(), policies=policies)

    # -- rows ------------------------------------------------------------------

    def put_container(
        self,
        name: str,
        put_timestamp: Timestamp | str,
        delete_timestamp: Timestamp | str,
        object_count: int,
        bytes_used: int,
        storage_policy_index: int = 0,
        stats_timestamp: Timestamp | None = None,
    ) -> bool:
        """A container's report; False if it changed nothing."""
        row = ContainerRow(
            name,
            Timestamp(put_timestamp).internal,
            Timestamp(delete_timestamp).internal,
            object_count,
            bytes_used,
            (stats_timestamp or Timestamp.now()).internal,
            storage_policy_index,
        )
        return self.merge_items([row]) == 1

    def merge_items(self, items: Iterable[ContainerRow], source: str | None = None) -> int:
        """Apply reports or another replica's rows in one transaction."""
        deltas: dict[int, list[int]] = {}
        changed = 0
        max_row = -1
        with self.transaction() as conn:
            for item in items:
                max_row = max(max_row, item.row_id)
                if self._merge_one(conn, item, deltas):
                    changed += 1
            for policy, (containers, objects, size) in deltas.items():
                if not (containers or objects or size):
                    continue
                conn.execute(
                    "UPDATE stat SET container_count = container_count + ?, "
                    "object_count = object_count + ?, bytes_used = bytes_used + ?",
                    (containers, objects, size),
                )
                conn.execute(
                    "INSERT INTO policy_stat VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (storage_policy_index) DO UPDATE SET "
                    "container_count = container_count + excluded.container_count, "
                    "object_count = object_count + excluded.object_count, "
                    "bytes_used = bytes_used + excluded.bytes_used",
                    (policy, containers, objects, size),
                )
            if source is not None and max_row >= 0:
                self.record_sync(conn, source, max_row, True)
        return changed

    @staticmethod
    def _merge_one(
        conn: sqlite3.Connection, item: ContainerRow, deltas: dict[int, list[int]]
    ) -> bool:
        old = conn.execute(
            f"SELECT {AccountDB.ROW_COLUMNS} FROM container WHERE deleted IN (0, 1) AND name = ?",
            (item.name,),
        ).fetchone()
        new = item
        if old is not None:
            prev = ContainerRow(*old)
            newer_stats = item.stats_timestamp > prev.stats_timestamp
            newer_put = item.put_timestamp > prev.put_timestamp
            new = ContainerRow(
                item.name,
                max(item.put_timestamp, prev.put_timestamp),
                max(item.delete_timestamp, prev.delete_timestamp),
                item.object_count if newer_stats else prev.object_count,
                item.bytes_used if newer_stats else prev.bytes_used,
                max(item.stats_timestamp, prev.stats_timestamp),
                item.storage_policy_index if newer_put else prev.storage_policy_index,
            )
            if _values(new) == _values(prev):
                return False
            conn.execute("DELETE FROM container WHERE ROWID = ?", (prev.row_id,))
            if not prev.deleted:
                _add(deltas, prev, -1)
        conn.execute(
            "INSERT INTO container (name, put_timestamp, delete_timestamp, object_count, "
            "bytes_used, stats_timestamp, deleted, storage_policy_index) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*_values(new)[:6], int(new.deleted), new.storage_policy_index),
        )
        if not new.deleted:
            _add(deltas, new, 1)
        return True

    def get_items_since(self, row_id: int, count: int) -> list[ContainerRow]:
        return [ContainerRow(*row) for row in self._rows_since(row_id, count)]

    # -- listing -----------------------------------------------------------------

    def list(
        self,
        prefix: str | None = None,
        delimiter: str | None = None,
        marker: str | None = None,
        end_marker: str | None = None,
        limit: int = 10000,
        reverse: bool = False,
    ) -> list[Entry]:
        """JSON-ready entries: ``{"name", "count", "bytes", "last_modified"}``,
        and ``{"subdir"}`` for roll-ups."""
        return self._list(
            f"SELECT name, object_count, bytes_used, {_LAST_MODIFIED} FROM container",
            _container_entry,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            end_marker=end_marker,
            limit=limit,
            reverse=reverse,
            path=None,
        )


def _values(row: ContainerRow) -> tuple[Any, ...]:
    return (
        row.name,
        row.put_timestamp,
        row.delete_timestamp,
        row.object_count,
        row.bytes_used,
        row.stats_timestamp,
        row.storage_policy_index,
    )


def _add(deltas: dict[int, list[int]], row: ContainerRow, sign: int) -> None:
    d = deltas.setdefault(row.storage_policy_index, [0, 0, 0])
    d[0] += sign
    d[1] += sign * row.object_count
    d[2] += sign * row.bytes_used


def _container_entry(row: tuple[Any, ...]) -> Entry:
    name, count, size, last_modified = row
    return {"name": name, "count": count, "bytes": size, "last_modified": last_modified}
