"""A container's database: its object listing, stats and metadata.

See :mod:`stratus.objectstore.drivers.database` for the file layout, durability and
replication design.  ``object_count`` and ``bytes_used`` live in the ``stat``
row and change with every merged row, in the same transaction: HEAD never
counts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, ClassVar

from stratus.objectstore.drivers.base import ContainerInfo, ObjectRow
from stratus.objectstore.drivers.database import COMMON_STAT, Database, last_modified_sql
from stratus.objectstore.drivers.listing import Entry
from stratus.objectstore.drivers.timestamp import Timestamp

# last_modified as Swift shows it, computed by SQLite from the normal timestamp.
_LAST_MODIFIED = last_modified_sql("created_at")


class ContainerDB(Database):
    TABLE: ClassVar[str] = "object"
    ROW_COLUMNS: ClassVar[str] = (
        "name, created_at, size, content_type, etag, deleted, storage_policy_index, ROWID"
    )
    SCHEMA: ClassVar[str] = f"""
CREATE TABLE object (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_object_deleted_name ON object (deleted, name);
CREATE TABLE stat (
    {COMMON_STAT},
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0,
    reported_put_timestamp TEXT NOT NULL DEFAULT '0',
    reported_delete_timestamp TEXT NOT NULL DEFAULT '0',
    reported_object_count INTEGER NOT NULL DEFAULT 0,
    reported_bytes_used INTEGER NOT NULL DEFAULT 0
);
"""

    @staticmethod
    def stat_of(
        account: str, container: str, put_timestamp: Timestamp, storage_policy_index: int = 0
    ) -> dict[str, Any]:
        return Database.new_stat(
            account, put_timestamp, container=container, storage_policy_index=storage_policy_index
        )

    @classmethod
    def create(
        cls,
        path: str,
        account: str,
        container: str,
        put_timestamp: Timestamp,
        storage_policy_index: int = 0,
    ) -> ContainerDB:
        """Create the database, or open it if another request just did."""
        stat = cls.stat_of(account, container, put_timestamp, storage_policy_index)
        return cls.create_file(path, stat, put_timestamp)

    def info(self) -> ContainerInfo:
        values = self.stat_as(
            "account, container, created_at, put_timestamp, delete_timestamp, "
            "status_changed_at, id, object_count, bytes_used, storage_policy_index"
        )
        return ContainerInfo(**values, max_row=self.max_row())

    def set_storage_policy(self, policy: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE stat SET storage_policy_index = ?", (policy,))

    def is_empty(self) -> bool:
        return int(self.stat("object_count")[0]) == 0

    # -- rows ------------------------------------------------------------------

    def put_object(
        self,
        name: str,
        timestamp: Timestamp,
        size: int,
        content_type: str,
        etag: str,
        storage_policy_index: int = 0,
    ) -> bool:
        """Record an object; False if a newer row already stands."""
        row = ObjectRow(
            name, timestamp.internal, size, content_type, etag, False, storage_policy_index
        )
        return self.merge_items([row]) == 1

    def delete_object(self, name: str, timestamp: Timestamp, storage_policy_index: int = 0) -> bool:
        """Record a deletion; False if a newer row already stands."""
        row = ObjectRow(name, timestamp.internal, 0, "", "", True, storage_policy_index)
        return self.merge_items([row]) == 1

    def merge_items(self, items: Iterable[ObjectRow], source: str | None = None) -> int:
        """Apply rows (updates, or another replica's ``get_items_since``) in one
        transaction; per name the newer ``created_at`` wins, a deletion wins a
        tie.  With ``source``, remember how far its rows were merged.  Returns
        how many rows changed the listing."""
        changed = count_delta = bytes_delta = 0
        max_row = -1
        with self.transaction() as conn:
            for item in items:
                max_row = max(max_row, item.row_id)
                delta = self._merge_one(conn, item)
                if delta is not None:
                    changed += 1
                    count_delta += delta[0]
                    bytes_delta += delta[1]
            if count_delta or bytes_delta:
                conn.execute(
                    "UPDATE stat SET object_count = object_count + ?, bytes_used = bytes_used + ?",
                    (count_delta, bytes_delta),
                )
            if source is not None and max_row >= 0:
                self.record_sync(conn, source, max_row, True)
        return changed

    @staticmethod
    def _merge_one(conn: sqlite3.Connection, item: ObjectRow) -> tuple[int, int] | None:
        old = conn.execute(
            "SELECT ROWID, created_at, size, deleted FROM object "
            "WHERE deleted IN (0, 1) AND name = ?",
            (item.name,),
        ).fetchone()
        count = size = 0
        if old is not None:
            old_id, old_created, old_size, old_deleted = old
            if item.created_at < old_created or (
                item.created_at == old_created and int(item.deleted) <= old_deleted
            ):
                return None
            conn.execute("DELETE FROM object WHERE ROWID = ?", (old_id,))
            if not old_deleted:
                count, size = -1, -old_size
        conn.execute(
            "INSERT INTO object (name, created_at, size, content_type, etag, deleted, "
            "storage_policy_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                item.name,
                item.created_at,
                item.size,
                item.content_type,
                item.etag,
                int(item.deleted),
                item.storage_policy_index,
            ),
        )
        if not item.deleted:
            count, size = count + 1, size + item.size
        return count, size

    def get_items_since(self, row_id: int, count: int) -> list[ObjectRow]:
        """Rows changed after ``row_id`` (a sync point), oldest change first."""
        return [
            ObjectRow(n, c, s, t, e, bool(d), p, r)
            for n, c, s, t, e, d, p, r in self._rows_since(row_id, count)
        ]

    def row(self, name: str) -> ObjectRow | None:
        """The listing's row of one object (a deletion too), or None."""
        with self.lock:
            found = self.conn.execute(
                f"SELECT {self.ROW_COLUMNS} FROM object WHERE deleted IN (0, 1) AND name = ?",
                (name,),
            ).fetchone()
        if found is None:
            return None
        n, c, s, t, e, d, p, r = found
        return ObjectRow(n, c, s, t, e, bool(d), p, r)

    # -- reporting to the account ------------------------------------------------

    def unreported(self) -> dict[str, Any] | None:
        """What to send to the account, if it changed since ``mark_reported()``."""
        row = self.stat(
            "put_timestamp, delete_timestamp, object_count, bytes_used, storage_policy_index, "
            "reported_put_timestamp, reported_delete_timestamp, reported_object_count, "
            "reported_bytes_used"
        )
        if row[:4] == row[5:]:
            return None
        keys = ("put_timestamp", "delete_timestamp", "object_count", "bytes_used")
        return dict(zip(keys + ("storage_policy_index",), row[:5], strict=True))

    def mark_reported(self, report: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE stat SET reported_put_timestamp = ?, reported_delete_timestamp = ?, "
                "reported_object_count = ?, reported_bytes_used = ?",
                (
                    report["put_timestamp"],
                    report["delete_timestamp"],
                    report["object_count"],
                    report["bytes_used"],
                ),
            )

    # -- listing -----------------------------------------------------------------

    def list(
        self,
        prefix: str | None = None,
        delimiter: str | None = None,
        marker: str | None = None,
        end_marker: str | None = None,
        limit: int = 10000,
        reverse: bool = False,
        path: str | None = None,
    ) -> list[Entry]:
        """JSON-ready entries: ``{"hash", "last_modified", "bytes", "name",
        "content_type"}`` for objects, ``{"subdir"}`` for roll-ups."""
        return self._list(
            f"SELECT name, etag, {_LAST_MODIFIED}, size, content_type FROM object",
            _object_entry,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            end_marker=end_marker,
            limit=limit,
            reverse=reverse,
            path=path,
        )


def _object_entry(row: tuple[Any, ...]) -> Entry:
    name, etag, last_modified, size, content_type = row
    return {
        "hash": etag,
        "last_modified": last_modified,
        "bytes": size,
        "name": name,
        "content_type": content_type,
    }
