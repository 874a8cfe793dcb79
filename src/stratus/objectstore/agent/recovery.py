"""What a crash of the node leaves behind, put right when the node starts.

A node killed mid-request (SIGKILL, OOM, power) can leave three things that
nothing else repairs:

- **partial bodies in** ``DEVICE/tmp/``: writes that never reached their
  rename.  Every file there older than this start belongs to a process that
  is gone (the API workers start after the primary, so their writes are
  newer), and is removed.
- **objects on disk without their listing row**: the object server renames
  a write into place, then tells the container; a crash in between leaves an
  object that is missing from the listing (or listed with its old size and
  hash, or listed although a tombstone deleted it), and no async pending to
  repair it, since the update never failed.  Every object folder changed
  since the previous start is compared with its container's row, and the row
  is sent again where the listing is behind (rows merge by timestamp, so a
  row sent twice changes nothing).  Listing replicas on other nodes are not
  read from here: they are sent the row unconditionally (and only the rows
  found behind on this node are logged one by one).
- **older versions** a crash kept from their cleanup beside the new one,
  and empty object folders: removed as the folders are compared.
- **container stats the account never saw**: the reporter's first pass
  (``reporter.py``) runs right after, so account listings and totals catch
  up with the containers.

When one API worker dies while the primary runs on, the primary calls
``recover_since(worker start)``: the same comparison for the folders changed
since, and the partial writes idle in ``tmp/`` for ``TMP_IDLE`` seconds.

Whether the previous run ended cleanly is kept per device in ``DEVICE/node.state``
(JSON): ``{"clean": true}`` after a clean stop, ``{"running_since": T}`` while
a node runs.  After a crash only the object folders modified since ``T``
(minus a margin) are compared; with no state at all (a device written by an
older version) every folder is.  The state file is rewritten only once
recovery has finished, so a crash during recovery repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stratus.objectstore.agent.base import LocalDevice, Worker
from stratus.objectstore.agent.replicator import policies_on
from stratus.objectstore.drivers.base import DatabaseNotFound, ObjectMetadata, ObjectNotFound
from stratus.objectstore.drivers.database import db_path
from stratus.objectstore.drivers.diskfile import DiskDevice
from stratus.objectstore.drivers.hashes import parse_name, select_files
from stratus.objectstore.node.objects import STORED_OVERRIDE
from stratus.objectstore.node.updates import Target, Update

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

STATE_FILE = "node.state"
# Folders modified this long before the previous start are compared too:
# clocks of the folder's mtime and of time.time() may differ by a tick.
MARGIN = 5.0
# A write in tmp/ idle this long belongs to no live request (bodies time out
# after [server] body_timeout, 60 s by default).
TMP_IDLE = 600
# Names logged one by one; beyond, only the counts.
LOG_EACH = 50


@dataclass
class RecoveryStats:
    tmp_files: int = 0
    tmp_bytes: int = 0
    examined: int = 0  # object folders compared with their listing
    obsolete: int = 0  # older versions a crash kept from their cleanup
    resent: list[str] = field(default_factory=list)  # /a/c/o whose row was behind here
    sent_remote: int = 0  # rows sent only to listing replicas on other nodes


@dataclass(frozen=True)
class Candidate:
    """An object's current state on disk, as its listing row should show it."""

    meta: ObjectMetadata
    deleted: bool
    policy: int


