"""The container server: container databases, their listings and metadata,
the object rows sent by object servers, and reports to the account.

- ``PUT`` creates the database (201) or renews its put timestamp (202);
  ``DELETE`` marks it deleted when empty (409 otherwise); both then report
  the container to the account replicas named by ``X-Account-*``.
- ``HEAD``/``GET`` answer stats and metadata headers, and a JSON listing.
- Object rows (``x-backend-server: container``) go through a group commit
  per database.  When a batch changes the stats, a report to the account
  replicas (from the account ring, else the last ``X-Account-*`` seen) follows
  ``report_delay`` later, once for everything that changed meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stratus.objectstore.drivers.base import ContainerDatabase, DatabaseNotFound, ObjectRow
from stratus.objectstore.drivers.database import db_path, listing_json
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.databases import GroupCommit
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.node.replies import NodeError, int_of, policy_of, reply, timestamp_of
from stratus.objectstore.node.updates import Target, Update, targets_from

if TYPE_CHECKING:
    from stratus.objectstore.node.context import NodeContext

META_KEYS = (
    "x-container-meta-",
    "x-container-sysmeta-",
    "x-container-read",
    "x-container-write",
    "x-container-sync-",
    "x-versions-location",
    "x-history-location",
)
LISTING_LIMIT = 10000
JSON = "application/json; charset=utf-8"
TRUE = {"true", "1", "yes", "on", "t", "y"}


def metadata_updates(
    headers: dict[str, str], keys: tuple[str, ...], ts: Timestamp
) -> dict[str, tuple[str, Timestamp | str]]:
    """Metadata headers as ``update_metadata()`` takes them (empty deletes)."""
    return {k: (v, ts) for k, v in headers.items() if k.startswith(keys)}


def listing_query(query: dict[str, str]) -> dict[str, Any]:
    """The listing parameters of a request, checked as Swift checks them (412)."""
    try:
        limit = int(query.get("limit", LISTING_LIMIT))
    except ValueError:
        raise NodeError(412, "Bad limit") from None
    if limit < 0 or limit > LISTING_LIMIT:
        raise NodeError(412, f"Maximum limit is {LISTING_LIMIT}")
    args: dict[str, Any] = {"limit": limit}
    for key in ("prefix", "delimiter", "marker", "end_marker"):
        value = query.get(key)
        if value:
            if "\x00" in value:
                raise NodeError(412, f"Bad {key}")
            args[key] = value
    args["reverse"] = query.get("reverse", "").lower() in TRUE
    return args


class ContainerServer:
    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self.report_delay = 0.05
        self._commits: dict[str, GroupCommit[int]] = {}
        self._reports: dict[str, asyncio.Future[None]] = {}
        self._account_targets: dict[str, list[Target]] = {}

    def _db_path(self, req: NodeRequest, root: str) -> tuple[str, str]:
        assert req.container is not None
        name_hash = self.node.hash(req.account, req.container)
        return db_path(root, "containers", req.partition, name_hash), name_hash

    def _open(self, path: str) -> ContainerDatabase:
        try:
            return self.node.dbs.container(path)
        except DatabaseNotFound:
            raise NodeError(404) from None

    async def handle(self, req: NodeRequest, root: str) -> NodeResponse:
        method = req.method
        if method in ("GET", "HEAD"):
            return await self.get(req, root, method == "HEAD")
        if method == "PUT":
            return await self.put(req, root)
        if method == "POST":
            return await self.post(req, root)
        if method == "DELETE":
            return await self.delete(req, root)
        raise NodeError(405, f"{method} not allowed", {"allow": "GET, HEAD, PUT, POST, DELETE"})

    # -- the container itself ----------------------------------------------------

    async def put(self, req: NodeRequest, root: str) -> NodeResponse:
        ts = timestamp_of(req.headers)
        path, name_hash = self._db_path(req, root)
        policy = policy_of(req.headers) if "x-backend-storage-policy-index" in req.headers else None
        default = int_of(req.headers, "x-backend-storage-policy-default")
        meta = metadata_updates(req.headers, META_KEYS, ts)
        assert req.container is not None
        created = await self.node.run(
            self._put, path, req.account, req.container, ts, policy, default, meta
        )
        statuses = await self._report_now(req, root, path, name_hash)
        if statuses and 404 in statuses and not any(s and s // 100 == 2 for s in statuses):
            return reply(404, body=b"Account not found")
        return reply(201 if created else 202, {"x-timestamp": ts.internal})

    def _put(
        self,
        path: str,
        account: str,
        container: str,
        ts: Timestamp,
        policy: int | None,
        default: int,
        meta: dict[str, tuple[str, Timestamp | str]],
    ) -> bool:
        try:
            db = self.node.dbs.container(path)
        except DatabaseNotFound:
            chosen = default if policy is None else policy
            db = self.node.dbs.create_container(path, account, container, ts, chosen)
            created = True
        else:
            info = db.info()
            if policy is not None and policy != info.storage_policy_index:
                if not (info.deleted and ts > Timestamp(info.delete_timestamp)):
                    raise NodeError(
                        409,
                        "Storage policy differs",
                        {"x-backend-storage-policy-index": str(info.storage_policy_index)},
                    )
                db.set_storage_policy(policy)
            db.set_put_timestamp(ts)
            created = info.deleted and not db.info().deleted
        if meta:
            db.update_metadata(meta)
        return created

    async def get(self, req: NodeRequest, root: str, head: bool) -> NodeResponse:
        path, _ = self._db_path(req, root)
        args = None
        if not head:
            args = listing_query(req.query)
            if "path" in req.query:
                args["path"] = req.query["path"]
        headers, body = await self.node.run(self._read, path, args)
        if head:
            return reply(204, headers)
        headers["content-type"] = JSON
        return reply(200, headers, body)

    def _read(self, path: str, args: dict[str, Any] | None) -> tuple[dict[str, str], bytes]:
        db = self._open(path)
        info = db.info()
        headers = {
            "x-container-object-count": str(info.object_count),
            "x-container-bytes-used": str(info.bytes_used),
            "x-timestamp": info.created_at,
            "x-put-timestamp": info.put_timestamp,
            "x-backend-put-timestamp": info.put_timestamp,
            "x-backend-delete-timestamp": info.delete_timestamp,
            "x-backend-status-changed-at": info.status_changed_at,
            "x-backend-storage-policy-index": str(info.storage_policy_index),
        }
        if info.deleted:
            raise NodeError(404, "", headers)
        headers.update(db.get_metadata())
        body = listing_json(db.list(**args)) if args is not None else b""
        return headers, body

    async def post(self, req: NodeRequest, root: str) -> NodeResponse:
        ts = timestamp_of(req.headers)
        path, _ = self._db_path(req, root)
        meta = metadata_updates(req.headers, META_KEYS, ts)
        await self.node.run(self._post, path, meta)
        return reply(204, {"x-timestamp": ts.internal})

    def _post(self, path: str, meta: dict[str, tuple[str, Timestamp | str]]) -> None:
        db = self._open(path)
        if db.info().deleted:
            raise NodeError(404)
        if meta:
            db.update_metadata(meta)

    async def delete(self, req: NodeRequest, root: str) -> NodeResponse:
        ts = timestamp_of(req.headers)
        path, name_hash = self._db_path(req, root)
        await self.node.run(self._delete, path, ts)
        await self._report_now(req, root, path, name_hash)
        return reply(204, {"x-timestamp": ts.internal})

    def _delete(self, path: str, ts: Timestamp) -> None:
        db = self._open(path)
        info = db.info()
        if info.deleted:
            raise NodeError(404, "", {"x-backend-delete-timestamp": info.delete_timestamp})
        if info.object_count:
            raise NodeError(409, "There are objects in the container")
        if Timestamp(info.put_timestamp) >= ts:
            raise NodeError(409, "", {"x-backend-put-timestamp": info.put_timestamp})
        db.set_delete_timestamp(ts)

    # -- object rows -------------------------------------------------------------

    async def handle_row(self, req: NodeRequest, root: str) -> NodeResponse:
        assert req.obj is not None
        headers = req.headers
        ts = timestamp_of(headers)
        policy = policy_of(headers)
        if req.method == "PUT":
            row = ObjectRow(
                req.obj,
                ts.internal,
                int_of(headers, "x-size"),
                headers.get("x-content-type", ""),
                headers.get("x-etag", ""),
                False,
                policy,
            )
        elif req.method == "DELETE":
            row = ObjectRow(req.obj, ts.internal, 0, "", "", True, policy)
        else:
            raise NodeError(405, f"{req.method} not allowed for a row")
        path, name_hash = self._db_path(req, root)
        commit = self._commits.get(path)
        if commit is None:
            commit = self._group_commit(req, root, path, name_hash)
        await commit.add(row)
        return reply(201 if req.method == "PUT" else 204)

    def _group_commit(
        self, req: NodeRequest, root: str, path: str, name_hash: str
    ) -> GroupCommit[int]:
        assert req.container is not None
        account, container = req.account, req.container

        def apply(rows: Sequence[ObjectRow]) -> int:
            return self._open(path).merge_items(rows)

        def done(changed: int) -> None:
            if changed:
                self._report_soon(root, path, name_hash, account, container)

        if len(self._commits) > 10000:
            self._commits = {p: c for p, c in self._commits.items() if not c.idle}
        commit: GroupCommit[int] = GroupCommit(apply, self.node.run, done)
        self._commits[path] = commit
        return commit

    # -- reports to the account ----------------------------------------------------

    async def _report_now(
        self, req: NodeRequest, root: str, path: str, name_hash: str
    ) -> list[int | None]:
        targets = targets_from(req.headers, "account")
        if targets:
            self._account_targets[path] = targets
        assert req.container is not None
        return await self._report(root, path, name_hash, req.account, req.container, targets)

    def _report_soon(
        self, root: str, path: str, name_hash: str, account: str, container: str
    ) -> None:
        if path in self._reports:
            return
        self._reports[path] = asyncio.ensure_future(
            self._report_later(root, path, name_hash, account, container)
        )

    async def _report_later(
        self, root: str, path: str, name_hash: str, account: str, container: str
    ) -> None:
        try:
            await asyncio.sleep(self.report_delay)
        finally:
            self._reports.pop(path, None)
        await self.report(root, path, name_hash, account, container)

    async def report(
        self, root: str, path: str, name_hash: str, account: str, container: str
    ) -> list[int | None]:
        """Send the container's stats to the account replicas if the account
        has not seen them (the reporter worker resends after a crash)."""
        ring = self.node.ring("account.ring.gz")
        if ring is not None:
            part = ring.partition(account)
            targets = [Target(d.ip, d.port, d.device, part) for d in ring.nodes(part)]
        else:
            targets = self._account_targets.get(path, [])
        return await self._report(root, path, name_hash, account, container, targets)

    async def _report(
        self,
        root: str,
        path: str,
        name_hash: str,
        account: str,
        container: str,
        targets: list[Target],
    ) -> list[int | None]:
        if not targets:
            return []
        report = await self.node.run(lambda: self._open(path).unreported())
        if report is None:
            return []
        stats_ts = Timestamp.now().internal
        headers = {
            "x-put-timestamp": report["put_timestamp"],
            "x-delete-timestamp": report["delete_timestamp"],
            "x-object-count": str(report["object_count"]),
            "x-bytes-used": str(report["bytes_used"]),
            "x-stats-timestamp": stats_ts,
            "x-backend-storage-policy-index": str(report["storage_policy_index"]),
        }
        update = Update("account", "PUT", account, container, None, headers, stats_ts, targets)
        statuses = await self.node.updater.send(root, name_hash, update)
        if all(s is not None and s // 100 == 2 for s in statuses):
            await self.node.run(lambda: self._open(path).mark_reported(report))
        return statuses

    async def drain(self) -> None:
        """Wait for the group commits and the reports scheduled so far."""
        while self._reports or any(not c.idle for c in self._commits.values()):
            await asyncio.gather(*list(self._reports.values()), return_exceptions=True)
            await asyncio.sleep(0.001)
