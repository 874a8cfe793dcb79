"""The node's side of database replication (containers and accounts).

Requests go to ``/<dev>/<part>/containers/<hash>`` (or ``accounts``) with
``X-Backend-Replicate``:

- ``db-sync``: the sender's state as JSON (``id``, ``max_row``, its put and
  delete timestamps and its metadata with their timestamps).  404 when this
  node has no such database.  Otherwise the timestamps and metadata are
  merged here (newer wins) and the answer is JSON: this database's ``id``,
  ``max_row`` and ``point``, how far it has merged the sender's rows (its
  incoming sync point for the sender's id; -1 if never).
- ``db-merge``: msgpack ``{"source": id, "rows": [[...], ...]}``: rows from
  the sender's ``get_items_since``, merged in one transaction; the incoming
  sync point for ``source`` moves to the last row.
- ``db-file``: the sender's whole database as the body (a consistent copy
  made with SQLite's backup), with ``X-Backend-Db-Id``.  When this node has
  none, the copy becomes this replica (with an id of its own, having merged
  everything of the sender's); otherwise its rows are merged here, as when a
  replica is far behind.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgpack
import orjson

from stratus.objectstore.drivers.accountdb import AccountDB
from stratus.objectstore.drivers.base import ContainerRow, DatabaseNotFound, ObjectRow
from stratus.objectstore.drivers.containerdb import ContainerDB
from stratus.objectstore.drivers.database import Database, db_path
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.replies import NodeError, reply

if TYPE_CHECKING:
    from stratus.objectstore.node.context import NodeContext
    from stratus.objectstore.node.protocol import NodeRequest, NodeResponse

KINDS: dict[str, tuple[type[Database], type[Any]]] = {
    "containers": (ContainerDB, ObjectRow),
    "accounts": (AccountDB, ContainerRow),
}
KIND_OF = {cls: kind for kind, (cls, _rows) in KINDS.items()}
DB_ID = "x-backend-db-id"
MERGE_BATCH = 1000


def db_state(db: Database) -> dict[str, Any]:
    """What ``db-sync`` sends: the database's id, rows and own timestamps."""
    put_ts, delete_ts, db_id = db.stat("put_timestamp, delete_timestamp, id")
    return {
        "id": db_id,
        "max_row": db.max_row(),
        "put_timestamp": put_ts,
        "delete_timestamp": delete_ts,
        "metadata": db.metadata_timestamps(),
    }


def merge_state(db: Database, state: dict[str, Any]) -> dict[str, Any]:
    """Apply a sender's timestamps and metadata here; this side's answer."""
    db.set_put_timestamp(Timestamp(state["put_timestamp"]))
    db.set_delete_timestamp(Timestamp(state["delete_timestamp"]))
    meta = {str(k): (str(v[0]), str(v[1])) for k, v in state.get("metadata", {}).items()}
    if meta:
        db.update_metadata(meta)  # type: ignore[arg-type]
    (db_id,) = db.stat("id")
    return {"id": db_id, "max_row": db.max_row(), "point": db.get_sync(str(state["id"]))}


def rows_to_wire(rows: list[Any]) -> list[list[Any]]:
    return [list(dataclasses.astuple(r)) for r in rows]


def snapshot(db: Database, dest: str) -> None:
    """A consistent copy of ``db`` at ``dest`` (the WAL's commits included)."""
    out = sqlite3.connect(dest)
    try:
        with db.lock:
            db.conn.backup(out)
    finally:
        out.close()


class DatabaseSync:
    def __init__(self, node: NodeContext) -> None:
        self.node = node

    async def handle(self, req: NodeRequest, root: str, op: str) -> NodeResponse:
        kind = req.account
        name_hash = req.container or ""
        if len(name_hash) != 32 or any(c not in "0123456789abcdef" for c in name_hash):
            raise NodeError(400, "Bad database hash")
        cls, row_cls = KINDS[kind]
        path = db_path(root, kind, req.partition, name_hash)
        if op == "db-sync":
            state = orjson.loads(await _read(req.body))
            answer = await self.node.run(self._sync, path, cls, state)
            return reply(200, {"content-type": "application/json"}, orjson.dumps(answer))
        if op == "db-merge":
            data = msgpack.unpackb(await _read(req.body), raw=False)
            rows = [row_cls(*r) for r in data["rows"]]
            await self.node.run(self._merge, path, cls, rows, str(data["source"]))
            return reply(204)
        if op == "db-file":
            source = req.headers.get(DB_ID, "")
            if not source:
                raise NodeError(400, f"Missing {DB_ID}")
            tmp = os.path.join(root, "tmp", f"db.{uuid.uuid4().hex}")
            await self.node.run(os.makedirs, os.path.dirname(tmp), 0o755, True)
            try:
                await self._save(req.body, tmp)
                installed = await self.node.run(self._install, path, cls, tmp, source)
            finally:
                await self.node.run(_unlink_db, tmp)
            return reply(201 if installed else 202)
        raise NodeError(400, f"Unknown replication op {op!r}")

    def _open(self, path: str, cls: type[Database]) -> Any:
        try:
            return self.node.dbs.of_kind(path, KIND_OF[cls])
        except DatabaseNotFound:
            raise NodeError(404) from None

    def _sync(self, path: str, cls: type[Database], state: dict[str, Any]) -> dict[str, Any]:
        return merge_state(self._open(path, cls), state)

    def _merge(self, path: str, cls: type[Database], rows: list[Any], source: str) -> None:
        db = self._open(path, cls)
        db.merge_items(rows, source=source)  # type: ignore[attr-defined]

    async def _save(self, body: AsyncIterator[bytes] | None, tmp: str) -> None:
        fd = await self.node.run(os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            if body is not None:
                async for chunk in body:
                    await self.node.run(_write_all, fd, chunk)
            await self.node.run(os.fsync, fd)
        finally:
            os.close(fd)

    def _install(self, path: str, cls: type[Database], tmp: str, source: str) -> bool:
        """Make the copy this replica (True), or merge it into the one here."""
        copy = cls.open(tmp)
        try:
            max_row = copy.max_row()
            if os.path.exists(path):
                db = self._open(path, cls)
                merge_state(db, db_state(copy))
                point = db.get_sync(source)
                while rows := copy.get_items_since(point, MERGE_BATCH):  # type: ignore[attr-defined]
                    db.merge_items(rows, source=source)  # type: ignore[attr-defined]
                    point = rows[-1].row_id
                return False
            with copy.transaction() as conn:
                conn.execute("UPDATE stat SET id = ?", (str(uuid.uuid4()),))
                conn.execute("DELETE FROM sync WHERE incoming = 0")
                Database.record_sync(conn, source, max_row, True)
            copy.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            copy.close()
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return self._install(path, cls, tmp, source)  # raced with a creator: merge
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


async def _read(body: AsyncIterator[bytes] | None) -> bytes:
    if body is None:
        return b""
    return b"".join([chunk async for chunk in body])
