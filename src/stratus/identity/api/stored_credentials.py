"""Stored credentials: ``/v3/credentials`` and the EC2 pairs of
``/v3/users/{user_id}/credentials/OS-EC2`` (``openstack ec2 credentials``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity import models as m
from stratus.identity.errors import ValidationError
from stratus.identity.service import IdentityService


def _credential(svc: IdentityService, c: m.Credential, base: str) -> dict[str, Any]:
    return {
        **c.extra,
        "id": c.id,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "type": c.type,
        "blob": svc.stored_credentials.blob(c),
        "links": {"self": f"{base}/v3/credentials/{c.id}"},
    }


def _ec2(c: m.Credential, blob: dict[str, Any], base: str) -> dict[str, Any]:
    access = blob.get("access")
    return {
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": access,
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
        "links": {"self": f"{base}/v3/users/{c.user_id}/credentials/OS-EC2/{access}"},
    }


def _target(c: m.Credential) -> dict[str, str]:
    return {"target.credential.user_id": c.user_id}


async def index(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    q = req.query
    # Who may list everything sees everything; others their own only.
    user_id = q.user_id
    if not req.allowed("identity:list_credentials"):
        user_id = req.ctx.user_id or ""
        if q.user_id not in (None, user_id):
            return json_response({"credentials": [], "links": _links(req)})
    creds = await svc.stored_credentials.find(user_id, q.type)
    body = [_credential(svc, c, req.base_url) for c in creds]
    return json_response({"credentials": body, "links": _links(req)})


def _links(req: ApiRequest[IdentityService]) -> dict[str, Any]:
    return {"self": str(req.url), "previous": None, "next": None}


async def show(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    cred = await svc.stored_credentials.get(req.params["credential_id"])
    req.authorize("identity:get_credential", _target(cred))
    return json_response({"credential": _credential(svc, cred, req.base_url)})


async def create(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    attrs = req.body.credential.model_dump(exclude_unset=True)
    req.authorize("identity:create_credential", {"target.credential.user_id": attrs["user_id"]})
    cred = await svc.stored_credentials.create(attrs)
    return json_response({"credential": _credential(svc, cred, req.base_url)}, status=201)


async def update(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    cred = await svc.stored_credentials.get(req.params["credential_id"])
    req.authorize("identity:update_credential", _target(cred))
    attrs = req.body.credential.model_dump(exclude_unset=True)
    if "user_id" in attrs and attrs["user_id"] != cred.user_id:
        req.authorize("identity:update_credential", {"target.credential.user_id": attrs["user_id"]})
    cred = await svc.stored_credentials.update(cred.id, attrs)
    return json_response({"credential": _credential(svc, cred, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    svc = req.service
    cred = await svc.stored_credentials.get(req.params["credential_id"])
    req.authorize("identity:delete_credential", _target(cred))
    await svc.stored_credentials.delete(cred.id)
    return empty_response()


# -- OS-EC2 --------------------------------------------------------------------------------


def _user(req: ApiRequest[IdentityService]) -> dict[str, str]:
    return {"target.credential.user_id": req.params["user_id"]}


async def ec2_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:ec2_create_credential", _user(req))
    project_id = req.body.project_id or req.body.tenant_id
    if not project_id:
        raise ValidationError("Name the project: tenant_id (or project_id).")
    cred, blob = await req.service.stored_credentials.ec2_create(req.params["user_id"], project_id)
    return json_response({"credential": _ec2(cred, blob, req.base_url)}, status=201)


async def ec2_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:ec2_list_credentials", _user(req))
    pairs = await req.service.stored_credentials.ec2_list(req.params["user_id"])
    return json_response(
        {"credentials": [_ec2(c, b, req.base_url) for c, b in pairs], "links": _links(req)}
    )


async def ec2_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:ec2_get_credential", _user(req))
    cred, blob = await req.service.stored_credentials.ec2_get(
        req.params["user_id"], req.params["access"]
    )
    return json_response({"credential": _ec2(cred, blob, req.base_url)})


async def ec2_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:ec2_delete_credential", _user(req))
    await req.service.stored_credentials.ec2_delete(req.params["user_id"], req.params["access"])
    return empty_response()
