"""Octavia's flavors: flavor profiles (a provider and its settings, kept by
admins) and the flavors over them that users pick at ``loadbalancer
create``.  The haproxy provider offers no flavor capabilities yet, so a
profile's ``flavor_data`` is a JSON object with none of its own keys (``{}``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.loadbalancer import models as m
from stratus.loadbalancer.errors import Conflict, InvalidOption, NotFound, ValidationException
from stratus.loadbalancer.service.core import Core

PROVIDERS = ("haproxy",)
CAPABILITIES: dict[str, str] = {}  # flavor_data keys the haproxy provider takes


def check_data(provider: str, data: str) -> str:
    if provider not in PROVIDERS:
        raise InvalidOption(f"Provider '{provider}' is not enabled.")
    try:
        parsed = json.loads(data)
    except ValueError:
        raise ValidationException("flavor_data must be a JSON object.") from None
    if not isinstance(parsed, dict):
        raise ValidationException("flavor_data must be a JSON object.")
    for key in parsed:
        if key not in CAPABILITIES:
            raise InvalidOption(
                f"Provider '{provider}' does not support a requested option: {key}"
            )
    return data


class Flavors:
    def __init__(self, core: Core):
        self.core = core

    async def find(self, kind: type[Any]) -> list[Any]:
        async def work(s: AsyncSession) -> list[Any]:
            return list((await s.scalars(select(kind).order_by(kind.name, kind.id))).all())

        return await self.core.read(work)

    async def get(self, kind: type[Any], ident: str) -> Any:
        return await self.core.read(lambda s: self._load(s, kind, ident))

    @staticmethod
    async def _load(s: AsyncSession, kind: type[Any], ident: str) -> Any:
        row = await s.get(kind, ident)
        if row is None:
            name = "Flavor" if kind is m.Flavor else "Flavor profile"
            raise NotFound(name, ident)
        return row

    async def create(self, kind: type[Any], attrs: dict[str, Any]) -> Any:
        async def work(s: AsyncSession) -> Any:
            row = kind(**attrs)
            await self._check(s, row)
            s.add(row)
            await s.flush()
            return row

        return await self.core.write(work)

    async def update(self, kind: type[Any], ident: str, attrs: dict[str, Any]) -> Any:
        async def work(s: AsyncSession) -> Any:
            row = await self._load(s, kind, ident)
            if kind is m.FlavorProfile and await self._used(s, kind, row.id):
                if set(attrs) - {"name"}:
                    raise Conflict(f"Flavor profile {row.id} is in use and cannot be modified.")
            for key, value in attrs.items():
                if value is not None:
                    setattr(row, key, value)
            await self._check(s, row)
            return row

        return await self.core.write(work)

    async def delete(self, kind: type[Any], ident: str) -> None:
        async def work(s: AsyncSession) -> None:
            row = await self._load(s, kind, ident)
            if await self._used(s, kind, row.id):
                name = "Flavor" if kind is m.Flavor else "Flavor profile"
                raise Conflict(f"{name} {row.id} is in use and cannot be deleted.")
            await s.delete(row)

        await self.core.write(work)

    @staticmethod
    async def _used(s: AsyncSession, kind: type[Any], ident: str) -> bool:
        if kind is m.Flavor:
            stmt = select(m.LoadBalancer.id).where(
                m.LoadBalancer.flavor_id == ident, m.LoadBalancer.provisioning_status != m.DELETED
            )
        else:
            stmt = select(m.Flavor.id).where(m.Flavor.flavor_profile_id == ident)
        return await s.scalar(stmt.limit(1)) is not None

    async def _check(self, s: AsyncSession, row: Any) -> None:
        if isinstance(row, m.FlavorProfile):
            row.flavor_data = check_data(row.provider_name, row.flavor_data or "{}")
            return
        if await s.get(m.FlavorProfile, row.flavor_profile_id) is None:
            raise InvalidOption(f"Flavor profile {row.flavor_profile_id} not found.")
        same = await s.scalar(
            select(m.Flavor.id).where(m.Flavor.name == row.name, m.Flavor.id != (row.id or ""))
        )
        if same is not None:
            raise Conflict(f"A flavor named {row.name} already exists.")

    async def usable(self, s: AsyncSession, flavor_id: str) -> None:
        """A load balancer's ``flavor_id``: an enabled flavor (400 otherwise)."""
        flavor = await s.get(m.Flavor, flavor_id)
        if flavor is None:
            raise InvalidOption(f"Validation failure: Invalid flavor_id {flavor_id}.")
        if not flavor.enabled:
            raise InvalidOption(
                f"The selected flavor is not allowed in this deployment: {flavor_id}"
            )
