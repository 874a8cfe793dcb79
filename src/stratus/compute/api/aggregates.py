"""Host aggregates (os-aggregates): an operator's groups of hosts, whose
``availability_zone`` metadata makes the zones users see."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from starlette.responses import Response

from stratus.common.api import ApiRequest, Schema, json_response
from stratus.common.microversion import Version
from stratus.compute.api import host_views
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService
from stratus.compute.service.aggregates import AggregateView

# Nova's names: 1 to 255 characters, no space at either end.
AggName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]
# No ":" in a zone: a server's "zone:host" would not be told apart.
Zone = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^:\s]([^:]*[^:\s])?$")]
MetaKey = Annotated[str, Field(min_length=1, max_length=255)]
MetaValue = Annotated[str, Field(max_length=255)]


class AggregateCreate(Schema):
    name: AggName
    availability_zone: Zone | None = None


class AggregateCreateBody(Schema):
    aggregate: AggregateCreate


class AggregateUpdate(Schema):
    name: AggName | None = None
    availability_zone: Zone | None = None

    @model_validator(mode="after")
    def _something(self) -> AggregateUpdate:
        if not self.model_fields_set:
            raise BadRequest("An aggregate update needs 'name' or 'availability_zone'.")
        return self


class AggregateUpdateBody(Schema):
    aggregate: AggregateUpdate


class HostRef(Schema):
    host: Annotated[str, Field(min_length=1, max_length=255)]


class AddHostAction(Schema):
    add_host: HostRef


class RemoveHostAction(Schema):
    remove_host: HostRef


class Metadata(Schema):
    metadata: dict[MetaKey, MetaValue | None]


class SetMetadataAction(Schema):
    set_metadata: Metadata


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _one(req: ApiRequest[ComputeService], view: AggregateView) -> Response:
    return json_response({"aggregate": host_views.aggregate(view, _v(req))})


async def index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    rows = await req.service.aggregates.list_aggregates()
    return json_response({"aggregates": [host_views.aggregate(a, _v(req)) for a in rows]})


async def show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    return _one(req, await req.service.aggregates.get(req.params["aggregate_id"]))


async def create(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    b = req.body.aggregate
    view = await req.service.aggregates.create(b.name, b.availability_zone)
    return json_response({"aggregate": host_views.aggregate(view, _v(req), created=True)})


async def update(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    b = req.body.aggregate
    if "availability_zone" in b.model_fields_set and b.availability_zone is None:
        raise BadRequest("The availability zone of an aggregate cannot be null.")
    view = await req.service.aggregates.update(
        req.params["aggregate_id"], b.name, b.availability_zone
    )
    return _one(req, view)


async def delete(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    await req.service.aggregates.delete(req.params["aggregate_id"])
    return Response(b"", status_code=200)


async def add_host(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    view = await req.service.aggregates.add_host(req.params["aggregate_id"], req.body.add_host.host)
    return _one(req, view)


async def remove_host(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    view = await req.service.aggregates.remove_host(
        req.params["aggregate_id"], req.body.remove_host.host
    )
    return _one(req, view)


async def set_metadata(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:aggregates")
    view = await req.service.aggregates.set_metadata(
        req.params["aggregate_id"], dict(req.body.set_metadata.metadata)
    )
    return _one(req, view)
