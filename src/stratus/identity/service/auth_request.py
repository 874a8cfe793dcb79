"""What a token request asks for, and finding what it names: the user,
the application credential and the scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import BadRequest, Unauthorized
from stratus.identity.service.tokens import DOMAIN, PROJECT, SYSTEM, UNSCOPED


@dataclass(frozen=True)
class NamedRef:
    """Something named by id, or by name within a domain named by id or name."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class AuthRequest:
    methods: tuple[str, ...]
    password_user: NamedRef | None = None
    password: str | None = None
    token: str | None = None
    app_cred_id: str | None = None
    app_cred_name: str | None = None
    app_cred_user: NamedRef | None = None
    app_cred_secret: str | None = None
    scope_kind: str | None = None  # "project" | "domain" | "system" | "trust" | None
    scope: NamedRef | None = None


async def find_user(s: AsyncSession, ref: NamedRef) -> m.User | None:
    if ref.id:
        return await s.get(m.User, ref.id)
    if not ref.name:
        raise BadRequest(
            "Invalid input for field 'user': an id, or a name and a domain, is required."
        )
    domain_id = ref.domain_id
    if domain_id is None:
        if ref.domain_name is None:
            raise BadRequest("Invalid input for field 'user': a user named by name needs a domain.")
        domain_id = await s.scalar(select(m.Domain.id).where(m.Domain.name == ref.domain_name))
        if domain_id is None:
            return None
    return await s.scalar(
        select(m.User).where(m.User.domain_id == domain_id, m.User.name == ref.name)
    )


async def scope_target(s: AsyncSession, req: AuthRequest) -> tuple[int, str | None]:
    ref = req.scope
    if req.scope_kind is None or ref is None:
        return UNSCOPED, None
    if req.scope_kind == "system":
        return SYSTEM, "all"
    if req.scope_kind == "domain":
        if ref.id:
            return DOMAIN, ref.id
        if not ref.name:
            raise BadRequest("Invalid input for field 'scope.domain': an id or a name is required.")
        domain_id = await s.scalar(select(m.Domain.id).where(m.Domain.name == ref.name))
        if domain_id is None:
            raise Unauthorized(f"Could not find domain: {ref.name}.")
        return DOMAIN, domain_id
    if ref.id:
        return PROJECT, ref.id
    if not ref.name or not (ref.domain_id or ref.domain_name):
        raise BadRequest(
            "Invalid input for field 'scope.project': an id, or a name and a domain, is required."
        )
    domain_id = ref.domain_id or await s.scalar(
        select(m.Domain.id).where(m.Domain.name == ref.domain_name)
    )
    project_id = await s.scalar(
        select(m.Project.id).where(m.Project.domain_id == domain_id, m.Project.name == ref.name)
    )
    if project_id is None:
        raise Unauthorized(f"Could not find project: {ref.name}.")
    return PROJECT, project_id


async def find_app_cred(s: AsyncSession, req: AuthRequest) -> m.ApplicationCredential | None:
    if req.app_cred_secret is None:
        raise BadRequest(
            "Invalid input for field 'identity.application_credential': a secret is required."
        )
    if req.app_cred_id:
        return await s.get(m.ApplicationCredential, req.app_cred_id)
    if not req.app_cred_name or req.app_cred_user is None:
        raise BadRequest(
            "Invalid input for field 'identity.application_credential': an id, or a name and a user, is required."
        )
    user = await find_user(s, req.app_cred_user)
    if user is None:
        return None
    return await s.scalar(
        select(m.ApplicationCredential).where(
            m.ApplicationCredential.user_id == user.id,
            m.ApplicationCredential.name == req.app_cred_name,
        )
    )