def read_state(root: str) -> dict[str, object] | None:
    try:
        with open(os.path.join(root, STATE_FILE), encoding="utf-8") as f:
            state = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(root: str, state: dict[str, object]) -> None:
    path = os.path.join(root, STATE_FILE)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Recovery(Worker):
    """Runs once, when the node starts (``run_once``); ``mark_clean()`` when
    it stops cleanly."""

    name = "recovery"

    def __init__(self, node: StorageNode, *, concurrency: int = 16) -> None:
        super().__init__(node)
        self.started_at = time.time()
        self.concurrency = concurrency
        self.stats = RecoveryStats()
        self.done = False

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = RecoveryStats()
        for local in self.devices():
            await self.recover_device(local)
        self.done = True
        self._passed(started)

    async def recover_device(self, local: LocalDevice) -> None:
        state = await asyncio.to_thread(read_state, local.root)
        removed = await asyncio.to_thread(self.sweep_tmp, local.root)
        if removed:
            log.warning(
                "%s: %s: removed %d partial writes (%d bytes) left in tmp/ by a crash",
                self.name,
                local.name,
                removed,
                self.stats.tmp_bytes,
            )
        if state is None or not state.get("clean"):
            since = state.get("running_since") if state else None
            since = float(since) - MARGIN if isinstance(since, int | float) else None
            await self.reconcile_listings(local, since)
        await asyncio.to_thread(write_state, local.root, {"running_since": self.started_at})

    async def recover_since(self, since: float) -> None:
        """What a process of this node that died had begun since ``since``:
        listing rows behind the disk, and its partial writes in ``tmp/``
        (those idle longer than a body may be, so no live write's)."""
        idle = time.time() - TMP_IDLE
        for local in self.devices():
            removed = await asyncio.to_thread(self.sweep_tmp, local.root, idle)
            if removed:
                log.warning(
                    "%s: %s: removed %d partial writes idle for %d s in tmp/",
                    self.name,
                    local.name,
                    removed,
                    TMP_IDLE,
                )
            await self.reconcile_listings(local, since - MARGIN)

    def mark_clean(self) -> None:
        """After a clean stop (every update sent or kept as a pending): the
        next start has nothing to compare."""
        if not self.done:
            return  # recovery did not finish: the next start repeats it
        for local in self.devices():
            try:
                write_state(local.root, {"clean": True})
            except OSError:
                log.exception("%s: cannot record the clean stop of %s", self.name, local.name)

    # -- tmp/ (blocking) ------------------------------------------------------------

    def sweep_tmp(self, root: str, before: float | None = None) -> int:
        """Remove what writes older than this start (or ``before``) left in
        ``tmp/``."""
        before = self.started_at if before is None else before
        tmp = os.path.join(root, "tmp")
        try:
            names = os.listdir(tmp)
        except FileNotFoundError:
            return 0
        removed = 0
        for name in names:
            path = os.path.join(tmp, name)
            try:
                st = os.lstat(path)
                if st.st_mtime >= before or not os.path.isfile(path):
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed += 1
            self.stats.tmp_files += 1
            self.stats.tmp_bytes += st.st_size
            if self.stats.tmp_files <= LOG_EACH:
                log.info("%s: removed tmp/%s (%d bytes)", self.name, name, st.st_size)
        return removed

    # -- listings ---------------------------------------------------------------------

    async def reconcile_listings(self, local: LocalDevice, since: float | None) -> None:
        ring = self.ring("container")
        if ring is None:
            return
        before = len(self.stats.resent)
        examined = self.stats.examined
        limit = asyncio.Semaphore(self.concurrency)
        jobs: list[asyncio.Future[None]] = []
        for policy in policies_on(local.root):
            dev = await asyncio.to_thread(self.disk_device, local.name, policy)
            found = await asyncio.to_thread(self._changed, dev, policy, since)
            for candidate in found:
                jobs.append(asyncio.ensure_future(self._guarded(limit, local, candidate)))
        await asyncio.gather(*jobs)
        resent = len(self.stats.resent) - before
        log.log(
            logging.WARNING if resent else logging.INFO,
            "%s: %s: compared %d objects changed %s with their listings; %d rows were "
            "behind and were sent again",
            self.name,
            local.name,
            self.stats.examined - examined,
            "since the last start" if since is not None else "ever",
            resent,
        )

    def _changed(self, dev: DiskDevice, policy: int, since: float | None) -> list[Candidate]:
        """The current state of every object folder modified since ``since``."""
        out: list[Candidate] = []
        for part in dev.hashes.partitions():
            for suffix in dev.hashes.suffixes(part):
                touched = False
                for name_hash in dev.hashes.hash_dirs(part, suffix):
                    hdir = dev.hash_dir(part, name_hash)
                    try:
                        if since is not None and os.stat(hdir).st_mtime < since:
                            continue
                        candidate = self._current(dev, part, name_hash, hdir, policy)
                    except (FileNotFoundError, NotADirectoryError):
                        continue
                    except Exception as e:  # unreadable: the auditor's business
                        log.info("%s: skipped %s: %r", self.name, hdir, e)
                        continue
                    touched = True
                    if candidate is not None:
                        out.append(candidate)
                if touched:
                    # The suffix's hash may have missed the crashed write.
                    dev.hashes.invalidate(part, suffix)
        return out

    def _current(
        self, dev: DiskDevice, part: int, name_hash: str, hdir: str, policy: int
    ) -> Candidate | None:
        names = os.listdir(hdir)
        keep, obsolete = select_files(names, None)
        for name in obsolete:  # a crash between the rename and the cleanup
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(hdir, name))
                self.stats.obsolete += 1
                log.info("%s: removed %s/%s, an older version", self.name, hdir, name)
        if not names:  # a crash between the folder's creation and the rename
            with contextlib.suppress(OSError):
                os.rmdir(hdir)
        winner = next((n for n in keep if not n.endswith(".meta")), None)
        if winner is None:
            return None
        if winner.endswith(".ts"):
            meta = dev.read_metadata(os.path.join(hdir, winner))
            meta.timestamp = parse_name(winner)[0]
            return Candidate(meta, True, policy)
        try:
            reader = dev.open(part, name_hash)
        except ObjectNotFound:
            return None
        try:
            return Candidate(reader.metadata, False, policy)
        finally:
            reader.close()

    async def _guarded(self, limit: asyncio.Semaphore, local: LocalDevice, c: Candidate) -> None:
        async with limit:
            self.stats.examined += 1
            try:
                await self.reconcile(local, c)
            except Exception:
                log.exception("%s: %s: cannot compare with its listing", self.name, c.meta.name)

    async def reconcile(self, local: LocalDevice, c: Candidate) -> bool:
        """Send the object's row to the container replicas whose listing is
        behind; True when one was sent."""
        parts = c.meta.name.split("/", 3)
        if len(parts) != 4 or parts[0]:
            return False
        _, account, container, obj = parts
        ring = self.ring("container")
        if ring is None:
            return False
        part = ring.partition(account, container)
        ts = c.meta.timestamp.internal
        targets: list[Target] = []
        behind = False
        for dev in ring.nodes(part):
            if dev.ip == self.node.ip and dev.port == self.node.port:
                if not await self.node.run(
                    self._behind, dev.device, part, account, container, obj, c
                ):
                    continue
                behind = True
            targets.append(Target(dev.ip, dev.port, dev.device, part))
        if not targets:
            return False
        headers = {"x-timestamp": ts, "x-backend-storage-policy-index": str(c.policy)}
        if not c.deleted:
            stored = c.meta.headers
            for key, value in (
                ("etag", c.meta.etag),
                ("size", str(c.meta.content_length)),
                ("content-type", c.meta.content_type),
            ):
                headers["x-" + key] = stored.get(STORED_OVERRIDE + key, value)
        method = "DELETE" if c.deleted else "PUT"
        update = Update("container", method, account, container, obj, headers, ts, targets)
        name_hash = self.node.hash(account, container, obj)
        await self.node.updater.send(local.root, name_hash, update)
        if not behind:
            self.stats.sent_remote += 1  # replicas this node cannot read
            return True
        self.stats.resent.append(c.meta.name)
        if len(self.stats.resent) <= LOG_EACH:
            log.warning(
                "%s: %s: its listing row was behind what is on disk (%s at %s); sent again",
                self.name,
                c.meta.name,
                "deleted" if c.deleted else f"{c.meta.content_length} bytes",
                ts,
            )
        return True

    def _behind(
        self, device: str, part: int, account: str, container: str, obj: str, c: Candidate
    ) -> bool:
        """Whether this node's replica of the listing is behind the object
        (blocking); False when the container is not here."""
        root = os.path.join(self.node.devices_root, device)
        path = db_path(root, "containers", part, self.node.hash(account, container))
        try:
            row = self.node.dbs.container(path).row(obj)
        except DatabaseNotFound:
            return False
        if row is None:
            return not c.deleted
        return (row.created_at, row.deleted) < (c.meta.timestamp.internal, c.deleted)
