"""Application credentials."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.service import IdentityService


def _target(req: ApiRequest[IdentityService]) -> dict[str, str]:
    return {"target.user.id": req.params["user_id"]}


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_application_credentials", _target(req))
    svc = req.service
    creds = await svc.credentials.list_credentials(req.params["user_id"], req.query.name)
    roles = await svc.roles.names()
    return json_response(
        views.collection(
            "application_credentials",
            creds,
            lambda c, b: views.app_cred(c, roles, b),
            req.base_url,
            req.url,
        )
    )


async def show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_application_credential", _target(req))
    svc = req.service
    cred = await svc.credentials.get(req.params["user_id"], req.params["credential_id"])
    return json_response(
        {"application_credential": views.app_cred(cred, await svc.roles.names(), req.base_url)}
    )


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_application_credential", _target(req))
    svc = req.service
    attrs = req.body.application_credential.model_dump(exclude_unset=True)
    cred, secret = await svc.credentials.create(req.ctx, req.params["user_id"], attrs)
    body = views.app_cred(cred, await svc.roles.names(), req.base_url, secret=secret)
    return json_response({"application_credential": body}, status=201)


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_application_credential", _target(req))
    await req.service.credentials.delete(req.params["user_id"], req.params["credential_id"])
    return empty_response()
