"""The shape every service's API shares: a routes table whose entries name a
handler and its request schemas, turned into an ASGI app.

The wrapper around each handler does, in order: authenticate the caller
(unless the route is public), validate the query and the body against the
route's schemas, call the handler, and render any error in the service's
upstream format.  Handlers therefore only see validated input and a typed
``RequestContext``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from stratus.common import logs
from stratus.common.context import RequestContext
from stratus.common.errors import (
    BadRequest,
    Conflict,
    ErrorRenderer,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    StratusError,
    Unauthorized,
    UnsupportedMediaType,
)
from stratus.common.microversion import Microversions, Version
from stratus.common.policy import Enforcer

log = logging.getLogger(__name__)

MAX_JSON_BODY = 1 << 20  # 1 MiB of JSON is plenty for any control-plane call
REQUEST_ID_KEY = "stratus.request_id"


class Schema(BaseModel):
    """Base of request schemas: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class NoBody(Schema):
    """The route takes no request body."""


class RawBody(Schema):
    """The handler reads the request body itself, as a stream
    (``req.raw.stream()``): uploads of any size, never held in memory."""


class NoQuery(BaseModel):
    """The route reads no query parameters (unknown ones are ignored, as
    OpenStack services do)."""

    model_config = ConfigDict(extra="ignore")


class Query(BaseModel):
    """Base of query schemas: unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")


class TokenValidator(Protocol):
    async def validate(self, token: str, request_id: str) -> RequestContext: ...


Handler = Callable[["ApiRequest"], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    body: type[BaseModel] = NoBody
    query: type[BaseModel] = NoQuery
    public: bool = False  # no token needed (discovery, authentication)
    # Content types a body may have (None: any); others get 415.
    content_types: tuple[str, ...] | None = None


@dataclass
class ApiRequest:
    raw: Request
    ctx: RequestContext
    params: Mapping[str, str]
    body: Any
    query: Any
    service: Any
    enforcer: Enforcer
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    version: Version | None = None  # the negotiated microversion, if the API has them

    def authorize(self, action: str, target: Mapping[str, Any] | None = None) -> None:
        self.enforcer.authorize(action, self.ctx, target)

    def allowed(self, action: str, target: Mapping[str, Any] | None = None) -> bool:
        return self.enforcer.allowed(action, self.ctx, target)

    @property
    def url(self) -> str:
        """This request's URL as clients reach it."""
        path = self.raw.scope["path"][len(self.raw.scope.get("root_path", "")) :]
        qs = self.raw.scope.get("query_string", b"").decode("latin-1")
        return f"{self.base_url}{path}" + (f"?{qs}" if qs else "")


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, headers=headers, media_type="application/json"
    )


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)


def request_id_of(scope: Mapping[str, Any]) -> str:
    return str(scope.get(REQUEST_ID_KEY, "req-unknown"))


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "additional properties are not allowed"
        parts.append(f"Invalid input for field '{loc}': {msg}.")
    return " ".join(parts)


async def _read_json(request: Request) -> Any:
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


