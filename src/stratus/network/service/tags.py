"""Tags of networks, subnets, ports, routers, floating IPs, security groups
and subnet pools (``standard-attr-tag``).  A change of tags is a change of
the resource: its revision number moves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import BadRequest, NotFound, TagNotFound
from stratus.network.service.core import Changes, Core, chunks

MAX_TAGS = 50
MAX_TAG_LENGTH = 255

Loader = Callable[[AsyncSession, RequestContext, str], Awaitable[Any]]


def check_tags(tags: Iterable[str]) -> list[str]:
    unique = sorted(set(tags))
    for tag in unique:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise BadRequest(f"Invalid tag '{tag}': 1 to {MAX_TAG_LENGTH} characters.")
    if len(unique) > MAX_TAGS:
        raise BadRequest(f"The number of tags exceeds the maximum {MAX_TAGS}.")
    return unique


async def tags_in(s: AsyncSession, resource_id: str) -> list[str]:
    return list(
        await s.scalars(
            select(m.Tag.tag).where(m.Tag.resource_id == resource_id).order_by(m.Tag.tag)
        )
    )


async def set_tags(s: AsyncSession, resource_id: str, tags: Iterable[str]) -> list[str]:
    wanted = check_tags(tags)
    await s.execute(delete(m.Tag).where(m.Tag.resource_id == resource_id))
    for tag in wanted:
        s.add(m.Tag(resource_id=resource_id, tag=tag))
    return wanted


async def drop_tags(s: AsyncSession, resource_ids: Iterable[str]) -> None:
    for part in chunks(list(resource_ids)):
        await s.execute(delete(m.Tag).where(m.Tag.resource_id.in_(part)))


class Tags:
    """Tag operations on any taggable resource; ``loaders`` find a resource
    the caller can see (or raise its 404) by its collection name."""

    def __init__(self, core: Core, loaders: dict[str, Loader]):
        self.core = core
        self.loaders = loaders

    async def _load(self, s: AsyncSession, ctx: RequestContext, kind: str, rid: str) -> Any:
        loader = self.loaders.get(kind)
        if loader is None:
            raise NotFound(f"Resource {kind} does not take tags.")
        return await loader(s, ctx, rid)

    async def owner(self, ctx: RequestContext, kind: str, rid: str) -> str:
        """The project owning the resource (for the policy check)."""

        async def work(s: AsyncSession) -> str:
            return str((await self._load(s, ctx, kind, rid)).project_id)

        return await self.core.read(work)

    async def find(self, ctx: RequestContext, kind: str, rid: str) -> list[str]:
        async def work(s: AsyncSession) -> list[str]:
            await self._load(s, ctx, kind, rid)
            return await tags_in(s, rid)

        return await self.core.read(work)

    async def check(self, ctx: RequestContext, kind: str, rid: str, tag: str) -> None:
        if tag not in await self.find(ctx, kind, rid):
            raise TagNotFound(tag, kind.rstrip("s"), rid)

    async def _change(
        self, ctx: RequestContext, kind: str, rid: str, change: Callable[[list[str]], list[str]]
    ) -> list[str]:
        async def work(s: AsyncSession, ch: Changes) -> list[str]:
            row = await self._load(s, ctx, kind, rid)
            before = await tags_in(s, rid)
            after = check_tags(change(before))
            if after != before:
                await set_tags(s, rid, after)
                row.bump()
            return after

        return await self.core.write(work)

    async def replace(self, ctx: RequestContext, kind: str, rid: str, tags: list[str]) -> list[str]:
        return await self._change(ctx, kind, rid, lambda _old: tags)

    async def add(self, ctx: RequestContext, kind: str, rid: str, tags: list[str]) -> list[str]:
        return await self._change(ctx, kind, rid, lambda old: [*old, *tags])

    async def remove(self, ctx: RequestContext, kind: str, rid: str, tag: str) -> None:
        def change(old: list[str]) -> list[str]:
            if tag not in old:
                raise TagNotFound(tag, kind.rstrip("s"), rid)
            return [t for t in old if t != tag]

        await self._change(ctx, kind, rid, change)

    async def clear(self, ctx: RequestContext, kind: str, rid: str) -> None:
        await self._change(ctx, kind, rid, lambda _old: [])
