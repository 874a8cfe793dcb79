"""Domain-specific configuration: /v3/domains/{domain_id}/config[/{group}[/{option}]]
and the defaults at /v3/domains/config[/{group}[/{option}]]/default."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.errors import NotFound
from stratus.identity.service import IdentityService
from stratus.identity.service import domain_configs as dc


def _parts(req: ApiRequest[IdentityService]) -> tuple[str | None, str | None]:
    return req.params.get("group"), req.params.get("option")


def _pick(config: dict[str, Any], group: str | None, option: str | None) -> dict[str, Any]:
    if group is None:
        return config
    if group not in dc.DEFAULTS:
        raise dc.invalid(f"Group {group} is not supported for domain specific configurations.")
    if group not in config:
        raise NotFound(f"Could not find group {group} in the domain's configuration.")
    if option is None:
        return {group: config[group]}
    if option not in config[group]:
        raise NotFound(f"Could not find option {option} in group {group}.")
    return {option: config[group][option]}


async def show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_domain_config")
    group, option = _parts(req)
    config = await req.service.domain_configs.get(req.params["domain_id"])
    return json_response({"config": _pick(config, group, option)})


async def put(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_domain_config")
    config, created = await req.service.domain_configs.put(req.params["domain_id"], req.body.config)
    return json_response({"config": config}, status=201 if created else 200)


async def update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_domain_config")
    group, option = _parts(req)
    config = await req.service.domain_configs.update(
        req.params["domain_id"], req.body.config, group, option
    )
    return json_response({"config": config})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_domain_config")
    group, option = _parts(req)
    await req.service.domain_configs.delete(req.params["domain_id"], group, option)
    return empty_response()


async def default(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_domain_config_default")
    group, option = _parts(req)
    return json_response({"config": dc.default(group, option)})
