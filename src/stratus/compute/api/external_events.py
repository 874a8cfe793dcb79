"""os-server-external-events (POST, admin or service): events from the
network and block storage services about servers, each answered with its
code; 200 when all were delivered, 207 when some were not, 404 when none
was (Nova's answers)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator
from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.common.microversion import Version
from stratus.compute.api.schemas import Aliased, version_of
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.external_events import NAMES, ExternalEvent

Req = ApiRequest[ComputeService]
UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


class EventIn(Aliased):
    name: str
    server_uuid: Annotated[str, Field(pattern=UUID)]
    status: Literal["failed", "completed", "in-progress"] = "completed"
    tag: Annotated[str, Field(max_length=255)] | None = None

    @model_validator(mode="after")
    def _name(self, info: ValidationInfo) -> EventIn:
        version = version_of(info)
        known = {n for since, names in NAMES if version >= Version.parse(since) for n in names}
        if self.name not in known:
            raise BadRequest(
                f"Invalid input for field/attribute name. Value: {self.name}. "
                f"'{self.name}' is not one of {sorted(known)}"
            )
        return self


class ExternalEventsBody(Aliased):
    events: Annotated[list[EventIn], Field(min_length=1)]


async def create(req: Req) -> Response:
    req.authorize("compute:os-server-external-events:create")
    body: ExternalEventsBody = req.body
    asked = [ExternalEvent(e.server_uuid, e.name, e.status, e.tag) for e in body.events]
    done = await req.service.events.create(asked, req.ctx.request_id)
    if all(e.code != 200 for e in done):
        raise NotFound("No instances found for any event")
    shown = []
    for e in done:
        item: dict[str, object] = {
            "name": e.name, "server_uuid": e.server_uuid, "status": e.status, "code": e.code,
        }  # fmt: skip
        if e.tag is not None:
            item["tag"] = e.tag
        shown.append(item)
    status = 200 if all(e.code == 200 for e in done) else 207
    return json_response({"events": shown}, status=status)
