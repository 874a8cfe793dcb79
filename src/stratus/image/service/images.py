"""Image records: create, list, show, update (JSON patch), delete, tags,
members, and who may see what."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.image import formats
from stratus.image import models as m
from stratus.image.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooMany,
    image_not_found,
)

READ_ONLY = frozenset(
    {
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "stores",
        "os_glance_import_task",
    }
)
CORE = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "tags",
        "container_format",
        "disk_format",
        "min_disk",
        "min_ram",
        "owner",
    }
)
RESERVED_PREFIX = "os_glance"
MAX_TAGS = 128
MAX_PROPERTIES = 128
MEMBER_STATUSES = ("pending", "accepted", "rejected")
_PATH = re.compile(r"^/([^/~]|~0|~1)+$")


@dataclass
class ListParams:
    filters: dict[str, Any]
    properties: dict[str, str]
    tags: list[str]
    sort: list[tuple[str, str]]
    limit: int
    marker: str | None


SORTABLE = {
    "name": m.Image.name,
    "status": m.Image.status,
    "container_format": m.Image.container_format,
    "disk_format": m.Image.disk_format,
    "size": m.Image.size,
    "id": m.Image.id,
    "created_at": m.Image.created_at,
    "updated_at": m.Image.updated_at,
    "visibility": m.Image.visibility,
    "owner": m.Image.owner,
    "min_disk": m.Image.min_disk,
    "min_ram": m.Image.min_ram,
    "virtual_size": m.Image.virtual_size,
}


def _check_value(key: str, value: Any) -> Any:
    """Validate one attribute's value the way Glance's schema does."""

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise BadRequest(f"Invalid value for '{key}': {what}.")

    if key == "name":
        need(
            value is None or (isinstance(value, str) and len(value) <= 255),
            "a string of at most 255 characters",
        )
    elif key == "visibility":
        need(value in m.VISIBILITIES, f"one of {', '.join(m.VISIBILITIES)}")
    elif key in ("protected", "os_hidden"):
        need(isinstance(value, bool), "true or false")
    elif key in ("min_disk", "min_ram"):
        need(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            "a whole number of at least 0",
        )
    elif key == "disk_format":
        need(
            value is None or value in formats.DISK_FORMATS,
            f"one of {', '.join(formats.DISK_FORMATS)}",
        )
    elif key == "container_format":
        need(
            value is None or value in formats.CONTAINER_FORMATS,
            f"one of {', '.join(formats.CONTAINER_FORMATS)}",
        )
    elif key == "tags":
        need(
            isinstance(value, list)
            and all(isinstance(t, str) and 0 < len(t) <= 255 for t in value),
            "a list of strings",
        )
        if len(value) > MAX_TAGS:
            raise TooMany(f"An image has at most {MAX_TAGS} tags.")
    elif key == "owner":
        need(value is None or (isinstance(value, str) and len(value) <= 255), "a project id")
    else:
        need(isinstance(value, str), "a string (custom properties are strings)")
        need(len(value) <= 65535, "at most 65535 characters")
    return value


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
            _check_value(key, attrs[key])
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
        stmt = _filtered(stmt, p)
        async with self.db.session() as s:
            if p.marker:
                marker = await s.get(m.Image, p.marker)
                if marker is None:
                    raise BadRequest(f"Invalid marker: image {p.marker} could not be found.")
                stmt = stmt.where(_after(marker, p.sort))
            order = [_ordering(SORTABLE[key], direction) for key, direction in _keys(p.sort)]
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
            state = _editable(image)
            for op in ops:
                _apply(state, op, image)
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
        _check_value("tags", [tag])
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


def _split_in(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]


def _time_filter(column: Any, value: str) -> ColumnElement[bool]:
    op, _, when = value.partition(":")
    ops = {
        "gt": column.__gt__,
        "gte": column.__ge__,
        "lt": column.__lt__,
        "lte": column.__le__,
        "eq": column.__eq__,
        "neq": column.__ne__,
    }
    if op not in ops or not when:
        raise BadRequest(
            f"Invalid time filter {value!r}: use gt:, gte:, lt:, lte:, eq: or neq: and an ISO 8601 time."
        )
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"Invalid time {when!r}.") from exc
    return ops[op](moment)  # type: ignore[no-any-return]


def _keys(sort: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sort keys with id appended (same direction as the last key) as the tie-breaker."""
    keys = list(sort)
    if keys[-1][0] != "id":
        keys.append(("id", keys[-1][1]))
    return keys


