"""Authentication and tokens: /v3/auth/*."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.auth import ACCESS_RULES_HEADER
from stratus.identity.api import views
from stratus.identity.errors import BadRequest, Forbidden, NotFound
from stratus.identity.service import IdentityService
from stratus.identity.service.token_info import AuthInfo, TokenInvalid, render_token
from stratus.identity.service.tokens import TokenPayload


async def create(req: ApiRequest[IdentityService]) -> Response:
    svc: IdentityService = req.service
    token, payload, info = await svc.auth.authenticate(req.body.request())
    body = render_token(payload, info, catalog=not req.query.nocatalog)
    return json_response(body, status=201, headers={"X-Subject-Token": token})


async def _subject(
    req: ApiRequest[IdentityService], action: str
) -> tuple[str, TokenPayload, AuthInfo]:
    """The token named by X-Subject-Token, validated, once the caller may act on it."""
    subject = req.raw.headers.get("x-subject-token")
    if not subject:
        raise BadRequest("The X-Subject-Token header names the token to act on.")
    svc: IdentityService = req.service
    await svc.catch_up()
    try:
        payload, info = await svc.auth.validate(subject)
    except TokenInvalid as exc:
        raise NotFound(f"Could not find token: {exc.message}") from exc
    req.authorize(action, {"target.token.user_id": payload.user_id})
    return subject, payload, info


def _enforces_access_rules(req: ApiRequest[IdentityService]) -> bool:
    """Whether the validating caller says it enforces access rules (as
    keystonemiddleware says it with its header, version 1.0 and later)."""
    value = req.raw.headers.get(ACCESS_RULES_HEADER)
    try:
        return value is not None and float(value) >= 1.0
    except ValueError:
        return False


async def show(req: ApiRequest[IdentityService]) -> Response:
    subject, payload, info = await _subject(req, "identity:validate_token")
    if (info.app_cred or {}).get("access_rules") and not _enforces_access_rules(req):
        # A service that would not enforce the rules must not accept the token.
        raise NotFound("Failed to validate token")
    if req.raw.method == "HEAD":
        return empty_response(200, headers={"X-Subject-Token": subject})
    body = render_token(payload, info, catalog=not req.query.nocatalog)
    return json_response(body, headers={"X-Subject-Token": subject})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    svc: IdentityService = req.service
    _, payload, _ = await _subject(req, "identity:revoke_token")
    await svc.auth.revoke(payload)
    return empty_response()


async def projects(req: ApiRequest[IdentityService]) -> Response:
    svc: IdentityService = req.service
    ids = await svc.assignments.user_project_ids(req.ctx.user_id or "")
    page = await svc.projects.list_projects({}, enabled=True, ids=ids)
    return json_response(views.page("projects", page, views.project, req.base_url, req.url))


async def domains(req: ApiRequest[IdentityService]) -> Response:
    svc: IdentityService = req.service
    ids = await svc.assignments.user_domain_ids(req.ctx.user_id or "")
    found = [d for d in [await svc.projects.find_domain(id=i) for i in ids] if d and d.enabled]
    return json_response(views.collection("domains", found, views.domain, req.base_url, req.url))


async def system(req: ApiRequest[IdentityService]) -> Response:
    svc: IdentityService = req.service
    has = await svc.assignments.user_has_system(req.ctx.user_id or "")
    return json_response(
        {
            "system": [{"all": True}] if has else [],
            "links": {"self": req.url, "previous": None, "next": None},
        }
    )


async def catalog(req: ApiRequest[IdentityService]) -> Response:
    svc: IdentityService = req.service
    if req.ctx.project_id is None and req.ctx.domain_id is None and req.ctx.system_scope is None:
        raise Forbidden("An unscoped token has no catalog.")
    entries = await svc.catalog.for_scope(req.ctx.project_id, req.ctx.user_id)
    return json_response(
        {"catalog": entries, "links": {"self": req.url, "previous": None, "next": None}}
    )
