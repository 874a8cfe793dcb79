"""The node's open container and account databases, and group commit.

Opening SQLite costs more than a small query, so databases stay open (up to
``size`` of them, least recently used closed first).  Listing updates arrive
one row per request; ``GroupCommit`` queues the rows of one database while a
commit is running and applies the queue in the next transaction, so N
concurrent updates cost about one fsync, not N.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from stratus.objectstore.drivers.base import (
    AccountDatabase,
    ContainerDatabase,
    DatabaseDriver,
    ListingDatabase,
)
from stratus.objectstore.drivers.timestamp import Timestamp

D = TypeVar("D", bound=ListingDatabase)
R = TypeVar("R")


class OpenDatabases:
    """A bounded cache of open databases, safe to use from the thread pool;
    they are opened and created by the node's ``DatabaseDriver``."""

    def __init__(self, driver: DatabaseDriver, size: int = 2048) -> None:
        self.driver = driver
        self.size = size
        self._open: OrderedDict[str, ListingDatabase] = OrderedDict()
        self._lock = threading.Lock()

    def container(self, path: str) -> ContainerDatabase:
        """The open database at ``path`` (blocking; DatabaseNotFound if none)."""
        return self._get(path, self.driver.open_container)

    def account(self, path: str) -> AccountDatabase:
        return self._get(path, self.driver.open_account)

    def of_kind(self, path: str, kind: str) -> ContainerDatabase | AccountDatabase:
        """``kind`` is ``"containers"`` or ``"accounts"`` (the folder's name)."""
        return self.container(path) if kind == "containers" else self.account(path)

    def create_container(
        self, path: str, account: str, container: str, put_timestamp: Timestamp, policy: int
    ) -> ContainerDatabase:
        made = self.driver.create_container(path, account, container, put_timestamp, policy)
        return self.add(path, made)

    def create_account(self, path: str, account: str, put_timestamp: Timestamp) -> AccountDatabase:
        return self.add(path, self.driver.create_account(path, account, put_timestamp))

    def _get(self, path: str, opener: Callable[[str], D]) -> D:
        with self._lock:
            db = self._open.get(path)
            if db is not None:
                self._open.move_to_end(path)
                return db  # type: ignore[return-value]
        return self.add(path, opener(path))

    def add(self, path: str, db: D) -> D:
        with self._lock:
            current = self._open.get(path)
            if current is not None:
                if current is not db:
                    db.close()
                return current  # type: ignore[return-value]
            self._open[path] = db
            evicted = []
            while len(self._open) > self.size:
                evicted.append(self._open.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return db

    def discard(self, path: str) -> None:
        """Close the database at ``path`` if open (before its file goes away)."""
        with self._lock:
            db = self._open.pop(path, None)
        if db is not None:
            db.close()

    def close(self) -> None:
        with self._lock:
            dbs = list(self._open.values())
            self._open.clear()
        for db in dbs:
            db.close()


class GroupCommit(Generic[R]):
    """Queues items for one database and applies each queue with one call of
    ``apply(items)`` (run in the thread pool); every waiter gets its result."""

    def __init__(
        self,
        apply: Callable[[Sequence[Any]], R],
        run: Callable[..., Awaitable[R]],
        on_done: Callable[[R], None] | None = None,
    ) -> None:
        self._apply = apply
        self._run = run
        self._on_done = on_done
        self._queue: list[tuple[Any, asyncio.Future[R]]] = []
        self._running = False

    @property
    def idle(self) -> bool:
        return not self._running and not self._queue

    async def add(self, item: Any) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        if not self._running:
            self._running = True
            asyncio.ensure_future(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    result = await self._run(self._apply, [item for item, _ in batch])
                except BaseException as e:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                    if not isinstance(e, Exception):
                        raise
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(result)
                if self._on_done is not None:
                    self._on_done(result)
        finally:
            self._running = False
