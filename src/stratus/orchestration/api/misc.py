"""Versions, validate, resource types, template versions and functions."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.orchestration.api.common import check_project, svc, truthy
from stratus.orchestration.drivers.base import ResourceType
from stratus.orchestration.service import OrchestrationService
from stratus.orchestration.service.definition import definition
from stratus.orchestration.template import parameters as params


async def versions(req: ApiRequest[OrchestrationService]) -> Response:
    return json_response({"versions": [{
        "id": "v1.0", "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{req.base_url}/v1/"}],
    }]}, 300 if req.raw.url.path.rstrip("/").endswith("orchestration") else 200)  # fmt: skip


async def build_info(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    return json_response({"api": {"revision": "stratus"}, "engine": {"revision": "stratus"}})


async def validate(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:stacks:validate", {"project_id": req.ctx.project_id})
    b = req.body
    d = definition(b.template, b.environment, b.files, b.parameters, b.template_url)
    plan = svc(req).stacks.check(d, "validate", "None", req.ctx.project_id or "",
                                 strict=False)
    t = plan.template
    given = {k: v for k, v in plan.params.items() if k in t.parameters}
    return json_response({
        "Description": t.description or "No description",
        "Parameters": params.describe(t.parameters, given),
        "ParameterGroups": t.parameter_groups,
        "Environment": {"parameters": d.environment.get("parameters") or {},
                        "parameter_defaults": d.environment.get("parameter_defaults") or {},
                        "resource_registry": d.environment.get("resource_registry") or {}},
    } if t.parameter_groups else {
        "Description": t.description or "No description",
        "Parameters": params.describe(t.parameters, given),
    })  # fmt: skip


async def types(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:resource_types")
    names = svc(req).reads.types()
    if req.query.name:
        names = [n for n in names if req.query.name in n]
    if truthy(req.query.with_description):
        return json_response({"resource_types": [
            {"resource_type": n, "description": svc(req).reads.type(n).description}
            for n in names]})  # fmt: skip
    return json_response({"resource_types": names})


def _schema(kind: ResourceType) -> dict[str, Any]:
    return {
        name: {"type": p.type, "required": p.required, "update_allowed": p.update_allowed,
               "immutable": False, "description": p.description, "default": p.default,
               **({"constraints": [{"allowed_values": list(p.allowed)}]} if p.allowed else {})}
        for name, p in kind.properties.items()
    }  # fmt: skip


async def type_show(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:resource_types")
    kind = svc(req).reads.type(req.params["type_name"])
    return json_response({
        "resource_type": kind.name, "description": kind.description,
        "properties": _schema(kind),
        "attributes": {n: {"description": d, "type": "string"} for n, d in kind.attributes.items()},
        "support_status": {"status": "SUPPORTED", "version": None, "message": None,
                           "previous_status": None},
    })  # fmt: skip


async def type_template(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:resource_types")
    kind = svc(req).reads.type(req.params["type_name"])
    return json_response({
        "heat_template_version": "2016-10-14",
        "description": f"Initial template of {kind.name}",
        "parameters": {n: {"type": "string" if p.type not in ("number", "boolean", "json")
                           else p.type, "description": p.description}
                       for n, p in kind.properties.items()},
        "resources": {"resource": {"type": kind.name, "properties": {
            n: {"get_param": n} for n in kind.properties}}},
        "outputs": {n: {"value": {"get_attr": ["resource", n]}, "description": d}
                    for n, d in kind.attributes.items()},
    })  # fmt: skip


async def signal(req: ApiRequest[OrchestrationService]) -> Response:
    """A wait condition handle's or a scaling policy's signal: public, the
    URL is the credential."""
    b = req.body
    await svc(req).signals.signal(req.params["secret"], b.status, b.reason, b.data, b.id)
    return json_response({}, 200)


async def signals(req: ApiRequest[OrchestrationService]) -> Response:
    rows = await svc(req).signals.signals(req.params["secret"])
    return json_response({"signals": rows})


async def template_versions(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    return json_response({"template_versions": svc(req).reads.versions()})


async def functions(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    rows = svc(req).reads.functions(req.params["version"],
                                    truthy(req.query.with_condition_func))  # fmt: skip
    return json_response({"template_functions": rows})
