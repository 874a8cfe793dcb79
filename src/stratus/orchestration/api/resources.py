"""A stack's resources and events."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.orchestration import models as m
from stratus.orchestration.api import views
from stratus.orchestration.api.common import svc, truthy, visible
from stratus.orchestration.errors import BadRequest, ResourceActionNotSupported
from stratus.orchestration.service import OrchestrationService
from stratus.orchestration.service.reads import EventQuery


def _required_by(rows: list[m.Resource]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {r.name: [] for r in rows}
    for r in rows:
        for dep in r.requires or []:
            out.setdefault(dep, []).append(r.name)
    return out


async def index(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    rows = await svc(req).reads.resources(stack)
    q = req.query
    for field, value in (("name", q.name), ("type", q.type), ("status", q.status),
                         ("action", q.action)):  # fmt: skip
        if value:
            wanted = set(value.split(","))
            rows = [r for r in rows if getattr(r, field) in wanted]
    by = _required_by(rows)
    detail = truthy(q.with_detail)
    return json_response({"resources": [views.resource(r, stack, req.base_url, by[r.name], detail)
                                        for r in rows]})  # fmt: skip


async def show(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    r = await svc(req).reads.resource(stack, req.params["resource_name"])
    by = _required_by(await svc(req).reads.resources(stack))
    return json_response({"resource": views.resource(r, stack, req.base_url,
                                                     by.get(r.name, []), True)})  # fmt: skip


SIGNALLED = ("OS::Heat::WaitConditionHandle", "OS::Heat::ScalingPolicy")


async def signal(req: ApiRequest[OrchestrationService]) -> Response:
    """``stack resource signal``: a handle's or a scaling policy's signal,
    as a POST to its URL is, by a user of the stack's project."""
    stack = await visible(req, "orchestration:stacks:update")
    r = await svc(req).reads.resource(stack, req.params["resource_name"])
    if r.type not in SIGNALLED or not r.physical_id:
        raise ResourceActionNotSupported(f"Signal resource {r.name}: signal is not supported "
                                         f"for resource of type {r.type}.")  # fmt: skip
    b = req.body
    await svc(req).signals.signal(r.physical_id, b.status, b.reason, b.data, b.id)
    return empty_response(200)


async def metadata(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    r = await svc(req).reads.resource(stack, req.params["resource_name"])
    return json_response({"metadata": r.metadata_ or {}})


def _event_query(req: ApiRequest[OrchestrationService], resource: str | None) -> EventQuery:
    q = req.query
    sort_dir = (q.sort_dir or "asc").lower()
    if sort_dir not in ("asc", "desc"):
        raise BadRequest("Unknown sort direction, must be one of: asc, desc")

    def many(v: str | None) -> tuple[str, ...]:
        return tuple(x for x in (v or "").split(",") if x)

    return EventQuery(resource or q.resource_name, many(q.resource_action),
                      many(q.resource_status), many(q.resource_type), sort_dir, q.limit,
                      q.marker)  # fmt: skip


async def events(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    rows = await svc(req).reads.events(stack, _event_query(req, None))
    return json_response({"events": [views.event(e, stack, req.base_url) for e in rows]})


async def resource_events(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    name = req.params["resource_name"]
    rows = await svc(req).reads.events(stack, _event_query(req, name))
    if not rows and name != stack.name:
        await svc(req).reads.resource(stack, name)  # 404 for a resource that never was
    return json_response({"events": [views.event(e, stack, req.base_url) for e in rows]})


async def event(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    e = await svc(req).reads.event(stack, req.params["resource_name"], req.params["event_id"])
    return json_response({"event": views.event(e, stack, req.base_url, True)})


async def mark_unhealthy(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:update")
    b = req.body
    await svc(req).stacks.mark_unhealthy(stack, req.params["resource_name"], b.mark_unhealthy,
                                         b.resource_status_reason)  # fmt: skip
    return empty_response(200)
