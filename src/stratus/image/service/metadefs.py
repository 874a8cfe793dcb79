"""The metadata definitions catalogue (Glance's /v2/metadefs): namespaces,
their resource type associations, objects, properties and tags.

A private namespace is visible to its owner's project and to admins only;
one that is not visible is not found.  A protected namespace, and what is in
it, cannot be deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Base, Database, utcnow
from stratus.image import models as m
from stratus.image.errors import BadRequest, Conflict, Forbidden, NotFound

# The resource types Glance knows from the start (its metadefs seed them).
RESOURCE_TYPES = (
    "OS::Cinder::Volume",
    "OS::Glance::Image",
    "OS::Nova::Aggregate",
    "OS::Nova::Flavor",
    "OS::Nova::Server",
    "OS::Trove::Instance",
)
NAMESPACE_SORT = {
    "created_at": m.MetadefNamespace.created_at,
    "updated_at": m.MetadefNamespace.updated_at,
    "namespace": m.MetadefNamespace.namespace,
    "id": m.MetadefNamespace.id,
}

Row = TypeVar("Row", m.MetadefObject, m.MetadefProperty, m.MetadefTag)


@dataclass
class NamespaceQuery:
    limit: int
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    visibility: str | None = None
    resource_types: list[str] = field(default_factory=list)


@dataclass
class Contents:
    """What a namespace holds, for showing it."""

    associations: list[m.MetadefResourceType]
    objects: list[m.MetadefObject]
    properties: list[m.MetadefProperty]
    tags: list[m.MetadefTag]


def _what(model: type[Base]) -> str:
    return {
        m.MetadefObject: "Metadata definition object",
        m.MetadefProperty: "Metadata definition property",
        m.MetadefTag: "Metadata definition tag",
    }.get(model, "Item")


class Metadefs:
    def __init__(self, db: Database):
        self.db = db

    # -- namespaces ----------------------------------------------------------------------

    @staticmethod
    def _visible(ctx: RequestContext, ns: m.MetadefNamespace) -> bool:
        return ns.visibility == "public" or ctx.owns(ns.owner or "")

    async def _load(self, s: AsyncSession, ctx: RequestContext, name: str) -> m.MetadefNamespace:
        ns = await s.scalar(select(m.MetadefNamespace).where(m.MetadefNamespace.namespace == name))
        if ns is None or not self._visible(ctx, ns):
            raise NotFound(f"Metadata definition namespace={name} was not found.")
        return ns

    async def namespace(self, ctx: RequestContext, name: str) -> m.MetadefNamespace:
        async with self.db.session() as s:
            return await self._load(s, ctx, name)

    async def contents(self, ns: m.MetadefNamespace) -> Contents:
        async with self.db.session() as s:

            async def rows(model: type[Row]) -> list[Row]:
                stmt = select(model).where(model.namespace_id == ns.id).order_by(model.name)
                return list((await s.scalars(stmt)).all())

            assocs = await s.scalars(
                select(m.MetadefResourceType)
                .where(m.MetadefResourceType.namespace_id == ns.id)
                .order_by(m.MetadefResourceType.name)
            )
            return Contents(
                list(assocs.all()),
                await rows(m.MetadefObject),
                await rows(m.MetadefProperty),
                await rows(m.MetadefTag),
            )

    async def list_namespaces(
        self, ctx: RequestContext, q: NamespaceQuery
    ) -> tuple[list[m.MetadefNamespace], str | None]:
        ns = m.MetadefNamespace
        column = NAMESPACE_SORT.get(q.sort_key)
        if column is None:
            raise BadRequest(
                f"Invalid sort key: {q.sort_key}. Use one of {', '.join(NAMESPACE_SORT)}."
            )
        if q.sort_dir not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {q.sort_dir}. Use asc or desc.")
        if q.visibility is not None and q.visibility not in ("public", "private"):
            raise BadRequest(f"Invalid visibility: {q.visibility}. Use public or private.")
        stmt = select(ns)
        if not ctx.is_admin:
            stmt = stmt.where((ns.visibility == "public") | (ns.owner == ctx.project_id))
        if q.visibility is not None:
            stmt = stmt.where(ns.visibility == q.visibility)
        if q.resource_types:
            stmt = stmt.where(
                ns.id.in_(
                    select(m.MetadefResourceType.namespace_id).where(
                        m.MetadefResourceType.name.in_(q.resource_types)
                    )
                )
            )
        async with self.db.session() as s:
            if q.marker is not None:
                marker = await s.scalar(select(ns).where(ns.namespace == q.marker))
                if marker is None or not self._visible(ctx, marker):
                    raise NotFound(f"Metadata definition namespace={q.marker} was not found.")
                value = getattr(marker, q.sort_key)
                after = column > value if q.sort_dir == "asc" else column < value
                tie = (column == value) & (
                    ns.id > marker.id if q.sort_dir == "asc" else ns.id < marker.id
                )
                stmt = stmt.where(after | tie)
            order = (
                (column.asc(), ns.id.asc())
                if q.sort_dir == "asc"
                else (column.desc(), ns.id.desc())
            )
            rows = list((await s.scalars(stmt.order_by(*order).limit(q.limit + 1))).all())
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        return rows, (rows[-1].namespace if more and rows else None)

    async def associations_of(
        self, namespaces: list[m.MetadefNamespace]
    ) -> dict[str, list[m.MetadefResourceType]]:
        """The resource type associations of these namespaces, by their id."""
        out: dict[str, list[m.MetadefResourceType]] = {ns.id: [] for ns in namespaces}
        if not namespaces:
            return out
        async with self.db.session() as s:
            rows = await s.scalars(
                select(m.MetadefResourceType)
                .where(m.MetadefResourceType.namespace_id.in_(list(out)))
                .order_by(m.MetadefResourceType.name)
            )
            for row in rows:
                out[row.namespace_id].append(row)
        return out

    async def create_namespace(
        self, ctx: RequestContext, attrs: dict[str, Any]
    ) -> m.MetadefNamespace:
        """``attrs`` may carry the namespace's first objects, properties,
        tags and resource type associations, as Glance's create does."""
        objects = attrs.pop("objects", None) or []
        properties = attrs.pop("properties", None) or {}
        tags = attrs.pop("tags", None) or []
        assocs = attrs.pop("resource_type_associations", None) or []
        attrs.setdefault("owner", ctx.project_id)
        attrs["visibility"] = attrs.get("visibility") or "private"
        attrs["protected"] = bool(attrs.get("protected"))
        async with self.db.transaction() as s:
            await self._unique_namespace(s, attrs["namespace"])
            ns = m.MetadefNamespace(**attrs)
            s.add(ns)
            await s.flush()
            for obj in objects:
                s.add(m.MetadefObject(namespace_id=ns.id, **_object_columns(obj)))
            for name, definition in properties.items():
                s.add(m.MetadefProperty(namespace_id=ns.id, name=name, schema=definition))
            for tag in {t["name"]: t for t in tags}:
                s.add(m.MetadefTag(namespace_id=ns.id, name=tag))
            for assoc in assocs:
                s.add(m.MetadefResourceType(namespace_id=ns.id, **assoc))
        return ns

    @staticmethod
    async def _unique_namespace(s: AsyncSession, name: str) -> None:
        taken = await s.scalar(
            select(m.MetadefNamespace.id).where(m.MetadefNamespace.namespace == name)
        )
        if taken is not None:
            raise Conflict(f"Metadata definition namespace={name} already exists.")

    async def update_namespace(
        self, ctx: RequestContext, name: str, attrs: dict[str, Any]
    ) -> m.MetadefNamespace:
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            new_name = attrs.get("namespace", name)
            if new_name != name:
                await self._unique_namespace(s, new_name)
            for key, value in attrs.items():
                if key == "owner" and value is None:
                    continue
                if key == "visibility" and value is None:
                    value = "private"
                if key == "protected":
                    value = bool(value)
                setattr(ns, key, value)
            ns.updated_at = utcnow()
        return ns

    async def delete_namespace(self, ctx: RequestContext, name: str) -> None:
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            if ns.protected:
                raise Forbidden(f"Namespace {name} is protected and cannot be deleted.")
            for model in (m.MetadefObject, m.MetadefProperty, m.MetadefTag, m.MetadefResourceType):
                await s.execute(delete(model).where(model.namespace_id == ns.id))
            await s.delete(ns)

    # -- resource types ----------------------------------------------------------------

    async def resource_types(self) -> list[tuple[str, Any]]:
        """Every resource type: Glance's own and any associated since."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(m.MetadefResourceType.name, m.MetadefResourceType.created_at)
                )
            ).all()
        first: dict[str, Any] = {name: None for name in RESOURCE_TYPES}
        for name, created in rows:
            if first.get(name) is None or created < first[name]:
                first[name] = created
        return sorted(first.items())

    async def associations(self, ctx: RequestContext, name: str) -> list[m.MetadefResourceType]:
        ns = await self.namespace(ctx, name)
        return (await self.contents(ns)).associations

    async def associate(
        self, ctx: RequestContext, name: str, attrs: dict[str, Any]
    ) -> m.MetadefResourceType:
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            if await s.get(m.MetadefResourceType, (ns.id, attrs["name"])) is not None:
                raise Conflict(
                    f"The metadata definition resource-type association of"
                    f" resource-type={attrs['name']} to namespace={name}, already exists."
                )
            row = m.MetadefResourceType(namespace_id=ns.id, **attrs)
            s.add(row)
        return row

    async def dissociate(self, ctx: RequestContext, name: str, resource_type: str) -> None:
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            row = await s.get(m.MetadefResourceType, (ns.id, resource_type))
            if row is None:
                raise NotFound(
                    f"The metadata definition resource-type association of"
                    f" resource-type={resource_type} to namespace={name}, was not found."
                )
            if ns.protected:
                raise Forbidden(
                    f"Namespace {name} is protected: its resource type associations"
                    " cannot be deleted."
                )
            await s.delete(row)

    # -- objects, properties, tags (rows named within a namespace) ---------------------

    async def items(self, ctx: RequestContext, name: str, model: type[Row]) -> list[Row]:
        async with self.db.session() as s:
            ns = await self._load(s, ctx, name)
            stmt = select(model).where(model.namespace_id == ns.id).order_by(model.name)
            return list((await s.scalars(stmt)).all())

    async def _item(
        self, s: AsyncSession, ns: m.MetadefNamespace, model: type[Row], item: str
    ) -> Row:
        row = await s.scalar(select(model).where(model.namespace_id == ns.id, model.name == item))
        if row is None:
            raise NotFound(f"{_what(model)} {item} was not found in namespace {ns.namespace}.")
        return row

    async def _free(
        self, s: AsyncSession, ns: m.MetadefNamespace, model: type[Row], item: str
    ) -> None:
        taken = await s.scalar(
            select(model.id).where(model.namespace_id == ns.id, model.name == item)
        )
        if taken is not None:
            raise Conflict(f"{_what(model)} {item} already exists in namespace {ns.namespace}.")

    async def item(self, ctx: RequestContext, name: str, model: type[Row], item: str) -> Row:
        async with self.db.session() as s:
            ns = await self._load(s, ctx, name)
            return await self._item(s, ns, model, item)

    async def add_item(
        self, ctx: RequestContext, name: str, model: type[Row], attrs: dict[str, Any]
    ) -> Row:
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            await self._free(s, ns, model, attrs["name"])
            row = model(namespace_id=ns.id, **attrs)
            s.add(row)
            await s.flush()
        return row

    async def replace_tags(
        self, ctx: RequestContext, name: str, tags: list[str], append: bool
    ) -> list[m.MetadefTag]:
        """POST .../tags: these tags, in place of the old ones unless appended."""
        if len(set(tags)) != len(tags):
            raise Conflict("The request has the same tag more than once.")
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            if append:
                for tag in tags:
                    await self._free(s, ns, m.MetadefTag, tag)
            else:
                await s.execute(delete(m.MetadefTag).where(m.MetadefTag.namespace_id == ns.id))
            rows = [m.MetadefTag(namespace_id=ns.id, name=tag) for tag in tags]
            s.add_all(rows)
        return rows

    async def update_item(
        self, ctx: RequestContext, name: str, model: type[Row], item: str, attrs: dict[str, Any]
    ) -> Row:
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            row = await self._item(s, ns, model, item)
            if attrs.get("name", item) != item:
                await self._free(s, ns, model, attrs["name"])
            for key, value in attrs.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        return row

    async def delete_item(
        self, ctx: RequestContext, name: str, model: type[Row], item: str | None
    ) -> None:
        """One item, or (``item`` None) all of the namespace's."""
        async with self.db.transaction() as s:
            ns = await self._load(s, ctx, name)
            row = await self._item(s, ns, model, item) if item is not None else None
            if ns.protected:
                raise Forbidden(f"Namespace {name} is protected: what it holds cannot be deleted.")
            if row is not None:
                await s.delete(row)
            else:
                await s.execute(delete(model).where(model.namespace_id == ns.id))


def _object_columns(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": obj["name"],
        "description": obj.get("description"),
        "required": obj.get("required") or [],
        "properties": obj.get("properties") or {},
    }