def _ordering(column: Any, direction: str) -> Any:
    """NULLs are the smallest value on every database: first ascending, last descending.

    PostgreSQL's default puts NULLs last ascending and SQLite's first, so say it explicitly.
    """
    return column.desc().nulls_last() if direction == "desc" else column.asc().nulls_first()


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def _after(marker: m.Image, sort: list[tuple[str, str]]) -> ColumnElement[bool]:
    """Rows after the marker in the order of _ordering over _keys(sort) (NULLs smallest)."""
    keys = _keys(sort)
    clauses = []
    for i, (key, direction) in enumerate(keys):
        column = SORTABLE[key]
        value = getattr(marker, key)
        equal_before = [_same(SORTABLE[k], getattr(marker, k)) for k, _ in keys[:i]]
        step: ColumnElement[bool]
        if value is None:
            # NULL is the smallest value: ascending, every non-NULL comes after it;
            # descending, NULLs come last so nothing comes after it at this key.
            step = column.is_not(None) if direction == "asc" else false()
        elif direction == "desc":
            step = or_(column < value, column.is_(None))
        else:
            step = column > value
        clauses.append(and_(*equal_before, step))
    return or_(*clauses)


def _editable(image: m.Image) -> dict[str, Any]:
    return {
        "name": image.name,
        "visibility": image.visibility,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "owner": image.owner,
        "tags": [t.name for t in image.tags],
        "properties": dict(image.properties),
    }


def _apply(state: dict[str, Any], op: Mapping[str, Any], image: m.Image) -> None:
    """One JSON-patch operation, with Glance's rules: one level of paths,
    ``add`` replaces, read-only and reserved attributes refused."""
    kind = op.get("op")
    path = op.get("path")
    if kind not in ("add", "replace", "remove"):
        raise BadRequest(f"Unsupported patch operation {kind!r}: use add, replace or remove.")
    if not isinstance(path, str) or not _PATH.match(path):
        raise BadRequest(f"Invalid JSON pointer {path!r}: paths are one level deep, like /name.")
    key = path[1:].replace("~1", "/").replace("~0", "~")
    if key in READ_ONLY:
        raise Forbidden(f"Attribute '{key}' is read-only.")
    if key.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{key}' is reserved.")
    if kind in ("add", "replace") and "value" not in op:
        raise BadRequest(f"Operation {kind} needs a value.")
    if key in CORE:
        if kind == "remove":
            raise Forbidden(f"Properties {key} cannot be deleted.")
        state[key] = _check_value(key, op["value"])
        return
    props = state["properties"]
    if kind == "remove":
        if key not in props:
            raise Conflict(f"Property {key} does not exist.")
        del props[key]
    elif kind == "replace" and key not in props:
        raise Conflict(f"Property {key} does not exist.")
    else:
        props[key] = _check_value(key, op["value"])


def _filtered(stmt: Select[Any], p: ListParams) -> Select[Any]:
    """The list's other filters: exact and ``in:`` values, hidden images,
    size ranges, times, tags and properties."""
    f = p.filters
    for key in ("name", "status", "owner", "disk_format", "container_format"):
        value = f.get(key)
        if value is None:
            continue
        column = getattr(m.Image, key)
        if isinstance(value, str) and value.startswith("in:"):
            stmt = stmt.where(column.in_(_split_in(value)))
        else:
            stmt = stmt.where(column == value)
    if (ids := f.get("id")) is not None:
        stmt = stmt.where(
            m.Image.id.in_(_split_in(ids)) if ids.startswith("in:") else m.Image.id == ids
        )
    for key in ("protected", "os_hidden"):
        if key in f:
            stmt = stmt.where(getattr(m.Image, key) == f[key])
    if "os_hidden" not in f:
        stmt = stmt.where(m.Image.os_hidden.is_(False))
    for key in ("size", "virtual_size", "min_disk", "min_ram", "checksum", "os_hash_value"):
        if (exact := f.get(key)) is not None:
            stmt = stmt.where(getattr(m.Image, key) == exact)
    if (size_min := f.get("size_min")) is not None:
        stmt = stmt.where(m.Image.size >= size_min)
    if (size_max := f.get("size_max")) is not None:
        stmt = stmt.where(m.Image.size <= size_max)
    for op_key, column in (
        ("created_at", m.Image.created_at),
        ("updated_at", m.Image.updated_at),
    ):
        if (value := f.get(op_key)) is not None:
            stmt = stmt.where(_time_filter(column, value))
    for tag in p.tags:
        stmt = stmt.where(exists().where(m.ImageTag.image_id == m.Image.id, m.ImageTag.name == tag))
    for key, value in p.properties.items():
        stmt = stmt.where(m.Image.properties[key].as_string() == value)
    return stmt
