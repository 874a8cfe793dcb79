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
    rules = await svc.credentials.rules_of([c.id for c in creds])
    return json_response(
        views.collection(
            "application_credentials",
            creds,
            lambda c, b: views.app_cred(c, roles, b, rules=rules.get(c.id)),
            req.base_url,
            req.url,
        )
    )


async def show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_application_credential", _target(req))
    svc = req.service
    cred = await svc.credentials.get(req.params["user_id"], req.params["credential_id"])
    rules = (await svc.credentials.rules_of([cred.id])).get(cred.id)
    body = views.app_cred(cred, await svc.roles.names(), req.base_url, rules=rules)
    return json_response({"application_credential": body})


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_application_credential", _target(req))
    svc = req.service
    attrs = req.body.application_credential.model_dump(exclude_unset=True)
    cred, secret, rules = await svc.credentials.create(req.ctx, req.params["user_id"], attrs)
    roles = await svc.roles.names()
    body = views.app_cred(cred, roles, req.base_url, secret=secret, rules=rules)
    return json_response({"application_credential": body}, status=201)


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_application_credential", _target(req))
    await req.service.credentials.delete(req.params["user_id"], req.params["credential_id"])
    return empty_response()


# -- access rules ------------------------------------------------------------------


async def rule_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_access_rules", _target(req))
    q = req.query
    filters = {"service": q.service, "path": q.path, "method": q.method}
    rules = await req.service.credentials.list_access_rules(req.params["user_id"], filters)
    return json_response(
        views.collection("access_rules", rules, views.access_rule_entity, req.base_url, req.url)
    )


async def rule_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_access_rule", _target(req))
    rule = await req.service.credentials.get_access_rule(
        req.params["user_id"], req.params["access_rule_id"]
    )
    return json_response({"access_rule": views.access_rule_entity(rule, req.base_url)})


async def rule_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_access_rule", _target(req))
    await req.service.credentials.delete_access_rule(
        req.params["user_id"], req.params["access_rule_id"]
    )
    return empty_response()
