"""Policy blobs: /v3/policies (``openstack policy``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity import models as m
from stratus.identity.service import IdentityService


def _policy(p: m.Policy, base: str) -> dict[str, Any]:
    return {
        **p.extra,
        "id": p.id,
        "type": p.type,
        "blob": p.blob,
        "links": {"self": f"{base}/v3/policies/{p.id}"},
    }


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_policies")
    found = await req.service.policies.list_policies(req.query.type)
    return json_response(
        {
            "policies": [_policy(p, req.base_url) for p in found],
            "links": {"self": str(req.url), "previous": None, "next": None},
        }
    )


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_policy")
    policy = await req.service.policies.create(req.body.policy.attrs())
    return json_response({"policy": _policy(policy, req.base_url)}, status=201)


async def show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_policy")
    policy = await req.service.policies.get(req.params["policy_id"])
    return json_response({"policy": _policy(policy, req.base_url)})


async def update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_policy")
    policy = await req.service.policies.update(req.params["policy_id"], req.body.policy.attrs())
    return json_response({"policy": _policy(policy, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_policy")
    await req.service.policies.delete(req.params["policy_id"])
    return empty_response()
