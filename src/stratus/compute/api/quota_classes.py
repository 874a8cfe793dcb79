"""os-quota-class-sets: the limits of a quota class.  The ``default``
class's are the limits of every project without its own (os-quota-sets)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict
from starlette.responses import Response

from stratus.common.api import ApiRequest, Schema, json_response
from stratus.common.microversion import Version
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService
from stratus.compute.service.quotas import LEGACY, RESOURCES

V250, V257 = Version.parse("2.50"), Version.parse("2.57")
NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
GROUPS = ("server_groups", "server_group_members")


class QuotaClassValues(Schema):
    model_config = ConfigDict(extra="allow")


class QuotaClassBody(Schema):
    quota_class_set: QuotaClassValues


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _body(values: dict[str, int], v: Version) -> dict[str, Any]:
    """Nova's keys by microversion: the network ones until 2.50, the server
    group ones from 2.50, the injected files ones until 2.57."""
    body: dict[str, Any] = {r: values[r] for r in RESOURCES if v >= V250 or r not in GROUPS}
    if v < V250:
        body.update({k: LEGACY[k] for k in NETWORK})
    if v < V257:
        body.update({k: val for k, val in LEGACY.items() if k.startswith("injected")})
    return body


async def show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:quota_classes")
    name = req.params["class_name"]
    values = await req.service.quotas.class_limits(name)
    return json_response({"quota_class_set": {"id": name, **_body(values, _v(req))}})


async def update(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:quota_classes")
    v = _v(req)
    name = req.params["class_name"]
    if len(name) > 255:
        raise BadRequest("A quota class name has at most 255 characters.")
    shown = set(_body({r: 0 for r in RESOURCES}, v))
    values: dict[str, int] = {}
    for key, value in (req.body.quota_class_set.model_extra or {}).items():
        if key not in shown:
            raise BadRequest(f"Bad key(s) {key} in quota_class_set")
        if isinstance(value, bool):
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.")
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.") from exc
        if number < -1 or number > 0x7FFFFFFF:
            raise BadRequest(
                f"Invalid input for field/attribute {key}. Value: {value}: "
                "-1 (unlimited) to 2147483647."
            )
        if key in RESOURCES:  # the legacy ones are shown, never enforced
            values[key] = number
    result = await req.service.quotas.set_class(name, values)
    return json_response({"quota_class_set": _body(result, v)})
