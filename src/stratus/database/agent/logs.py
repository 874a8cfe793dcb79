"""The work on an instance's logs: enable or disable a USER log in the
running server, discard what was published of a log, publish what is new
in it (one object per publish, with its line count as troveclient's
``log tail`` reads it, and a metafile beside), and measure what is pending.
Each log's row says what is wanted; the outcome is recorded with the
request's serial."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from stratus.common.db import utcnow
from stratus.database import models as m
from stratus.database.agent.instances import InstanceWork
from stratus.database.agent.recorder import Recorder
from stratus.database.drivers.base import BackupStore, ByteStream, DriverError

log = logging.getLogger(__name__)

# The most of a log one publish copies (the newest part of it).
MAX_PUBLISH = 64 << 20


def _read(path: Path, start: int) -> tuple[bytes, int]:
    """What a file holds from ``start`` on (its last MAX_PUBLISH bytes at
    most), and its size."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            start = max(start, size - MAX_PUBLISH)
            f.seek(start)
            return f.read(size - start), size
    except FileNotFoundError:
        return b"", 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def _one(data: bytes) -> ByteStream:
    yield data


class LogWork:
    def __init__(self, recorder: Recorder, instances: InstanceWork, store: BackupStore,
                 container: str):  # fmt: skip
        self.rec = recorder
        self.instances = instances
        self.store = store
        self.container = container

    async def work(self, inst: m.Instance) -> None:
        for row in await self.rec.logs_wanted(inst.id):
            try:
                values = await self._act(inst, row)
            except DriverError as exc:
                log.warning("database: instance %s: log %s: %s", inst.id, row.name, exc)
                await self.rec.log_done(row, fault=str(exc)[:2000])
            else:
                await self.rec.log_done(row, **values)

    async def _act(self, inst: m.Instance, row: m.Log) -> dict[str, object]:
        store = self.instances.datastore(inst)
        place = self.instances.places.get(inst.id) or await self.instances.place(inst)
        found = store.log_files(place).get(row.name)
        if found is None:
            raise DriverError(f"{inst.datastore} has no log {row.name}")
        kind, path = found
        actions = set((row.wanted or "").split(","))
        if kind == "USER" and actions & {"enable", "disable"}:
            if not store.running(place):
                raise DriverError("the server is not running")
            await store.set_log(place, await self.instances.spec(inst), row.name, row.enabled)
        prefix = f"{inst.id}/{inst.datastore}-{row.name}/"
        metafile = f"{inst.id}/{inst.datastore}-{row.name}_metafile"
        published, parts = row.published, row.parts
        if "discard" in actions:
            for part in range(1, parts + 1):
                await self.store.delete(self.container, f"{prefix}log-{part:06d}", inst.project_id)
            await self.store.delete(self.container, metafile, inst.project_id)
            published, parts = 0, 0
        if "publish" in actions:
            # A file smaller than what was published was started again.
            data, size = await asyncio.to_thread(
                _read, path, published if _size(path) >= published else 0)  # fmt: skip
            if data:
                parts += 1
                await self.store.put(self.container, f"{prefix}log-{parts:06d}", _one(data),
                                     {"X-Object-Meta-Lines": str(data.count(b"\n"))},
                                     inst.project_id)  # fmt: skip
            published = size
            meta = {"log": row.name, "type": kind, "datastore": inst.datastore,
                    "instance_id": inst.id, "parts": parts, "published": published,
                    "updated": utcnow().strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
            await self.store.put(self.container, metafile, _one(json.dumps(meta).encode()),
                                 {"Content-Type": "application/json"}, inst.project_id)  # fmt: skip
            log.info("database: instance %s: log %s published (%d bytes new)", inst.id,
                     row.name, len(data))  # fmt: skip
        pending = max(0, _size(path) - published)
        return {"published": published, "parts": parts, "pending": pending, "fault": None}
