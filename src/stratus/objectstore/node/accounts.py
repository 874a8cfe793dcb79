"""The account server: account databases, their container listings, stats and
metadata, and the container rows reported by container servers.

Stats headers: ``X-Account-Container-Count``, ``-Object-Count``,
``-Bytes-Used``, and per storage policy *index* (the proxy maps indexes to
names) ``X-Account-Storage-Policy-<index>-Container-Count`` and so on.  A
container report for an account with no database creates it (account
autocreate); a deleted account refuses them (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stratus.objectstore.drivers.base import ZERO, AccountDatabase, ContainerRow, DatabaseNotFound
from stratus.objectstore.drivers.database import db_path, listing_json
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.containers import JSON, listing_query, metadata_updates
from stratus.objectstore.node.databases import GroupCommit
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.node.replies import NodeError, int_of, policy_of, reply, timestamp_of

if TYPE_CHECKING:
    from stratus.objectstore.node.context import NodeContext

META_KEYS = ("x-account-meta-", "x-account-sysmeta-", "x-account-access-control")


class AccountServer:
    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self._commits: dict[str, GroupCommit[int]] = {}

    def _db_path(self, req: NodeRequest, root: str) -> str:
        return db_path(root, "accounts", req.partition, self.node.hash(req.account))

    def _open(self, path: str) -> AccountDatabase:
        try:
            return self.node.dbs.account(path)
        except DatabaseNotFound:
            raise NodeError(404) from None

    async def handle(self, req: NodeRequest, root: str) -> NodeResponse:
        method = req.method
        if method in ("GET", "HEAD"):
            return await self.get(req, root, method == "HEAD")
        if method in ("PUT", "POST", "DELETE"):
            ts = timestamp_of(req.headers)
            path = self._db_path(req, root)
            if method == "PUT":
                meta = metadata_updates(req.headers, META_KEYS, ts)
                created = await self.node.run(self._put, path, req.account, ts, meta)
                return reply(201 if created else 202, {"x-timestamp": ts.internal})
            if method == "POST":
                meta = metadata_updates(req.headers, META_KEYS, ts)
                await self.node.run(self._post, path, meta)
            else:
                await self.node.run(self._delete, path, ts)
            return reply(204, {"x-timestamp": ts.internal})
        raise NodeError(405, f"{method} not allowed", {"allow": "GET, HEAD, PUT, POST, DELETE"})

    # -- the account itself ------------------------------------------------------

    def _put(
        self,
        path: str,
        account: str,
        ts: Timestamp,
        meta: dict[str, tuple[str, Timestamp | str]],
    ) -> bool:
        try:
            db = self.node.dbs.account(path)
        except DatabaseNotFound:
            db = self.node.dbs.create_account(path, account, ts)
            created = True
        else:
            was_deleted = db.info().deleted
            db.set_put_timestamp(ts)
            created = was_deleted and not db.info().deleted
            if was_deleted and not created:
                raise NodeError(409, "Recently deleted")
        if meta:
            db.update_metadata(meta)
        return created

    async def get(self, req: NodeRequest, root: str, head: bool) -> NodeResponse:
        path = self._db_path(req, root)
        args = None if head else listing_query(req.query)
        headers, body = await self.node.run(self._read, path, args)
        if head:
            return reply(204, headers)
        headers["content-type"] = JSON
        return reply(200, headers, body)

    def _read(self, path: str, args: dict[str, Any] | None) -> tuple[dict[str, str], bytes]:
        db = self._open(path)
        info = db.info()
        headers = {
            "x-account-container-count": str(info.container_count),
            "x-account-object-count": str(info.object_count),
            "x-account-bytes-used": str(info.bytes_used),
            "x-timestamp": info.created_at,
            "x-put-timestamp": info.put_timestamp,
            "x-backend-put-timestamp": info.put_timestamp,
            "x-backend-delete-timestamp": info.delete_timestamp,
            "x-backend-status-changed-at": info.status_changed_at,
        }
        if info.deleted:
            raise NodeError(404, "", {"x-account-status": "deleted", **headers})
        for index, stats in sorted(info.policies.items()):
            prefix = f"x-account-storage-policy-{index}-"
            headers[prefix + "container-count"] = str(stats.container_count)
            headers[prefix + "object-count"] = str(stats.object_count)
            headers[prefix + "bytes-used"] = str(stats.bytes_used)
        headers.update(db.get_metadata())
        body = listing_json(db.list(**args)) if args is not None else b""
        return headers, body

    def _post(self, path: str, meta: dict[str, tuple[str, Timestamp | str]]) -> None:
        db = self._open(path)
        if db.info().deleted:
            raise NodeError(404)
        if meta:
            db.update_metadata(meta)

    def _delete(self, path: str, ts: Timestamp) -> None:
        db = self._open(path)
        info = db.info()
        if info.deleted:
            raise NodeError(404)
        if Timestamp(info.put_timestamp) >= ts:
            raise NodeError(409, "", {"x-backend-put-timestamp": info.put_timestamp})
        db.set_delete_timestamp(ts)

    # -- container rows ------------------------------------------------------------

    async def handle_row(self, req: NodeRequest, root: str) -> NodeResponse:
        if req.method != "PUT":
            raise NodeError(405, f"{req.method} not allowed for a row")
        assert req.container is not None
        headers = req.headers
        put_ts = timestamp_of(headers, "x-put-timestamp")
        delete_ts = Timestamp(headers.get("x-delete-timestamp") or ZERO)
        stats_ts = headers.get("x-stats-timestamp")
        row = ContainerRow(
            req.container,
            put_ts.internal,
            delete_ts.internal,
            int_of(headers, "x-object-count"),
            int_of(headers, "x-bytes-used"),
            (Timestamp(stats_ts) if stats_ts else Timestamp.now()).internal,
            policy_of(headers),
        )
        path = self._db_path(req, root)
        commit = self._commits.get(path)
        if commit is None:
            account = req.account

            def apply(rows: Sequence[ContainerRow]) -> int:
                try:
                    db = self.node.dbs.account(path)
                except DatabaseNotFound:
                    db = self.node.dbs.create_account(path, account, Timestamp.now())
                if db.info().deleted:
                    raise NodeError(404, "Account deleted")
                return db.merge_items(rows)

            if len(self._commits) > 10000:
                self._commits = {p: c for p, c in self._commits.items() if not c.idle}
            commit = self._commits[path] = GroupCommit(apply, self.node.run)
        await commit.add(row)
        return reply(201)
