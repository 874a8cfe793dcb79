"""What container and account databases share: files, durability, metadata,
replication bookkeeping and the Swift listing walk.

One SQLite file per container (and per account), on the devices the ring gives
for its name: ``DEVICE/containers/<part>/<suffix>/<hash>/<hash>.db``.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``.  In WAL mode FULL
costs one fsync of the WAL per *commit* (the main file is only synced at
checkpoints), and a commit that has returned survives power loss -- the same
promise as the object's data.  NORMAL would skip that fsync and could lose the
last commits on power loss, so a listing could silently miss an acknowledged
object; the updater could not know to resend it.  The fsync is amortised
instead: ``merge_items()`` applies any number of rows in one transaction, so a
container server that queues concurrent updates and commits them together
(group commit) pays one fsync per batch, not per object.

Rows are never updated in place: a change deletes the old row and inserts the
new one, so ``ROWID`` (AUTOINCREMENT, never reused) orders changes, and a
replica asks for ``get_items_since(sync_point)``.  Deletes are rows with
``deleted = 1`` until reclaimed.  One index, ``(deleted, name)``, serves both
the listing (a range scan of ``deleted = 0``) and lookups by name
(``deleted IN (0, 1) AND name = ?``).  Names are TEXT; SQLite's BINARY
collation compares their UTF-8 bytes, which is Swift's order.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Self

import orjson

from stratus.objectstore.drivers.base import DatabaseNotFound
from stratus.objectstore.drivers.listing import Entry, ListingQuery, walk
from stratus.objectstore.drivers.timestamp import Timestamp

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -4096",  # KiB
)
BUSY_TIMEOUT = 25.0

COMMON_STAT = """
    account TEXT NOT NULL,
    container TEXT,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL DEFAULT '0000000000.00000',
    id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
