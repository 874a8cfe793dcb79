"""Per-project image quotas: a number of images and their total bytes.

The defaults come from ``[image] quota_images`` and ``quota_bytes`` (0 means
unlimited); a project may have its own limits through the identity service's
unified limits (resource names ``image_count_total`` and
``image_size_total``, in MiB, as Glance has them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, serialize
from stratus.image import models as m
from stratus.image.errors import QuotaExceeded

# (project_id, resource name) -> the project's limit, or None for the default.
LimitLookup = Callable[[str, str], Awaitable[int | None]]


async def _no_limits(_project: str, _resource: str) -> int | None:
    return None


class Quota:
    def __init__(self, db: Database, images: int, bytes_: int, lookup: LimitLookup | None = None):
        self.db = db
        self.default_images = images or None
        self.default_bytes = bytes_ or None
        self.lookup = lookup or _no_limits

    async def _limit(
        self, project: str, resource: str, default: int | None, scale: int = 1
    ) -> int | None:
        """None means unlimited (a unified limit of -1 says so too)."""
        value = await self.lookup(project, resource)
        if value is None:
            return default
        return None if value < 0 else value * scale

    @asynccontextmanager
    async def _counting(self, project: str, s: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        """Where to count: ``s``, the transaction of the insert the count
        guards, made to wait for the project's other checks; else a read."""
        if s is not None:
            await serialize(s, "image-quota", project)
            yield s
            return
        async with self.db.session() as own:
            yield own

    async def check_count(self, project: str | None, s: AsyncSession | None = None) -> None:
        """Refuse one more image; with ``s``, in the transaction that inserts it."""
        if project is None:
            return
        limit = await self._limit(project, "image_count_total", self.default_images)
        if limit is None:
            return
        async with self._counting(project, s) as s:
            used = await s.scalar(
                select(func.count())
                .select_from(m.Image)
                .where(m.Image.owner == project, m.Image.status != m.DELETED)
            )
        if (used or 0) >= limit:
            raise QuotaExceeded(
                f"Image count quota exceeded: the project has {used} of its {limit} images."
            )

    async def check_bytes(
        self,
        project: str | None,
        adding: int,
        exclude: str | None = None,
        s: AsyncSession | None = None,
    ) -> None:
        """Refuse ``adding`` bytes more; with ``s``, in the transaction that
        makes them count (the image's activation)."""
        if project is None:
            return
        limit = await self._limit(project, "image_size_total", self.default_bytes, 1024 * 1024)
        if limit is None:
            return
        async with self._counting(project, s) as s:
            stmt = select(func.coalesce(func.sum(m.Image.size), 0)).where(
                m.Image.owner == project, m.Image.status != m.DELETED
            )
            if exclude:
                stmt = stmt.where(m.Image.id != exclude)
            used = int(await s.scalar(stmt) or 0)
        if used + adding > limit:
            raise QuotaExceeded(
                f"Image size quota exceeded: {used + adding} bytes would pass "
                f"the project's {limit}-byte limit."
            )
