"""Image records: create, list, show, update (JSON patch), delete, tags,
members, and who may see what.  The attributes' rules are in
``image_patch``, a listing's SQL in ``image_query``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.image import models as m
from stratus.image.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooMany,
    image_not_found,
)
from stratus.image.service.image_patch import (
    CORE,
    MAX_PROPERTIES,
    MAX_TAGS,
    MEMBER_STATUSES,
    READ_ONLY,
    RESERVED_PREFIX,
    apply_patch,
    check_value,
    editable,
)
from stratus.image.service.image_query import (
    SORTABLE,
    ListParams,
    after_marker,
    filtered,
    ordering,
    sort_keys,
)


class Images:
    def __init__(self, db: Database, quota: Any):
        self.db = db
        self.quota = quota

    # -- visibility ---------------------------------------------------------------

    @staticmethod
    def visible_clause(
        ctx: RequestContext, member_status: str | None = "accepted"
    ) -> ColumnElement[bool]:
        """Images the caller's project sees in a listing."""
        project = ctx.project_id
        member = exists().where(
            m.ImageMember.image_id == m.Image.id,
            m.ImageMember.member_id == project,
            *(
                [m.ImageMember.status == member_status]
                if member_status and member_status != "all"
                else []
            ),
        )
        return or_(
            m.Image.owner == project,
            m.Image.visibility == "public",
            and_(m.Image.visibility == "shared", member),
        )

    async def can_see(self, s: AsyncSession, ctx: RequestContext, image: m.Image) -> bool:
        if ctx.is_admin or image.owner == ctx.project_id:
            return True
        if image.visibility in ("public", "community"):
            return True
        if image.visibility == "shared":
            return await s.get(m.ImageMember, (image.id, ctx.project_id)) is not None
        return False

    async def get(
        self, ctx: RequestContext, image_id: str, s: AsyncSession | None = None
    ) -> m.Image:
        """The image, if the caller may see it (404 otherwise)."""
        if s is None:
            async with self.db.session() as session:
                return await self.get(ctx, image_id, session)
        image = await s.get(m.Image, image_id)
        if image is None or image.status == m.DELETED or not await self.can_see(s, ctx, image):
            raise image_not_found(image_id)
        return image

    # -- create -------------------------------------------------------------------------

    async def create(
        self, ctx: RequestContext, attrs: dict[str, Any], may_set_owner: bool, may_publicize: bool
    ) -> m.Image:
        image_id = attrs.pop("id", None)
        if image_id is not None:
            try:
                image_id = str(uuid.UUID(str(image_id)))
            except ValueError as exc:
                raise BadRequest(f"Invalid id {image_id!r}: an image id is a UUID.") from exc
        for key in list(attrs):
            if key in READ_ONLY:
                raise Forbidden(f"Attribute '{key}' is read-only.")
            if key.startswith(RESERVED_PREFIX):
                raise Forbidden(f"Attribute '{key}' is reserved.")
            check_value(key, attrs[key])
        owner = attrs.pop("owner", None) or ctx.project_id
        if owner != ctx.project_id and not may_set_owner:
            raise Forbidden("You may not create an image owned by another project.")
        visibility = attrs.pop("visibility", "shared")
        if visibility == "public" and not may_publicize:
            raise Forbidden("You are not authorized to make images public.")
        core = {k: attrs.pop(k) for k in list(attrs) if k in CORE}
        tags = list(dict.fromkeys(core.pop("tags", None) or []))
        if len(attrs) > MAX_PROPERTIES:
            raise TooMany(f"An image has at most {MAX_PROPERTIES} custom properties.")
        async with self.db.transaction() as s:
            await self.quota.check_count(owner, s)  # the check and the insert: one step
            if image_id and await s.get(m.Image, image_id) is not None:
                raise Conflict(f"An image with identifier {image_id} already exists.")
            image = m.Image(
                id=image_id or str(uuid.uuid4()),
                name=core.get("name"),
                status=m.QUEUED,
                visibility=visibility,
                protected=core.get("protected", False),
                os_hidden=core.get("os_hidden", False),
                disk_format=core.get("disk_format"),
                container_format=core.get("container_format"),
                min_disk=core.get("min_disk", 0),
                min_ram=core.get("min_ram", 0),
                owner=owner,
                properties=attrs,
            )
            image.tags = [m.ImageTag(name=t) for t in tags]
            s.add(image)
        return image

    # -- list -------------------------------------------------------------------------------

    async def list_images(
        self, ctx: RequestContext, p: ListParams
    ) -> tuple[list[m.Image], str | None]:
        stmt = self._visible(ctx, p.filters, select(m.Image).where(m.Image.status != m.DELETED))
        stmt = filtered(stmt, p)
        async with self.db.session() as s:
            if p.marker:
                marker = await s.get(m.Image, p.marker)
                if marker is None:
                    raise BadRequest(f"Invalid marker: image {p.marker} could not be found.")
                stmt = stmt.where(after_marker(marker, p.sort))
            order = [ordering(SORTABLE[key], direction) for key, direction in sort_keys(p.sort)]
            rows = list((await s.scalars(stmt.order_by(*order).limit(p.limit + 1))).all())
        more = len(rows) > p.limit
        rows = rows[: p.limit]
        return rows, (rows[-1].id if more and rows else None)

    def _visible(self, ctx: RequestContext, f: dict[str, Any], stmt: Select[Any]) -> Select[Any]:
        """The images the caller may list, narrowed by the ``visibility``
        filter (and ``member_status`` for shared ones)."""
        visibility = f.get("visibility")
        member_status = f.get("member_status", "accepted")
        if visibility == "community":
            stmt = stmt.where(m.Image.visibility == "community")
        elif visibility == "shared":
            stmt = stmt.where(m.Image.visibility == "shared")
            if not ctx.is_admin:
                stmt = stmt.where(self.visible_clause(ctx, member_status))
        elif visibility in ("public", "private"):
            stmt = stmt.where(m.Image.visibility == visibility)
            if not ctx.is_admin and visibility == "private":
                stmt = stmt.where(m.Image.owner == ctx.project_id)
        elif visibility not in (None, "all"):
            raise BadRequest(f"Invalid visibility filter {visibility!r}.")
        if not ctx.is_admin and visibility in (None, "all"):
            stmt = stmt.where(self.visible_clause(ctx, member_status))
        return stmt

    # -- update --------------------------------------------------------------------------------

    async def update(
        self,
        ctx: RequestContext,
        image_id: str,
        ops: list[dict[str, Any]],
        *,
        may_publicize: bool,
        may_set_owner: bool,
    ) -> m.Image:
        async with self.db.transaction() as s:
            image = await self.get(ctx, image_id, s)
            state = editable(image)
            for op in ops:
                apply_patch(state, op, image)
            if state["visibility"] != image.visibility:
                if state["visibility"] == "public" and not may_publicize:
                    raise Forbidden("You are not authorized to make images public.")
            if state["owner"] != image.owner and not may_set_owner:
                raise Forbidden("You are not authorized to change an image's owner.")
            for key in ("disk_format", "container_format"):
                if state[key] != getattr(image, key) and image.status != m.QUEUED:
                    raise Forbidden(f"Attribute {key} can be only replaced for a queued image.")
            props = state.pop("properties")
            tags = list(dict.fromkeys(state.pop("tags")))
            for key, value in state.items():
                setattr(image, key, value)
            if len(props) > MAX_PROPERTIES:
                raise TooMany(f"An image has at most {MAX_PROPERTIES} custom properties.")
            image.properties = props
            have = {t.name: t for t in image.tags}
            image.tags = [have.get(t) or m.ImageTag(name=t) for t in tags]
            image.updated_at = utcnow()
        return image

    async def delete(self, ctx: RequestContext, image_id: str) -> m.Image:
        async with self.db.transaction() as s:
            image = await self.get(ctx, image_id, s)
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            # The record stays, marked deleted, so that its id is never reused
            # (another project must not inherit trust placed in this id).
            image.status = m.DELETED
            image.tags = []
            image.updated_at = utcnow()
            await s.execute(delete(m.ImageMember).where(m.ImageMember.image_id == image_id))
        return image

    async def set_status(self, ctx: RequestContext, image_id: str, want: str) -> None:
        """Deactivate or reactivate."""
        async with self.db.transaction() as s:
            image = await self.get(ctx, image_id, s)
            allowed = {
                m.DEACTIVATED: (m.ACTIVE, m.DEACTIVATED),
                m.ACTIVE: (m.DEACTIVATED, m.ACTIVE),
            }[want]
            if image.status not in allowed:
                raise Forbidden(
                    f"Not allowed to {'deactivate' if want == m.DEACTIVATED else 'reactivate'} an image in status {image.status}."
                )
            image.status = want

    # -- tags ----------------------------------------------------------------------------------------

    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        check_value("tags", [tag])
        async with self.db.transaction() as s:
            image = await self.get(ctx, image_id, s)
            if tag not in [t.name for t in image.tags]:
                if len(image.tags) >= MAX_TAGS:
                    raise TooMany(f"An image has at most {MAX_TAGS} tags.")
                image.tags.append(m.ImageTag(name=tag))
                image.updated_at = utcnow()

    async def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        async with self.db.transaction() as s:
            image = await self.get(ctx, image_id, s)
            kept = [t for t in image.tags if t.name != tag]
            if len(kept) == len(image.tags):
                raise NotFound(f"Tag {tag} not found on image {image_id}.")
            image.tags = kept
            image.updated_at = utcnow()

    # -- members -------------------------------------------------------------------------------------

    async def members(self, ctx: RequestContext, image_id: str) -> list[m.ImageMember]:
        async with self.db.session() as s:
            image = await self.get(ctx, image_id, s)
            if image.visibility != "shared":
                raise Forbidden("Only shared images have members.")
            stmt = select(m.ImageMember).where(m.ImageMember.image_id == image_id)
            if not ctx.is_admin and image.owner != ctx.project_id:
                stmt = stmt.where(m.ImageMember.member_id == ctx.project_id)
            return list((await s.scalars(stmt.order_by(m.ImageMember.created_at))).all())

    async def member(self, ctx: RequestContext, image_id: str, member_id: str) -> m.ImageMember:
        async with self.db.session() as s:
            image = await self.get(ctx, image_id, s)
            if not ctx.is_admin and image.owner != ctx.project_id and member_id != ctx.project_id:
                raise image_not_found(image_id)
            row = await s.get(m.ImageMember, (image_id, member_id))
            if row is None:
                raise NotFound(f"Project {member_id} is not a member of image {image_id}.")
            return row

    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> m.ImageMember:
        async with self.db.transaction() as s:
            image = await self.get(ctx, image_id, s)
            if image.visibility != "shared":
                raise Forbidden(
                    f"Image {image_id} is not shared: set its visibility to 'shared' to add members."
                )
            if await s.get(m.ImageMember, (image_id, member_id)) is not None:
                raise Conflict(f"Project {member_id} is already a member of image {image_id}.")
            row = m.ImageMember(image_id=image_id, member_id=member_id, status="pending")
            s.add(row)
        return row

    async def update_member(
        self, ctx: RequestContext, image_id: str, member_id: str, status: str
    ) -> m.ImageMember:
        if status not in MEMBER_STATUSES:
            raise BadRequest(
                f"Invalid member status {status!r}: one of {', '.join(MEMBER_STATUSES)}."
            )
        async with self.db.transaction() as s:
            await self.get(ctx, image_id, s)
            row = await s.get(m.ImageMember, (image_id, member_id))
            if row is None:
                raise NotFound(f"Project {member_id} is not a member of image {image_id}.")
            row.status = status
            row.updated_at = utcnow()
        return row

    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        async with self.db.transaction() as s:
            await self.get(ctx, image_id, s)
            row = await s.get(m.ImageMember, (image_id, member_id))
            if row is None:
                raise NotFound(f"Project {member_id} is not a member of image {image_id}.")
            await s.delete(row)