"""
SYNC_SCHEMA = """
CREATE TABLE sync (
    remote_id TEXT NOT NULL,
    incoming INTEGER NOT NULL,
    sync_point INTEGER NOT NULL,
    PRIMARY KEY (remote_id, incoming)
);
"""


def db_path(device_root: str, kind: str, partition: int, name_hash: str) -> str:
    """``kind`` is ``"containers"`` or ``"accounts"``."""
    return os.path.join(
        device_root, kind, str(partition), name_hash[-3:], name_hash, name_hash + ".db"
    )


class Database:
    """A container or account database (see the subclasses)."""

    TABLE: ClassVar[str]
    SCHEMA: ClassVar[str]
    ROW_COLUMNS: ClassVar[str]  # what get_items_since() reads, ROWID last

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.lock = threading.RLock()

    # -- files -----------------------------------------------------------------

    @classmethod
    def _connect(cls, path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        for pragma in PRAGMAS:
            conn.execute(pragma)
        return conn

    @classmethod
    def open(cls, path: str) -> Self:
        if not os.path.exists(path):
            raise DatabaseNotFound(path)
        return cls(path, cls._connect(path))

    @staticmethod
    def new_stat(account: str, put_timestamp: Timestamp, **more: Any) -> dict[str, Any]:
        """The ``stat`` row of a new database (``more``: the kind's own columns)."""
        ts = put_timestamp.internal
        return {
            "account": account,
            "created_at": Timestamp.now().internal,
            "put_timestamp": ts,
            "status_changed_at": ts,
            "id": str(uuid.uuid4()),
            **more,
        }

    @classmethod
    def _init(cls, conn: sqlite3.Connection, stat: dict[str, Any]) -> None:
        """The schema and the ``stat`` row, in an empty database."""
        conn.executescript(cls.SCHEMA + SYNC_SCHEMA)
        columns = ", ".join(stat)
        marks = ", ".join("?" * len(stat))
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO stat ({columns}) VALUES ({marks})", tuple(stat.values()))
        conn.execute("COMMIT")

    @classmethod
    def create_file(cls, path: str, stat: dict[str, Any], put_timestamp: Timestamp) -> Self:
        """Create the database, or open it if another request just did (its
        put timestamp renewed).  The file is built aside and renamed in, so
        no half-made database is ever seen."""
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = FULL")
            cls._init(conn, stat)
        finally:
            conn.close()
        try:
            os.link(tmp, path)  # fails if another creator won
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        db = cls.open(path)
        db.set_put_timestamp(put_timestamp)  # when another creator won
        return db

    @classmethod
    def in_memory(cls, path: str, stat: dict[str, Any]) -> Self:
        """The same database kept in memory (the fake driver's)."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        cls._init(conn, stat)
        return cls(path, conn)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def stat(self, columns: str) -> tuple[Any, ...]:
        """Columns of the ``stat`` row (``"a, b"``)."""
        with self.lock:
            row = self.conn.execute(f"SELECT {columns} FROM stat").fetchone()
        return tuple(row)

    def stat_as(self, columns: str) -> dict[str, Any]:
        return dict(zip(columns.split(", "), self.stat(columns), strict=True))

    # -- own timestamps ----------------------------------------------------------

    def set_put_timestamp(self, timestamp: Timestamp) -> None:
        """A (re-)PUT of the container or account itself; newer wins."""
        ts = timestamp.internal
        with self.transaction() as conn:
            conn.execute(
                "UPDATE stat SET put_timestamp = ?, status_changed_at = ? WHERE put_timestamp < ?",
                (ts, ts, ts),
            )

    def set_delete_timestamp(self, timestamp: Timestamp) -> None:
        """A DELETE of the container or account itself; newer wins."""
        ts = timestamp.internal
        with self.transaction() as conn:
            conn.execute(
                "UPDATE stat SET delete_timestamp = ?, status_changed_at = ? "
                "WHERE delete_timestamp < ?",
                (ts, ts, ts),
            )

    # -- metadata ----------------------------------------------------------------

    def metadata_timestamps(self) -> dict[str, tuple[str, str]]:
        """Every key with its value and timestamp, deletions ("" values) included."""
        (raw,) = self.stat("metadata")
        return {k: (v[0], v[1]) for k, v in json.loads(raw).items()}

    def get_metadata(self) -> dict[str, str]:
        return {k: v for k, (v, _) in self.metadata_timestamps().items() if v != ""}

    def update_metadata(self, updates: dict[str, tuple[str, Timestamp | str]]) -> None:
        """Set keys (an empty value deletes); per key, the newer timestamp wins."""
        with self.transaction() as conn:
            (raw,) = conn.execute("SELECT metadata FROM stat").fetchone()
            current = json.loads(raw)
            changed = False
            for key, (value, ts) in updates.items():
                ts = Timestamp(ts).internal
                if key not in current or current[key][1] < ts:
                    current[key] = [value, ts]
                    changed = True
            if changed:
                conn.execute("UPDATE stat SET metadata = ?", (json.dumps(current),))

    # -- replication -------------------------------------------------------------

    def max_row(self) -> int:
        with self.lock:
            row = self.conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (self.TABLE,)
            ).fetchone()
        return int(row[0]) if row else 0

    def get_sync(self, remote_id: str, incoming: bool = True) -> int:
        """How far this database has merged (incoming) or pushed (outgoing)
        the rows of ``remote_id``; -1 if never."""
        with self.lock:
            row = self.conn.execute(
                "SELECT sync_point FROM sync WHERE remote_id = ? AND incoming = ?",
                (remote_id, int(incoming)),
            ).fetchone()
        return int(row[0]) if row else -1

    def set_sync(self, remote_id: str, sync_point: int, incoming: bool = True) -> None:
        with self.transaction() as conn:
            self.record_sync(conn, remote_id, sync_point, incoming)

    @staticmethod
    def record_sync(conn: sqlite3.Connection, remote_id: str, point: int, incoming: bool) -> None:
        """Within a transaction: how far ``remote_id``'s rows are merged (or pushed)."""
        conn.execute(
            "INSERT INTO sync (remote_id, incoming, sync_point) VALUES (?, ?, ?) "
            "ON CONFLICT (remote_id, incoming) DO UPDATE SET sync_point = "
            "max(sync_point, excluded.sync_point)",
            (remote_id, int(incoming), point),
        )

    def _rows_since(self, row_id: int, count: int) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.conn.execute(
                f"SELECT {self.ROW_COLUMNS} FROM {self.TABLE} WHERE ROWID > ? "
                "ORDER BY ROWID LIMIT ?",
                (row_id, count),
            ).fetchall()

    def reclaim(self, before: Timestamp) -> int:
        """Forget deleted rows older than ``before`` (the reclaim age)."""
        with self.transaction() as conn:
            cur = conn.execute(
                f"DELETE FROM {self.TABLE} WHERE deleted = 1 AND {self._row_time} < ?",
                (before.internal,),
            )
        return cur.rowcount

    _row_time: ClassVar[str] = "created_at"

    # -- listing -----------------------------------------------------------------

    def _list(
        self,
        select: str,
        to_entry: Callable[[tuple[Any, ...]], Entry],
        *,
        prefix: str | None,
        delimiter: str | None,
        marker: str | None,
        end_marker: str | None,
        limit: int,
        reverse: bool,
        path: str | None,
    ) -> list[Entry]:
        """Swift's listing of this database's rows (see :mod:`.listing`)."""
        query = ListingQuery(prefix, delimiter, marker, end_marker, limit, reverse, path)
        return walk(self.conn, self.lock, select, to_entry, query)


def last_modified_sql(column: str) -> str:
    """SQL for Swift's ``last_modified`` (``2026-01-02T03:04:05.123450``)
    of a normal timestamp column."""
    return (
        f"strftime('%Y-%m-%dT%H:%M:%S', CAST(substr({column}, 1, 10) AS INTEGER), 'unixepoch')"
        f" || '.' || substr({column}, 12, 5) || '0'"
    )


def listing_json(rows: Sequence[Entry]) -> bytes:
    """A listing as Swift's JSON body (UTF-8, unescaped)."""
    return orjson.dumps(rows)
