"""``POST /os-server-external-events``: what other services tell compute
about its servers (Nova's API, for services and admins).  Each event is
answered on its own (``code`` 200, 404 for a server that does not exist,
422 for one on no host); 207 when some failed, 404 when all servers were
missing.  ``volume-extended`` (2.51) has the server's host grow the
guest's disk; the network events are accepted and need nothing here (the
network service of this cloud plugs the ports itself)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from starlette.responses import Response

from stratus.common.api import ApiRequest, Schema, json_response
from stratus.common.microversion import Version
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.external_events import Event

Req = ApiRequest[ComputeService]
V = Version.parse
UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"

# The microversion that introduced each event name (Nova's schema history).
SINCE = {
    "network-changed": "2.1",
    "network-vif-plugged": "2.1",
    "network-vif-unplugged": "2.1",
    "network-vif-deleted": "2.1",
    "volume-extended": "2.51",
    "power-update": "2.76",
    "accelerator-request-bound": "2.82",
    "volume-reimaged": "2.93",
}
Name = Literal[
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
]


class EventSpec(Schema):
    server_uuid: str = Field(pattern=UUID)
    name: Name
    status: Literal["failed", "completed", "in-progress"] = "completed"
    tag: str | None = Field(default=None, max_length=255)


class EventsBody(Schema):
    events: list[EventSpec] = Field(min_length=1)


async def create(req: Req) -> Response:
    req.authorize("compute:os-server-external-events:create")
    body: EventsBody = req.body
    assert req.version is not None
    for spec in body.events:
        if req.version < V(SINCE[spec.name]):
            raise BadRequest(
                f"Invalid input for field/attribute name. Value: {spec.name}. "
                f"It needs microversion {SINCE[spec.name]}."
            )
    events = [Event(e.server_uuid, e.name, e.status, e.tag) for e in body.events]
    codes = await req.service.external_events.create(events)
    if all(code == 404 for code in codes):
        raise NotFound("No instances found for any event")
    out: list[dict[str, Any]] = []
    for event, code in zip(events, codes, strict=True):
        item: dict[str, Any] = {
            "name": event.name,
            "server_uuid": event.server_uuid,
            "status": event.status if code == 200 else "failed",
            "code": code,
        }
        if event.tag is not None:
            item["tag"] = event.tag
        out.append(item)
    status = 200 if all(code == 200 for code in codes) else 207
    return json_response({"events": out}, status)
