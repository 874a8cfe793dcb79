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
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, Self, get_args
from urllib.parse import quote

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
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
CLIENT_CLOSED = 499  # the status logged for a client that left mid-request (nginx's)


INT32 = (-(2**31), 2**31 - 1)  # an Integer column (PostgreSQL's integer)
INT64 = (-(2**63), 2**63 - 1)  # a BigInteger column


class _Wide:
    """Marks an integer field stored in a BigInteger column (``BigInt``)."""


BigInt = Annotated[int, _Wide()]


def _out_of_range(value: Any, bounds: tuple[int, int]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not bounds[0] <= value <= bounds[1]
    # JSON integers beyond 64 bits arrive as floats (orjson): never storable.
    return isinstance(value, float) and not -(2.0**63) <= value < 2.0**63


def _check_value(value: Any, bounds: tuple[int, int], where: str) -> None:
    if isinstance(value, (Schema, Query)):
        return  # checked by its own validator
    if isinstance(value, BaseModel):
        _check_ints(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(item, bounds, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_value(item, bounds, where)
    elif _out_of_range(value, bounds):
        raise PydanticCustomError(
            "int_range",
            "{field}: {value} is out of range (from {low} to {high})",
            {"field": where, "value": value, "low": bounds[0], "high": bounds[1]},
        )


def _wide(annotation: Any) -> bool:
    """Whether a field's type is (or holds, as in ``BigInt | None``) a BigInt."""
    if any(isinstance(meta, _Wide) for meta in getattr(annotation, "__metadata__", ())):
        return True
    return any(_wide(arg) for arg in get_args(annotation))


_BOUNDS: dict[type[BaseModel], dict[str, tuple[int, int]]] = {}


def _field_bounds(cls: type[BaseModel]) -> dict[str, tuple[int, int]]:
    bounds = _BOUNDS.get(cls)
    if bounds is None:
        bounds = {}
        for name, info in cls.model_fields.items():
            wide = any(isinstance(m, _Wide) for m in info.metadata) or _wide(info.annotation)
            bounds[name] = INT64 if wide else INT32
        _BOUNDS[cls] = bounds
    return bounds


def _check_ints(model: BaseModel) -> None:
    """Every integer of a request fits the column it is stored in: 32 bits
    unless the field is a ``BigInt`` (values in free-form fields too), so a
    number too big for the database is a 400, never a database error."""
    for name, bounds in _field_bounds(type(model)).items():
        _check_value(getattr(model, name), bounds, name)
    for name, value in (model.model_extra or {}).items():
        _check_value(value, INT32, name)


_DIGITS = re.compile(r"^\s*-?[0-9]+\s*$")


def numeric_string(value: Any) -> Any:
    """A string of digits as the integer it spells (OpenStack APIs take
    ``"10"`` for 10 in places), so the integer rule applies to it too."""
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return value


# An integer that may be sent as a string of digits; other strings stay strings.
IntOrString = Annotated[int | str, BeforeValidator(numeric_string)]


class Schema(BaseModel):
    """Base of request schemas: unknown fields are refused, and integers
    must fit their columns (``BigInt`` for 64-bit ones)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _integers_fit(self) -> Self:
        _check_ints(self)
        return self


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
    """Base of query schemas: unknown parameters are ignored; integers must
    fit their columns, as in ``Schema``."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="after")
    def _integers_fit(self) -> Self:
        _check_ints(self)
        return self


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


_URL_HEADERS = frozenset({"location", "content-location"})


def header_value(value: str, url: bool = False) -> str:
    """A header value as HTTP can carry it: unchanged when it is Latin-1 (a
    URL: ASCII), else with every other character percent-encoded as UTF-8,
    so that a name echoed back (a tag in a ``Location``) never fails the
    response of a write that happened."""
    try:
        value.encode("ascii" if url else "latin-1")
        return value
    except UnicodeEncodeError:
        return "".join(c if ord(c) < 0x80 else quote(c, safe="") for c in value)


def safe_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    return {k: header_value(v, k.lower() in _URL_HEADERS) for k, v in headers.items()}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        headers=safe_headers(headers),
        media_type="application/json",
    )


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=safe_headers(headers))


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
            except ClientDisconnect:
                # The client went away (or was dropped for being too slow)
                # before its request was read: nobody to answer.
                log.info("%s: the client left before its request was read", self.name)
                return Response(status_code=CLIENT_CLOSED)
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
