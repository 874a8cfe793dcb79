"""Key pairs."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute.api import views
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _user(req: ApiRequest[ComputeService], asked: str | None) -> str:
    user = asked or req.ctx.user_id or ""
    req.authorize("compute:keypairs", {"user_id": user})
    return user


async def index(req: ApiRequest[ComputeService]) -> Response:
    user = _user(req, req.query.user_id)
    rows = await req.service.keypairs.list_keypairs(user)
    return json_response({"keypairs": [{"keypair": views.keypair(k, _v(req))} for k in rows]})


async def show(req: ApiRequest[ComputeService]) -> Response:
    user = _user(req, req.query.user_id)
    row = await req.service.keypairs.get(user, req.params["name"])
    return json_response({"keypair": views.keypair(row, _v(req), full=True)})


async def create(req: ApiRequest[ComputeService]) -> Response:
    b = req.body.keypair
    v = _v(req)
    user = _user(req, b.user_id if v >= Version.parse("2.10") else None)
    key_type = b.type or "ssh"
    if b.type is not None and v < Version.parse("2.2"):
        raise BadRequest("A key pair type needs microversion 2.2.")
    if key_type not in ("ssh", "x509"):
        raise BadRequest(f"Invalid key pair type {key_type!r}: ssh or x509.")
    if b.public_key is None and v >= Version.parse("2.92"):
        raise BadRequest(
            "Generating key pairs is not available since microversion 2.92: give a public_key."
        )
    row, private = await req.service.keypairs.create(
        user, req.ctx.project_id, b.name, b.public_key, key_type
    )
    body = views.keypair(row, v, private_key=private)
    body["user_id"] = row.user_id
    return json_response({"keypair": body}, status=201 if v >= Version.parse("2.2") else 200)


async def delete(req: ApiRequest[ComputeService]) -> Response:
    user = _user(req, req.query.user_id)
    await req.service.keypairs.delete(user, req.params["name"])
    return empty_response(204 if _v(req) >= Version.parse("2.2") else 202)
