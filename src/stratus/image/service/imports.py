"""Interoperable image import: glance-direct (from staged data) and
web-download (from an allowed host), with an optional conversion by qemu-img,
tracked by a task record the user can read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from stratus.common import tls
from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.image import formats
from stratus.image import models as m
from stratus.image.errors import BadRequest, Conflict, NotFound
from stratus.image.service.data import Data, staged_key
from stratus.image.service.images import Images
from stratus.image.service.ingest import ingest

log = logging.getLogger(__name__)

METHODS = ("glance-direct", "web-download")
TASK_TTL = timedelta(hours=48)
CONVERT_TIMEOUT = 600.0
CONVERT_MEMORY = 1 << 30  # address-space limit for qemu-img
CONVERT_CPU_SECONDS = 600


class Imports:
    def __init__(
        self,
        db: Database,
        images: Images,
        data: Data,
        *,
        methods: list[str],
        allowed_hosts: list[str],
        convert_to: str,
    ):
        self.db = db
        self.images = images
        self.data = data
        self.methods = [x for x in methods if x in METHODS]
        self.allowed_hosts = [h.lower() for h in allowed_hosts]
        self.convert_to = convert_to
        self._jobs: set[asyncio.Task[None]] = set()

    @staticmethod
    def well_formed(uri: str) -> bool:
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and bool(parts.hostname)

    def host_allowed(self, uri: str) -> bool:
        if not self.well_formed(uri):
            return False
        parts = urlsplit(uri)
        assert parts.hostname is not None
        host = parts.hostname.lower()
        with_port = f"{host}:{parts.port}" if parts.port else host
        return host in self.allowed_hosts or with_port in self.allowed_hosts

    async def start_import(
        self, ctx: RequestContext, image_id: str, method: str, uri: str | None
    ) -> m.ImageTask:
        if method not in self.methods:
            raise BadRequest(
                f"Import method {method!r} is not offered here: use {', '.join(self.methods)}."
            )
        image = await self.images.get(ctx, image_id)
        if not image.disk_format or not image.container_format:
            raise BadRequest(
                "Properties disk_format, container_format must be set before an import."
            )
        if method == "glance-direct":
            if image.status != m.UPLOADING or not image.staged:
                raise Conflict("Image needs to be staged before an import (status uploading).")
            old = (m.UPLOADING,)
        else:
            if not uri:
                raise BadRequest("web-download needs a uri.")
            # A malformed URI is refused now; one whose host is not allowed is
            # accepted and fails in the import, as Glance's does.
            if not self.well_formed(uri):
                raise BadRequest(f"URI for web-download does not pass filtering: {uri}")
            if image.status != m.QUEUED:
                raise Conflict(f"Image status {image.status}: web-download needs a queued image.")
            old = (m.QUEUED,)
        if not await self.data.transition(image_id, old, m.IMPORTING):
            raise Conflict("The image changed status; try again.")
        async with self.db.transaction() as s:
            task = m.ImageTask(
                type="api_image_import",
                status="processing",
                image_id=image_id,
                owner=ctx.project_id,
                user_id=ctx.user_id,
                request_id=ctx.request_id,
                input={
                    "image_id": image_id,
                    "import_req": {"method": {"name": method, **({"uri": uri} if uri else {})}},
                },
                expires_at=utcnow() + TASK_TTL,
            )
            s.add(task)
        job = asyncio.create_task(self._run(task.id, image_id, method, uri, image.disk_format))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return task

    async def _source(self, image_id: str, method: str, uri: str | None) -> None:
        """Bring the data to the staging key (web-download) or check it is there."""
        store = self.data.store
        if method == "glance-direct":
            if await store.size(staged_key(image_id)) is None:
                raise RuntimeError("the staged data is missing")
            return
        assert uri is not None
        if not self.host_allowed(uri):
            raise RuntimeError(f"Importing from {urlsplit(uri).hostname} is not allowed here.")
        writer = store.writer(staged_key(image_id))
        try:
            async with tls.client(timeout=60.0, follow_redirects=False) as client:
                async with client.stream("GET", uri) as resp:
                    if resp.status_code != 200:
                        raise RuntimeError(f"{uri} answered {resp.status_code}")
                    await ingest(
                        resp.aiter_bytes(1 << 20), writer, self.data.pool, self.data.max_size
                    )
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise

    async def _convert(self, image_id: str, source_format: str) -> str | None:
        """Convert the staged data to the target format; the new key, or None."""
        target = self.convert_to
        if not target or target == source_format:
            return None
        store = self.data.store
        src = store.local_path(staged_key(image_id))
        dst_key = f"{image_id}.converted"
        dst = store.local_path(dst_key)
        if src is None or dst is None:
            raise RuntimeError("conversion needs a store with local files")
        # Never run a tool on data that failed inspection.
        head = b"".join([c async for c in store.read(staged_key(image_id), 0, formats.HEAD_BYTES)])
        size = await store.size(staged_key(image_id)) or 0
        tail = b"".join(
            [c async for c in store.read(staged_key(image_id), max(size - formats.TAIL_BYTES, 0))]
        )
        formats.check(source_format, formats.inspect(head, tail, size))
        qemu_format = {"vhd": "vpc", "ami": "raw", "ari": "raw", "aki": "raw", "iso": "raw"}.get(
            source_format, source_format
        )

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (CONVERT_MEMORY, CONVERT_MEMORY))
            resource.setrlimit(resource.RLIMIT_CPU, (CONVERT_CPU_SECONDS, CONVERT_CPU_SECONDS))

        proc = await asyncio.create_subprocess_exec(
            "qemu-img",
            "convert",
            "-f",
            qemu_format,
            "-O",
            target,
            src,
            dst,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=limits,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), CONVERT_TIMEOUT)
        except TimeoutError:
            proc.kill()
            raise RuntimeError("qemu-img convert took too long") from None
        if proc.returncode != 0:
            raise RuntimeError(f"qemu-img convert failed: {err.decode(errors='replace').strip()}")
        return dst_key

    async def _run(
        self, task_id: str, image_id: str, method: str, uri: str | None, disk_format: str
    ) -> None:
        store = self.data.store
        converted: str | None = None
        try:
            await self._source(image_id, method, uri)
            converted = await self._convert(image_id, disk_format)
            final_format = self.convert_to if converted else disk_format
            source_key = converted or staged_key(image_id)
            writer = store.writer(image_id)
            try:
                got = await ingest(
                    _read_all(store, source_key), writer, self.data.pool, self.data.max_size
                )
                formats.check(final_format, got.inspect(), match=self.data.require_format_match)
                await writer.commit()
            except BaseException:
                await writer.abort()
                raise
            if not await self.data.activate(image_id, (m.IMPORTING,), got, final_format):
                await store.delete(image_id)
                raise RuntimeError("the image was deleted during the import")
            await self._finish(task_id, "success", "", {"image_id": image_id})
            log.info("image %s: %s import done", image_id, method)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.info("image %s: %s import failed: %s", image_id, method, message)
            if method == "web-download":
                await self._back_to_queued(image_id)
            else:
                await self.data.transition(image_id, (m.IMPORTING,), m.KILLED)
            await self._finish(task_id, "failure", message, None)
        finally:
            await store.delete(staged_key(image_id))
            if converted:
                await store.delete(converted)
            async with self.db.transaction() as s:
                row = await s.get(m.Image, image_id)
                if row is not None:
                    row.staged = None

    async def _back_to_queued(self, image_id: str) -> None:
        """A failed web-download leaves the image queued (it may be imported
        again), naming the store that failed in ``os_glance_failed_import``."""
        async with self.db.transaction() as s:
            image = await s.get(m.Image, image_id)
            if image is None or image.status != m.IMPORTING:
                return
            props = dict(image.properties)
            props.pop("os_glance_importing_to_stores", None)
            failed = [x for x in props.get("os_glance_failed_import", "").split(",") if x]
            if self.data.store.name not in failed:
                failed.append(self.data.store.name)
            props["os_glance_failed_import"] = ",".join(failed)
            image.properties = props
            image.status = m.QUEUED
            image.updated_at = utcnow()

    async def _finish(
        self, task_id: str, status: str, message: str, result: dict[str, Any] | None
    ) -> None:
        async with self.db.transaction() as s:
            task = await s.get(m.ImageTask, task_id)
            if task is not None:
                task.status, task.message, task.result = status, message, result

    async def recover(self) -> None:
        """After a restart, imports that were running have failed."""
        async with self.db.transaction() as s:
            tasks = (
                await s.scalars(
                    select(m.ImageTask).where(m.ImageTask.status.in_(("pending", "processing")))
                )
            ).all()
            for task in tasks:
                task.status, task.message = (
                    "failure",
                    "interrupted by a restart of the image service",
                )
                image = await s.get(m.Image, task.image_id) if task.image_id else None
                if image is not None and image.status == m.IMPORTING:
                    image.status = m.KILLED
                log.warning(
                    "image task %s (image %s): interrupted by a restart; marked failed",
                    task.id,
                    task.image_id,
                )

    async def stop(self) -> None:
        for job in list(self._jobs):
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job

    # -- tasks -----------------------------------------------------------------------

    async def task(self, ctx: RequestContext, task_id: str) -> m.ImageTask:
        async with self.db.session() as s:
            task = await s.get(m.ImageTask, task_id)
        if task is None or (not ctx.is_admin and task.owner != ctx.project_id):
            raise NotFound(f"Task with identifier {task_id} not found.")
        return task

    async def tasks(self, ctx: RequestContext, image_id: str | None = None) -> list[m.ImageTask]:
        if image_id is not None:
            await self.images.get(ctx, image_id)
        stmt = select(m.ImageTask).order_by(m.ImageTask.created_at.desc())
        if image_id is not None:
            stmt = stmt.where(m.ImageTask.image_id == image_id)
        if not ctx.is_admin:
            stmt = stmt.where(m.ImageTask.owner == ctx.project_id)
        async with self.db.session() as s:
            return list((await s.scalars(stmt)).all())


async def _read_all(store: Any, key: str) -> AsyncIterator[bytes]:
    async for chunk in store.read(key):
        yield chunk
