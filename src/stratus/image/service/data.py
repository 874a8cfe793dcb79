"""Image data: upload (queued -> saving -> active, or killed), download with
ranges, and staging for interoperable import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.common.errors import StratusError
from stratus.common.ranges import ByteRange
from stratus.image import formats
from stratus.image import models as m
from stratus.image.drivers.base import Store
from stratus.image.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    PayloadTooLarge,
    RangeNotSatisfiable,
    image_not_found,
)
from stratus.image.service.images import Images
from stratus.image.service.ingest import Ingested, ingest
from stratus.image.service.quota import Quota

log = logging.getLogger(__name__)


@dataclass
class Download:
    image: m.Image
    body: AsyncIterator[bytes] | None  # None: the image has no data
    start: int = 0
    end: int = 0  # inclusive
    partial: bool = False


def staged_key(image_id: str) -> str:
    return f"{image_id}.staged"


class Data:
    def __init__(
        self,
        db: Database,
        images: Images,
        store: Store,
        quota: Quota,
        max_size: int,
        *,
        require_format_match: bool = True,
    ):
        self.db = db
        self.require_format_match = require_format_match
        self.images = images
        self.store = store
        self.quota = quota
        self.max_size = max_size
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="image-hash")

    async def transition(
        self,
        image_id: str,
        old: tuple[str, ...],
        new: str,
        guard: Callable[[AsyncSession], Awaitable[None]] | None = None,
        **values: object,
    ) -> bool:
        """Compare-and-swap an image's status; False when it was not in
        ``old``.  ``guard`` runs first in the same transaction (a quota
        check that may refuse the change)."""
        async with self.db.transaction() as s:
            if guard is not None:
                await guard(s)
            result = await s.execute(
                update(m.Image)
                .where(m.Image.id == image_id, m.Image.status.in_(old))
                .values(status=new, updated_at=utcnow(), **values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def _prepare(self, ctx: RequestContext, image_id: str, declared: int | None) -> m.Image:
        image = await self.images.get(ctx, image_id)
        if image.status != m.QUEUED:
            raise Conflict(f"Image status transition from {image.status} to saving is not allowed.")
        if not image.disk_format or not image.container_format:
            raise BadRequest(
                "Properties disk_format, container_format must be set prior to saving data."
            )
        return image

    async def _check_declared(self, image: m.Image, declared: int | None, failed: str) -> None:
        """Refuse an upload whose Content-Length is over a limit before any
        data moves; the upload has failed, so the image goes to ``failed``."""
        if declared is None:
            return
        try:
            if declared > self.max_size:
                raise PayloadTooLarge(f"The image is larger than the {self.max_size}-byte limit.")
            await self.quota.check_bytes(image.owner, declared, exclude=image.id)
        except StratusError:
            await self.transition(image.id, (m.QUEUED,), failed)
            raise

    async def upload(
        self, ctx: RequestContext, image_id: str, source: AsyncIterator[bytes], declared: int | None
    ) -> m.Image:
        image = await self._prepare(ctx, image_id, declared)
        await self._check_declared(image, declared, m.KILLED)
        if not await self.transition(image_id, (m.QUEUED,), m.SAVING):
            raise Conflict("Another upload to this image is in progress.")
        writer = self.store.writer(image_id)
        try:
            got = await ingest(source, writer, self.pool, self.max_size)
            await self.quota.check_bytes(image.owner, got.size, exclude=image.id)
            self._check_format(image, got)
            await writer.commit()
        except BaseException as exc:
            await writer.abort()
            await self.transition(image_id, (m.SAVING,), m.KILLED)
            log.info("image %s: upload failed, image killed: %s", image_id, exc)
            raise
        try:
            activated = await self.activate(
                image_id, (m.SAVING,), got, image.disk_format or "raw", image.owner
            )
        except StratusError:  # the quota, checked again as the bytes start to count
            await self.store.delete(image_id)
            await self.transition(image_id, (m.SAVING,), m.KILLED)
            raise
        if not activated:
            await self.store.delete(image_id)
            raise Conflict("The image was deleted or changed during the upload.")
        return await self.images.get(ctx, image_id)

    def _check_format(self, image: m.Image, got: Ingested) -> None:
        try:
            formats.check(
                image.disk_format or "raw", got.inspect(), match=self.require_format_match
            )
        except formats.ImageFormatError as exc:
            raise BadRequest(str(exc)) from exc

    async def activate(
        self,
        image_id: str,
        old: tuple[str, ...],
        got: Ingested,
        disk_format: str,
        owner: str | None = None,
    ) -> bool:
        """Make the image active with its data's facts; with ``owner``, the
        project's bytes quota is checked in the same transaction, so that
        two uploads finishing at once cannot both pass it."""

        async def quota(s: AsyncSession) -> None:
            await self.quota.check_bytes(owner, got.size, exclude=image_id, s=s)

        found = got.inspect()
        return await self.transition(
            image_id,
            old,
            m.ACTIVE,
            guard=quota if owner is not None else None,
            size=got.size,
            virtual_size=found.virtual_size,
            checksum=got.md5,
            os_hash_algo="sha512",
            os_hash_value=got.sha512,
            disk_format=disk_format,
            location=f"{self.store.name}:{image_id}",
        )

    async def download(
        self, ctx: RequestContext, image_id: str, wanted: ByteRange | None
    ) -> Download:
        image = await self.images.get(ctx, image_id)
        if image.status == m.DEACTIVATED and not ctx.is_admin:
            raise Forbidden("The image is deactivated; only an administrator may download it.")
        if image.status not in (m.ACTIVE, m.DEACTIVATED) or image.size is None:
            return Download(image, None)
        size = image.size
        start, end, partial = 0, size - 1, False
        if wanted is not None:
            span = wanted.span(size)
            if span is None:
                raise RangeNotSatisfiable(size)
            start, end = span
            partial = True
        if size == 0:
            return Download(image, _empty(), 0, -1, False)
        return Download(
            image, self.store.read(image_id, start, end - start + 1), start, end, partial
        )

    async def stage(
        self, ctx: RequestContext, image_id: str, source: AsyncIterator[bytes], declared: int | None
    ) -> None:
        image = await self._prepare(ctx, image_id, declared)
        await self._check_declared(image, declared, m.QUEUED)
        if not await self.transition(image_id, (m.QUEUED,), m.UPLOADING):
            raise Conflict("The image is not queued.")
        writer = self.store.writer(staged_key(image_id))
        try:
            got = await ingest(source, writer, self.pool, self.max_size)
            await self.quota.check_bytes(image.owner, got.size, exclude=image.id)
            await writer.commit()
        except BaseException:
            await writer.abort()
            await self.transition(image_id, (m.UPLOADING,), m.QUEUED)
            raise
        async with self.db.transaction() as s:
            row = await s.get(m.Image, image_id)
            if row is not None:
                row.staged = f"{self.store.name}:{staged_key(image_id)}"

    async def delete_data(self, image: m.Image) -> None:
        await self.store.delete(image.id)
        await self.store.delete(staged_key(image.id))


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


__all__ = ["Data", "Download", "image_not_found", "staged_key"]
