"""What a token resolves to (its user, scope, roles and catalog) and how a
token is shown: the token body and the request context services act on."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stratus.common.access_rules import AccessRule
from stratus.common.context import RequestContext
from stratus.identity.errors import Unauthorized
from stratus.identity.service.tokens import UNSCOPED, TokenPayload


class TokenInvalid(Unauthorized):
    """The token is garbled, expired, revoked, or no longer resolves."""

    default_message = "The token is not valid: it is expired, revoked or malformed."


@dataclass
class AuthInfo:
    """What a token payload resolves to; cached until identity data changes."""

    user: dict[str, Any]
    project: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    system: bool = False
    roles: list[dict[str, str]] = field(default_factory=list)
    catalog: list[dict[str, Any]] = field(default_factory=list)
    app_cred: dict[str, Any] | None = None
    app_cred_expires: float | None = None
    trust: dict[str, Any] | None = None
    trust_expires: float | None = None


@functools.lru_cache(maxsize=65536)
def isotime(ts: float) -> str:
    """A token time as Keystone writes it: whole seconds (``...:07.000000Z``),
    the same when the token is issued, validated or re-scoped."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def render_token(payload: TokenPayload, info: AuthInfo, *, catalog: bool = True) -> dict[str, Any]:
    token: dict[str, Any] = {
        "methods": list(payload.methods),
        "user": info.user,
        "audit_ids": list(payload.audit_ids),
        "expires_at": isotime(payload.expires_at),
        "issued_at": isotime(payload.issued_at),
    }
    if info.project is not None:
        token["project"] = info.project
        token["is_domain"] = False
    elif info.domain is not None:
        token["domain"] = info.domain
    elif info.system:
        token["system"] = {"all": True}
    if payload.scope != UNSCOPED:
        token["roles"] = info.roles
        if catalog:
            token["catalog"] = info.catalog
    if info.app_cred is not None:
        token["application_credential"] = info.app_cred
    if info.trust is not None:
        token["OS-TRUST:trust"] = info.trust
    return {"token": token}


def to_context(
    payload: TokenPayload, info: AuthInfo, token: str, request_id: str
) -> RequestContext:
    project = info.project or {}
    project_domain = project.get("domain") or {}
    domain = info.domain or {}
    rules = (info.app_cred or {}).get("access_rules")
    return RequestContext(
        request_id=request_id,
        user_id=payload.user_id,
        user_name=info.user["name"],
        user_domain_id=info.user["domain"]["id"],
        user_domain_name=info.user["domain"]["name"],
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=project_domain.get("id"),
        project_domain_name=project_domain.get("name"),
        domain_id=domain.get("id"),
        domain_name=domain.get("name"),
        system_scope="all" if info.system else None,
        roles=tuple(r["name"] for r in info.roles),
        role_ids=tuple(r["id"] for r in info.roles),
        auth_methods=payload.methods,
        audit_ids=payload.audit_ids,
        application_credential_id=payload.app_cred_id,
        access_rules=None if rules is None else tuple(AccessRule.from_token(r) for r in rules),
        expires_at=isotime(payload.expires_at),
        token=token,
    )
