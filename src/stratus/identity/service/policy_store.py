"""Policy blobs (Keystone's /v3/policies): stored and served, never enforced."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stratus.identity import models as m
from stratus.identity.errors import not_found
from stratus.identity.service.core import Core


class PolicyStore:
    def __init__(self, core: Core):
        self.core = core

    async def get(self, policy_id: str) -> m.Policy:
        async with self.core.db.session() as s:
            policy = await s.get(m.Policy, policy_id)
        if policy is None:
            raise not_found("policy", policy_id)
        return policy

    async def list_policies(self, type_: str | None) -> list[m.Policy]:
        stmt = select(m.Policy).order_by(m.Policy.id)
        if type_ is not None:
            stmt = stmt.where(m.Policy.type == type_)
        async with self.core.db.session() as s:
            return list((await s.scalars(stmt)).all())

    async def create(self, attrs: dict[str, Any]) -> m.Policy:
        attrs.pop("id", None)
        async with self.core.write() as s:
            policy = m.Policy(
                id=m.new_id(), type=attrs.pop("type"), blob=attrs.pop("blob"), extra=attrs
            )
            s.add(policy)
        return policy

    async def update(self, policy_id: str, attrs: dict[str, Any]) -> m.Policy:
        attrs.pop("id", None)
        async with self.core.write() as s:
            policy = await s.get(m.Policy, policy_id)
            if policy is None:
                raise not_found("policy", policy_id)
            for key in ("type", "blob"):
                if key in attrs:
                    setattr(policy, key, attrs.pop(key))
            if attrs:
                policy.extra = {**policy.extra, **attrs}
        return policy

    async def delete(self, policy_id: str) -> None:
        async with self.core.write() as s:
            policy = await s.get(m.Policy, policy_id)
            if policy is None:
                raise not_found("policy", policy_id)
            await s.delete(policy)
