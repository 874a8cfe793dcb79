"""Volume types (extra specs, private types and their access) and QoS specs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, Conflict, NotFound

DEFAULT_TYPE = "__DEFAULT__"
QOS_CONSUMERS = ("front-end", "back-end", "both")


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("true", "<is> true", "1", "yes", "on")


def is_multiattach(vtype: m.VolumeType | None) -> bool:
    return vtype is not None and _truthy(vtype.extra_specs.get("multiattach"))


class Types:
    def __init__(self, db: Database, default_name: str = DEFAULT_TYPE):
        self.db = db
        self.default_name = default_name

    async def ensure_default(self) -> None:
        async with self.db.transaction() as s:
            if await s.scalar(select(m.VolumeType).where(m.VolumeType.name == DEFAULT_TYPE)):
                return
            s.add(m.VolumeType(name=DEFAULT_TYPE, description="Default Volume Type"))

    async def default(self, s: AsyncSession) -> m.VolumeType:
        row = await s.scalar(select(m.VolumeType).where(m.VolumeType.name == self.default_name))
        if row is None:
            row = await s.scalar(select(m.VolumeType).where(m.VolumeType.name == DEFAULT_TYPE))
        if row is None:
            raise NotFound("The default volume type is missing.")
        return row

    @staticmethod
    def _access(ctx: RequestContext) -> Any:
        allowed = select(m.TypeAccess.volume_type_id).where(
            m.TypeAccess.project_id == (ctx.project_id or "")
        )
        return or_(m.VolumeType.is_public.is_(True), m.VolumeType.id.in_(allowed))

    async def find(self, s: AsyncSession, ctx: RequestContext, ref: str) -> m.VolumeType:
        """A type by id or name that the caller may use (404 otherwise)."""
        stmt = select(m.VolumeType).where(or_(m.VolumeType.id == ref, m.VolumeType.name == ref))
        if not ctx.is_admin:
            stmt = stmt.where(self._access(ctx))
        row = await s.scalar(stmt)
        if row is None:
            raise NotFound(f"Volume type with name {ref} could not be found.")
        return row

    async def get(self, ctx: RequestContext, ref: str) -> m.VolumeType:
        async with self.db.session() as s:
            if ref == "default":
                return await self.default(s)
            return await self.find(s, ctx, ref)

    async def list_types(self, ctx: RequestContext, is_public: str | None) -> list[m.VolumeType]:
        stmt = select(m.VolumeType).order_by(m.VolumeType.created_at, m.VolumeType.name)
        if not ctx.is_admin:
            stmt = stmt.where(self._access(ctx))
        elif is_public is not None and is_public.lower() != "none":
            stmt = stmt.where(m.VolumeType.is_public.is_(_truthy(is_public)))
        async with self.db.session() as s:
            return list((await s.scalars(stmt)).all())

    async def create(
        self, name: str, description: str | None, is_public: bool, specs: dict[str, str]
    ) -> m.VolumeType:
        async with self.db.transaction() as s:
            if await s.scalar(select(m.VolumeType).where(m.VolumeType.name == name)):
                raise Conflict(f"Volume Type {name} already exists.")
            row = m.VolumeType(
                name=name, description=description, is_public=is_public, extra_specs=specs
            )
            s.add(row)
        return row

    async def update(self, type_id: str, changes: dict[str, Any]) -> m.VolumeType:
        async with self.db.transaction() as s:
            row = await self._row(s, type_id)
            if "name" in changes and changes["name"] != row.name:
                if row.name == DEFAULT_TYPE:
                    raise BadRequest("The default volume type cannot be renamed.")
                if await s.scalar(select(m.VolumeType).where(m.VolumeType.name == changes["name"])):
                    raise Conflict(f"Volume Type {changes['name']} already exists.")
                row.name = changes["name"]
            if "description" in changes:
                row.description = changes["description"]
            if changes.get("is_public") is not None:
                row.is_public = bool(changes["is_public"])
        return row

    async def _row(self, s: AsyncSession, type_id: str) -> m.VolumeType:
        row = await s.get(m.VolumeType, type_id)
        if row is None:
            raise NotFound(f"Volume type {type_id} could not be found.")
        return row

    async def delete(self, type_id: str) -> None:
        async with self.db.transaction() as s:
            row = await self._row(s, type_id)
            if row.name in (DEFAULT_TYPE, self.default_name):
                raise BadRequest("The default volume type cannot be deleted.")
            used = await s.scalar(
                select(func.count()).select_from(m.Volume).where(m.Volume.volume_type_id == row.id)
            )
            if used:
                raise BadRequest("Target volume type is still in use.")
            await s.delete(row)

    async def set_specs(self, type_id: str, specs: dict[str, str]) -> dict[str, str]:
        async with self.db.transaction() as s:
            row = await self._row(s, type_id)
            await self._refuse_if_used(s, row, specs)
            row.extra_specs = {**row.extra_specs, **specs}
            return dict(row.extra_specs)

    async def _refuse_if_used(self, s: AsyncSession, row: m.VolumeType, keys: Any) -> None:
        if "multiattach" in keys or "volume_backend_name" in keys:
            used = await s.scalar(
                select(func.count()).select_from(m.Volume).where(m.Volume.volume_type_id == row.id)
            )
            if used:
                raise BadRequest("Target volume type is still in use.")

    async def delete_spec(self, type_id: str, key: str) -> None:
        async with self.db.transaction() as s:
            row = await self._row(s, type_id)
            if key not in row.extra_specs:
                raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
            await self._refuse_if_used(s, row, {key})
            row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}

    async def access(self, type_id: str) -> list[str]:
        async with self.db.session() as s:
            row = await self._row(s, type_id)
            if row.is_public:
                raise NotFound("Access list not available for public volume types.")
            return list(
                (
                    await s.scalars(
                        select(m.TypeAccess.project_id).where(m.TypeAccess.volume_type_id == row.id)
                    )
                ).all()
            )

    async def change_access(self, type_id: str, project_id: str, add: bool) -> None:
        async with self.db.transaction() as s:
            row = await self._row(s, type_id)
            if row.is_public:
                raise BadRequest(
                    "Invalid volume type: Type access modification is not applicable to "
                    "public volume type."
                )
            have = await s.get(m.TypeAccess, (row.id, project_id))
            if add and have is not None:
                raise Conflict(
                    f"Volume type access for {type_id}/{project_id} combination already exists."
                )
            if not add and have is None:
                raise NotFound(f"Volume type access not found for {type_id}/{project_id}.")
            if add:
                s.add(m.TypeAccess(volume_type_id=row.id, project_id=project_id))
            else:
                await s.delete(have)


class Qos:
    def __init__(self, db: Database):
        self.db = db

    async def _row(self, s: AsyncSession, qos_id: str) -> m.QosSpecs:
        row = await s.get(m.QosSpecs, qos_id)
        if row is None:
            raise NotFound(f"QoS Specs {qos_id} could not be found.")
        return row

    async def create(self, name: str, specs: dict[str, str]) -> m.QosSpecs:
        consumer = specs.pop("consumer", "back-end")
        if consumer not in QOS_CONSUMERS:
            raise BadRequest(
                f"Invalid consumer {consumer!r}: use one of {', '.join(QOS_CONSUMERS)}."
            )
        async with self.db.transaction() as s:
            if await s.scalar(select(m.QosSpecs).where(m.QosSpecs.name == name)):
                raise Conflict(f"QoS Specs {name} already exists.")
            row = m.QosSpecs(name=name, consumer=consumer, specs=specs)
            s.add(row)
        return row

    async def list_specs(self) -> list[m.QosSpecs]:
        async with self.db.session() as s:
            return list((await s.scalars(select(m.QosSpecs).order_by(m.QosSpecs.name))).all())

    async def get(self, qos_id: str) -> m.QosSpecs:
        async with self.db.session() as s:
            return await self._row(s, qos_id)

    async def set_keys(self, qos_id: str, specs: dict[str, str]) -> dict[str, str]:
        async with self.db.transaction() as s:
            row = await self._row(s, qos_id)
            if "consumer" in specs:
                consumer = specs.pop("consumer")
                if consumer not in QOS_CONSUMERS:
                    raise BadRequest(f"Invalid consumer {consumer!r}.")
                row.consumer = consumer
            row.specs = {**row.specs, **specs}
            return dict(row.specs)

    async def delete_keys(self, qos_id: str, keys: list[str]) -> None:
        async with self.db.transaction() as s:
            row = await self._row(s, qos_id)
            missing = [k for k in keys if k not in row.specs]
            if missing:
                raise NotFound(f"QoS spec {qos_id} has no key {missing[0]}.")
            row.specs = {k: v for k, v in row.specs.items() if k not in keys}

    async def delete(self, qos_id: str, force: bool) -> None:
        async with self.db.transaction() as s:
            row = await self._row(s, qos_id)
            types = (
                await s.scalars(select(m.VolumeType).where(m.VolumeType.qos_specs_id == row.id))
            ).all()
            if types and not force:
                raise BadRequest(f"QoS Specs {qos_id} is still associated with entities.")
            for vtype in types:
                vtype.qos_specs_id = None
            await s.delete(row)

    async def associations(self, qos_id: str) -> list[m.VolumeType]:
        async with self.db.session() as s:
            await self._row(s, qos_id)
            stmt = select(m.VolumeType).where(m.VolumeType.qos_specs_id == qos_id)
            return list((await s.scalars(stmt)).all())

    async def associate(self, qos_id: str, type_id: str | None, on: bool) -> None:
        if not type_id:
            raise BadRequest("Missing required parameter vol_type_id.")
        async with self.db.transaction() as s:
            await self._row(s, qos_id)
            vtype = await s.get(m.VolumeType, type_id)
            if vtype is None:
                raise NotFound(f"Volume type {type_id} could not be found.")
            if on:
                if vtype.qos_specs_id not in (None, qos_id):
                    raise BadRequest(
                        f"Type {type_id} is already associated with another qos specs: "
                        f"{vtype.qos_specs_id}"
                    )
                vtype.qos_specs_id = qos_id
            elif vtype.qos_specs_id == qos_id:
                vtype.qos_specs_id = None

    async def disassociate_all(self, qos_id: str) -> None:
        async with self.db.transaction() as s:
            await self._row(s, qos_id)
            for vtype in (
                await s.scalars(select(m.VolumeType).where(m.VolumeType.qos_specs_id == qos_id))
            ).all():
                vtype.qos_specs_id = None
