"""Container sync's sending side, as Swift's container-sync daemon: every
container of this node's devices that has ``X-Container-Sync-To`` and
``X-Container-Sync-Key`` sends its changes to the container it names.

Each pass reads the container's rows after its sync points (rows are never
changed in place, so ``ROWID`` orders the changes) and, for each row:

- a deletion is sent as a DELETE at the tombstone's time (404 and 409 there
  are fine: nothing to delete, or a newer object);
- an object is first looked up at the target (a HEAD): when the target's
  copy is as new, nothing is sent; else the object is read from the
  replicas (the quorum read, below every layer: a manifest is sent as the
  manifest it is) and PUT at the target with its metadata and its time.

Every request is signed as the target checks it (see
:mod:`stratus.objectstore.service.container_sync`).

With several replicas of the container, each replica's node first sends
only the rows whose name hashes to it (``hash % replicas == its index``):
``sync point 1`` says how far it read; ``sync point 2`` how far every row,
its own or not, is known to be sent, and a later pass sends again those
between the two (a target that already has them answers the HEAD with
their time, so that costs a HEAD each).  A row that fails keeps sync point 2
before it, so it is tried again next pass, and so is every row after it;
one that succeeds is never sent again.  The points are kept in the
container's database (its ``sync`` table, keyed by the target), written
after every batch of rows: a crash repeats at most that batch, and a new
target starts from the first row.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlparse

import httpx

from stratus.common import tls
from stratus.objectstore.agent.base import Worker
from stratus.objectstore.agent.dbreplicator import find_databases
from stratus.objectstore.drivers.base import DatabaseNotFound, ObjectRow
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import BadRequest
from stratus.objectstore.node.replies import NodeError
from stratus.objectstore.service.container_sync import (
    SYNC_AUTH,
    SYNC_KEY,
    SYNC_TO,
    Target,
    signature,
)
from stratus.objectstore.service.headers import KEPT
from stratus.objectstore.service.quorum import Proxy, close_body

if TYPE_CHECKING:
    from stratus.objectstore.drivers.base import ContainerDatabase
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

BATCH = 100  # rows read, and sync points written, at a time
CONTAINER_TIME = 60.0  # seconds one container may take in a pass
# What a synced copy takes from its source besides user metadata: what an
# object write keeps, and the large-object manifest as stored (the target
# takes it so).
_SENT = (*KEPT["object"], "x-static-large-object")


@dataclass
class SyncStats:
    containers: int = 0
    puts: int = 0
    deletes: int = 0
    skipped: int = 0  # the target's copy was as new
    failures: int = 0


@dataclass
class Synced:
    """One synced container's database and what its sync needs."""

    db: ContainerDatabase
    account: str
    container: str
    target: Target
    user_key: str
    ordinal: int
    replicas: int

    @property
    def point_names(self) -> tuple[str, str]:
        return f"container-sync-1:{self.target.url}", f"container-sync-2:{self.target.url}"


