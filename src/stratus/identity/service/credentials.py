"""Application credentials: a user's delegation of (some of) their roles on
one project to a secret that authenticates without their password."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.identity import models as m
from stratus.identity.errors import Forbidden, ValidationError, conflict, not_found
from stratus.identity.service.core import Core


class Credentials:
    def __init__(self, core: Core):
        self.core = core

    async def get(
        self, user_id: str, cred_id: str, s: AsyncSession | None = None
    ) -> m.ApplicationCredential:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get(user_id, cred_id, session)
        cred = await s.get(m.ApplicationCredential, cred_id)
        if cred is None or cred.user_id != user_id:
            raise not_found("application credential", cred_id)
        return cred

    async def list_credentials(
        self, user_id: str, name: str | None
    ) -> list[m.ApplicationCredential]:
        async with self.core.db.session() as s:
            if await s.get(m.User, user_id) is None:
                raise not_found("user", user_id)
            stmt = select(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user_id)
            if name:
                stmt = stmt.where(m.ApplicationCredential.name == name)
            return list((await s.scalars(stmt.order_by(m.ApplicationCredential.name))).all())

    async def create(
        self, ctx: RequestContext, user_id: str, attrs: dict[str, Any]
    ) -> tuple[m.ApplicationCredential, str]:
        """Create a credential from the caller's project-scoped token; return
        it with its secret, which is never shown again."""
        if ctx.project_id is None:
            raise Forbidden("An application credential is created with a project-scoped token.")
        if ctx.application_credential_id is not None:
            async with self.core.db.session() as s:
                parent = await s.get(m.ApplicationCredential, ctx.application_credential_id)
            if parent is None or not parent.unrestricted:
                raise Forbidden(
                    "A restricted application credential cannot create application credentials."
                )
        if attrs.get("access_rules"):
            raise ValidationError("Access rules are not supported; leave access_rules empty.")
        expires_at: datetime | None = attrs.get("expires_at")
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at is not None and expires_at <= utcnow():
            raise ValidationError("expires_at must be in the future.")
        secret = attrs.get("secret") or secrets.token_urlsafe(48)
        secret_hash = await self.core.hasher.hash(secret)
        async with self.core.write() as s:
            held = dict(zip(ctx.role_ids, ctx.roles, strict=False))
            wanted = attrs.get("roles") or []
            role_ids: list[str] = []
            if not wanted:
                role_ids = list(ctx.role_ids)
            for ref in wanted:
                rid = ref.get("id")
                if rid is None:
                    rid = next((i for i, n in held.items() if n == ref.get("name")), None)
                if rid is None or rid not in held:
                    raise Forbidden(
                        f"You hold no role {ref.get('id') or ref.get('name')!r} on this project."
                    )
                role_ids.append(rid)
            name = attrs["name"]
            if await s.scalar(
                select(m.ApplicationCredential.id).where(
                    m.ApplicationCredential.user_id == user_id, m.ApplicationCredential.name == name
                )
            ):
                raise conflict("application credential", f"you have one named {name!r}")
            cred = m.ApplicationCredential(
                id=m.new_id(),
                name=name,
                user_id=user_id,
                project_id=ctx.project_id,
                secret_hash=secret_hash,
                description=attrs.get("description"),
                expires_at=expires_at,
                unrestricted=bool(attrs.get("unrestricted")),
                role_ids=list(dict.fromkeys(role_ids)),
            )
            s.add(cred)
        return cred, secret

    async def delete(self, user_id: str, cred_id: str) -> None:
        async with self.core.write() as s:
            cred = await self.get(user_id, cred_id, s)
            await s.delete(cred)
