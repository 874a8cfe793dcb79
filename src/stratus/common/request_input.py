"""Reading and validating what a request carries: its JSON body (at most
``MAX_JSON_BODY``), its query string and path parameters (never a NUL),
each against its route's schema; and, for routes told apart by their
body's one key (``POST .../action``), which route a body is for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from stratus.common.action_bodies import ActionBodies
from stratus.common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from stratus.common.microversion import Version
from stratus.common.routes import Route
from stratus.common.schemas import NoBody, NoQuery, RawBody

MAX_JSON_BODY = 1 << 20  # 1 MiB of JSON is plenty for any control-plane call


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "additional properties are not allowed"
        parts.append(f"Invalid input for field '{loc}': {msg}.")
    return " ".join(parts)


async def read_json(request: Request) -> Any:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise PayloadTooLarge()
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed request body: the body is not valid JSON ({exc}).") from exc


def header(request: Request, name: bytes) -> str | None:
    """One request header, read straight from the ASGI scope (the hot path
    avoids building a Headers object)."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def query_dict(request: Request) -> dict[str, str]:
    """The query parameters (the last of repeated ones).  NUL characters
    are refused everywhere: no database stores them faithfully."""
    query = dict(request.query_params)
    if has_nul(query) or has_nul(dict(request.path_params)):
        raise BadRequest("NUL characters are not allowed in the URL.")
    return query


def parse_query(request: Request, route: Route) -> Any:
    if route.query is not NoQuery or request.scope.get("query_string"):
        try:
            return route.query.model_validate(query_dict(request))
        except ValidationError as exc:
            raise BadRequest(describe_validation_error(exc)) from exc
    if request.path_params and has_nul(dict(request.path_params)):
        raise BadRequest("NUL characters are not allowed in the URL.")
    return None


async def parse_body(request: Request, route: Route, version: Version | None) -> Any:
    if route.content_types is not None and route.body is not NoBody:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in route.content_types:
            raise UnsupportedMediaType(
                f"Content-Type {ctype or '(none)'} is not accepted here; "
                f"use {' or '.join(route.content_types)}."
            )
    if route.body in (NoBody, RawBody):
        return None
    raw = await read_json(request)
    # A body schema whose JSON is not an object names the field it fills.
    wrap_key: str | None = getattr(route.body, "wrap_key", None)
    if wrap_key is not None:
        raw = {wrap_key: raw}
    return validate_with(route.body, raw, version)


def validate_with(schema: type[BaseModel], raw: Any, version: Version | None) -> Any:
    if has_nul(raw):
        raise BadRequest("NUL characters are not allowed in the request body.")
    try:
        return schema.model_validate(raw if raw is not None else {}, context={"version": version})
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from exc


class ActionPicker:
    """Picks the route of an action body by its one key (``ActionBodies``)."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = {str(r.action): r for r in routes}
        if len(self.routes) != len(routes) or None in (r.action for r in routes):
            raise ValueError(f"{routes[0].method} {routes[0].path}: actions need distinct names")
        self.bodies = ActionBodies({key: r.body for key, r in self.routes.items()})

    def __call__(self, raw: Any, version: Version | None) -> tuple[Route, Any]:
        key = self.bodies.key(raw)
        if key is None:
            validate_with(self.bodies.union, raw, version)  # refuses it, as the union does
            raise BadRequest("The request body names no known action.")
        route = self.routes[key]
        return route, validate_with(route.body, raw, version)