class ContainerSync(Worker):
    name = "container-sync"

    def __init__(self, node: StorageNode, *, timeout: float = 30.0) -> None:
        super().__init__(node, timeout=timeout)
        self.stats = SyncStats()
        self._http: httpx.AsyncClient | None = None

    # -- a pass ------------------------------------------------------------------

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = SyncStats()
        proxy = self._proxy()
        if proxy is None:
            return
        try:
            for local in self.devices():
                found = await self.node.run(find_databases, local.root, "containers")
                for _, _, path in found:
                    try:
                        synced = await self._synced(local.name, path)
                    except (DatabaseNotFound, NodeError):
                        continue  # removed meanwhile
                    if synced is None:
                        continue
                    self.stats.containers += 1
                    try:
                        await self.sync_container(proxy, synced)
                    except Exception:
                        self.stats.failures += 1
                        log.exception(
                            "%s: /%s/%s failed", self.name, synced.account, synced.container
                        )
        finally:
            if self._http is not None:
                await self._http.aclose()
                self._http = None
        self._passed(started)

    def _proxy(self) -> Proxy | None:
        rings = [self.ring(kind) for kind in ("account", "container", "object")]
        if any(r is None for r in rings):
            return None
        account, container, obj = rings
        assert account is not None and container is not None and obj is not None
        return Proxy(account, container, obj, self.node.client)

    async def _synced(self, device: str, path: str) -> Synced | None:
        """The container at ``path`` when it is synced and this node is one
        of its primaries; None otherwise."""
        node = self.node
        db = await node.run(node.dbs.container, path)
        meta = await node.run(db.get_metadata)
        sync_to, user_key = meta.get(SYNC_TO, ""), meta.get(SYNC_KEY, "")
        if not sync_to or not user_key:
            return None
        info = await node.run(db.info)
        if info.deleted:
            return None
        try:
            target = node.container_sync.target(sync_to)
        except BadRequest as exc:
            log.warning(
                "%s: /%s/%s: X-Container-Sync-To %r: %s",
                self.name,
                info.account,
                info.container,
                sync_to,
                exc,
            )
            return None
        ring = self.ring("container")
        if target is None or ring is None:
            return None
        _, _, primaries = ring.locate(info.account, info.container)
        ordinal = next((i for i, d in enumerate(primaries) if self.is_me(d, device)), None)
        if ordinal is None:
            return None  # a handoff copy: its primaries sync
        return Synced(
            db, info.account, info.container, target, user_key, ordinal, len(primaries)
        )

    async def sync_container(self, proxy: Proxy, synced: Synced) -> None:
        """Send what changed since the sync points; move them on."""
        node = self.node
        first_name, second_name = synced.point_names
        point1 = await node.run(synced.db.get_sync, first_name, False)
        point2 = await node.run(synced.db.get_sync, second_name, False)
        deadline = time.monotonic() + CONTAINER_TIME
        # Rows read before but not known to be sent: every replica's, again.
        retry_from: int | None = None
        while point2 < point1 and time.monotonic() < deadline:
            rows = [
                r
                for r in await node.run(synced.db.get_items_since, point2, BATCH)
                if r.row_id <= point1
            ]
            if not rows:
                break
            for row in rows:
                if not await self.sync_row(proxy, synced, row) and retry_from is None:
                    retry_from = point2
                point2 = row.row_id
            if retry_from is None:
                await node.run(synced.db.set_sync, second_name, point2, False)
        if retry_from is not None:
            await node.run(synced.db.set_sync, second_name, retry_from, False)
            point2 = retry_from
        # New rows: this replica's own.
        while time.monotonic() < deadline:
            rows = await node.run(synced.db.get_items_since, point1, BATCH)
            if not rows:
                break
            for row in rows:
                mine = self._mine(synced, row)
                ok = mine and await self.sync_row(proxy, synced, row)
                if ok and point2 == point1:
                    point2 = row.row_id  # every row so far is sent
                point1 = row.row_id
            await node.run(synced.db.set_sync, first_name, point1, False)
            await node.run(synced.db.set_sync, second_name, point2, False)

    def _mine(self, synced: Synced, row: ObjectRow) -> bool:
        if synced.replicas <= 1:
            return True
        digest = self.node.hash(synced.account, synced.container, row.name)
        return int(digest[:8], 16) % synced.replicas == synced.ordinal

    # -- one row -------------------------------------------------------------------

    async def sync_row(self, proxy: Proxy, synced: Synced, row: ObjectRow) -> bool:
        """Send one row's change; True when the target has it."""
        where = f"/{synced.account}/{synced.container}/{row.name}"
        try:
            if row.deleted:
                resp = await self._send(synced, "DELETE", row.name, row.created_at)
                status = resp.status_code
                if status // 100 == 2 or status in (404, 409):
                    self.stats.deletes += 1
                    return True
            else:
                ok = await self._put(proxy, synced, row)
                if ok:
                    return True
                status = 0
        except (httpx.HTTPError, OSError) as exc:
            log.info("%s: %s -> %s: %r", self.name, where, synced.target.url, exc)
            self.stats.failures += 1
            return False
        if status:
            log.info("%s: %s -> %s: %s", self.name, where, synced.target.url, status)
        self.stats.failures += 1
        return False

    async def _put(self, proxy: Proxy, synced: Synced, row: ObjectRow) -> bool:
        names = (synced.account, synced.container, row.name)
        head = await proxy.read("HEAD", *names)
        await close_body(head)
        if head.status == 404:
            return True  # deleted or expired since: a later row says so
        if head.status >= 300:
            return False
        stamp = Timestamp(head.headers.get("x-timestamp", "0")).internal
        if stamp < row.created_at:
            return False  # the replicas are behind the listing: try again later
        remote = await self._send(synced, "HEAD", row.name, stamp)
        if remote.status_code == 200 and _stamp(remote.headers.get("x-timestamp")) >= stamp:
            self.stats.skipped += 1
            return True
        resp = await proxy.read("GET", *names)
        try:
            if resp.status == 404:
                return True
            if resp.status != 200 or resp.body is None:
                return False
            headers = {k: v for k, v in resp.headers.items() if _sent(k)}
            stamp = Timestamp(resp.headers.get("x-timestamp", stamp)).internal
            headers["content-length"] = resp.headers.get("content-length", "0")
            body: AsyncIterator[bytes] | None = resp.body
            link = _link(resp.headers)
            if link:  # a symlink goes as the link it is (its target is synced on its own)
                headers = {k: v for k, v in headers.items() if k != "etag"}
                headers.update(link)
                headers["content-length"] = "0"
                body = None
            sent = await self._send(synced, "PUT", row.name, stamp, headers, body)
            status = sent.status_code
        finally:
            await close_body(resp)
        if status // 100 == 2:
            self.stats.puts += 1
            return True
        log.info(
            "%s: PUT %s/%s -> %s: %s",
            self.name,
            synced.container,
            row.name,
            synced.target.url,
            status,
        )
        return False

    async def _send(
        self,
        synced: Synced,
        method: str,
        name: str,
        stamp: str,
        headers: dict[str, str] | None = None,
        body: AsyncIterator[bytes] | None = None,
    ) -> httpx.Response:
        """One signed request to the target, its answer read."""
        target = synced.target
        url = f"{target.url}/{quote(name.encode(), safe='/')}"
        out = dict(headers or {})
        out["x-timestamp"] = stamp
        if target.realm and target.realm_key:
            nonce = uuid.uuid4().hex
            path = urlparse(url).path
            sig = signature(method, path, stamp, nonce, target.realm_key, synced.user_key)
            out[SYNC_AUTH] = f"{target.realm} {nonce} {sig}"
        else:
            out[SYNC_KEY] = synced.user_key
        if self._http is None:
            self._http = tls.client(timeout=self.timeout)
        resp = await self._http.request(method, url, headers=out, content=body)
        await resp.aread()
        return resp


# A symlink's sysmeta (the symlink layer's), and the client headers that make one.
_LINK = {
    "x-object-sysmeta-symlink-target": "x-symlink-target",
    "x-object-sysmeta-symlink-target-account": "x-symlink-target-account",
    "x-object-sysmeta-symlink-target-etag": "x-symlink-target-etag",
    "x-object-sysmeta-symlink-target-bytes": "x-symlink-target-bytes",
}


def _link(headers: dict[str, str]) -> dict[str, str]:
    if "x-object-sysmeta-symlink-target" not in headers:
        return {}
    return {client: headers[kept] for kept, client in _LINK.items() if kept in headers}


def _stamp(value: str | None) -> str:
    try:
        return Timestamp(value or "0").internal
    except ValueError:
        return ""


def _sent(name: str) -> bool:
    return name in _SENT or name.startswith("x-object-meta-")