def _header(request: Request, name: bytes) -> str | None:
    """One request header, read straight from the ASGI scope (the hot path
    avoids building a Headers object)."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _query_dict(request: Request) -> dict[str, str]:
    """The query parameters (the last of repeated ones).  NUL characters
    are refused everywhere: no database stores them faithfully."""
    query = dict(request.query_params)
    if _has_nul(query) or _has_nul(dict(request.path_params)):
        raise BadRequest("NUL characters are not allowed in the URL.")
    return query


class ServiceAPI:
    """Everything one service's handlers share."""

    def __init__(
        self,
        *,
        name: str,
        routes: list[Route],
        service: Any,
        renderer: ErrorRenderer,
        validator: TokenValidator,
        enforcer: Enforcer,
        base_url: str,
        microversions: Microversions | None = None,
    ):
        self.microversions = microversions
        self.name = name
        self.routes = routes
        self.service = service
        self.renderer = renderer
        self.validator = validator
        self.enforcer = enforcer
        self.base_url = base_url.rstrip("/")

    def _endpoint(self, route: Route) -> Callable[[Request], Awaitable[Response]]:
        takes_body = route.body not in (NoBody, RawBody)
        # A body schema whose JSON is not an object names the field it fills.
        wrap_key: str | None = getattr(route.body, "wrap_key", None)

        async def endpoint(request: Request) -> Response:
            request_id = request_id_of(request.scope)
            logs.note_route(route.path)
            if self.microversions is None:
                return await handle(request, request_id, None)
            try:
                version = self.microversions.negotiate(request.headers)
            except StratusError as exc:
                return self.renderer(exc)
            response = await handle(request, request_id, version)
            response.headers.update(self.microversions.headers(version))
            return response

        async def handle(request: Request, request_id: str, version: Version | None) -> Response:
            try:
                token = _header(request, b"x-auth-token")
                if route.public:
                    ctx = RequestContext(request_id=request_id)
                    if token:
                        try:
                            ctx = await self.validator.validate(token, request_id)
                        except StratusError:
                            pass  # a public route works with a bad token too
                else:
                    if not token:
                        raise Unauthorized()
                    ctx = await self.validator.validate(token, request_id)
                logs.note_caller(ctx.project_id, ctx.user_id)
                query: Any = None
                if route.query is not NoQuery or request.scope.get("query_string"):
                    try:
                        query = route.query.model_validate(_query_dict(request))
                    except ValidationError as exc:
                        raise BadRequest(describe_validation_error(exc)) from exc
                elif request.path_params and _has_nul(dict(request.path_params)):
                    raise BadRequest("NUL characters are not allowed in the URL.")
                body: Any = None
                if route.content_types is not None and route.body is not NoBody:
                    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
                    if ctype not in route.content_types:
                        raise UnsupportedMediaType(
                            f"Content-Type {ctype or '(none)'} is not accepted here; "
                            f"use {' or '.join(route.content_types)}."
                        )
                if takes_body:
                    raw = await _read_json(request)
                    if wrap_key is not None:
                        raw = {wrap_key: raw}
                    if _has_nul(raw):
                        raise BadRequest("NUL characters are not allowed in the request body.")
                    try:
                        body = route.body.model_validate(raw if raw is not None else {})
                    except ValidationError as exc:
                        raise BadRequest(describe_validation_error(exc)) from exc
                api_request = ApiRequest(
                    raw=request,
                    ctx=ctx,
                    params=request.path_params,
                    body=body,
                    query=query,
                    service=self.service,
                    enforcer=self.enforcer,
                    base_url=self.base_url,
                    version=version,
                )
                return await route.handler(api_request)
            except StratusError as exc:
                return self.renderer(exc)
            except IntegrityError:
                # A uniqueness race lost to a concurrent request.
                return self.renderer(
                    Conflict("The request conflicts with data stored meanwhile; try again.")
                )
            except Exception:
                log.exception(
                    "%s: unexpected error on %s %s [%s]",
                    self.name,
                    request.method,
                    request.url.path,
                    request_id,
                )
                return self.renderer(StratusError())

        return endpoint

    def asgi(self) -> Starlette:
        # One Starlette route per path, dispatching on the method, so that HEAD
        # reaches its own handler or else the GET handler.
        by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
        for route in self.routes:
            by_path.setdefault(route.path, {})[route.method] = self._endpoint(route)
        routes = []
        for path, methods in by_path.items():
            if "GET" in methods and "HEAD" not in methods:
                methods["HEAD"] = methods["GET"]
            routes.append(
                StarletteRoute(path, _dispatch(methods), methods=list(methods), name=path)
            )

        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            if status == 404:
                return self.renderer(NotFound())
            if status == 405:
                return self.renderer(MethodNotAllowed())
            return self.renderer(StratusError())

        return Starlette(routes=routes, exception_handlers={404: http_error, 405: http_error})


def _dispatch(
    methods: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await methods[request.method](request)

    return endpoint
