"""Trusts: /v3/OS-TRUST/trusts (``openstack trust``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity import models as m
from stratus.identity.api import views
from stratus.identity.errors import Forbidden, not_found
from stratus.identity.service import IdentityService
from stratus.identity.service.token_info import isotime

BASE = "OS-TRUST/trusts"


def _target(t: m.Trust) -> dict[str, str]:
    return {
        "target.trust.trustor_user_id": t.trustor_user_id,
        "target.trust.trustee_user_id": t.trustee_user_id,
    }


def _trust(t: m.Trust, roles: dict[str, m.Role], base: str) -> dict[str, Any]:
    return {
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
        "expires_at": isotime(t.expires_at.timestamp()) if t.expires_at else None,
        "remaining_uses": t.remaining_uses,
        "allow_redelegation": False,
        "redelegated_trust_id": None,
        "redelegation_count": 0,
        "deleted_at": None,
        "roles": [views.role_ref(roles[r], base) for r in t.role_ids if r in roles],
        "roles_links": {"self": f"{base}/v3/{BASE}/{t.id}/roles", "previous": None, "next": None},
        "links": {"self": f"{base}/v3/{BASE}/{t.id}"},
    }


async def _load(req: ApiRequest[IdentityService], action: str) -> m.Trust:
    trust = await req.service.trusts.get(req.params["trust_id"])
    req.authorize(action, _target(trust))
    return trust


async def create(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    attrs = req.body.trust.model_dump(exclude_unset=True)
    if attrs["trustor_user_id"] != req.ctx.user_id:
        raise Forbidden("The authenticated user should match the trustor.")
    req.authorize("identity:create_trust", {"target.trust.trustor_user_id": req.ctx.user_id or ""})
    if req.ctx.token and svc.auth.decode(req.ctx.token).trust_id is not None:
        raise Forbidden("A trust-scoped token cannot create trusts: redelegation is not allowed.")
    trust = await svc.trusts.create(attrs)
    roles = await svc.roles.names()
    return json_response({"trust": _trust(trust, roles, req.base_url)}, status=201)


async def index(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    q = req.query
    me = req.ctx.user_id or ""
    either: str | None = None
    if q.trustor_user_id is not None:
        req.authorize(
            "identity:list_trusts_for_trustor", {"target.trust.trustor_user_id": q.trustor_user_id}
        )
    if q.trustee_user_id is not None:
        req.authorize(
            "identity:list_trusts_for_trustee", {"target.trust.trustee_user_id": q.trustee_user_id}
        )
    if (
        q.trustor_user_id is None
        and q.trustee_user_id is None
        and not req.allowed("identity:list_trusts")
    ):
        either = me  # one's own trusts, as trustor or trustee
    found = await svc.trusts.list_trusts(
        trustor=q.trustor_user_id, trustee=q.trustee_user_id, either=either
    )
    roles = await svc.roles.names()
    return json_response(
        {
            "trusts": [_trust(t, roles, req.base_url) for t in found],
            "links": {"self": str(req.url), "previous": None, "next": None},
        }
    )


async def show(req: ApiRequest[IdentityService]) -> Response:
    trust = await _load(req, "identity:get_trust")
    roles = await req.service.roles.names()
    return json_response({"trust": _trust(trust, roles, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    trust = await _load(req, "identity:delete_trust")
    await req.service.trusts.delete(trust.id)
    return empty_response()


async def role_index(req: ApiRequest[IdentityService]) -> Response:
    trust = await _load(req, "identity:list_roles_for_trust")
    roles = await req.service.roles.names()
    return json_response(
        {
            "roles": [views.role_ref(roles[r], req.base_url) for r in trust.role_ids if r in roles],
            "links": {"self": str(req.url), "previous": None, "next": None},
        }
    )


async def role_show(req: ApiRequest[IdentityService]) -> Response:
    trust = await _load(req, "identity:get_role_for_trust")
    role_id = req.params["role_id"]
    roles = await req.service.roles.names()
    if role_id not in trust.role_ids or role_id not in roles:
        raise not_found("role", role_id)
    if req.raw.method == "HEAD":
        return empty_response(200)
    return json_response({"role": views.role_ref(roles[role_id], req.base_url)})
