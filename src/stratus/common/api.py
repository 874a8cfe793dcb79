"""The shape every service's API shares: a routes table whose entries name a
handler and its request schemas, turned into an ASGI app.

The wrapper around each handler does, in order: authenticate the caller
(unless the route is public), validate the query and the body against the
route's schemas, call the handler, and render any error in the service's
upstream format.  Handlers therefore only see validated input, a typed
``RequestContext`` and their service, typed: ``ApiRequest[ComputeService]``.

Every route names its schemas (``NoBody`` / ``NoQuery`` when it takes none).
Routes that share a method and path and differ by the one key of their JSON
body (OpenStack's ``POST .../action``) each name that key (``action``): the
body's key picks the route, whose schema then validates it.  Body schemas
see the negotiated microversion as their validation context
(``info.context["version"]``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Protocol, Self, TypeVar, get_args
from urllib.parse import quote

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from stratus.common import access_rules, logs
from stratus.common.action_bodies import ActionBodies
from stratus.common.context import RequestContext
from stratus.common.errors import (
    BadRequest,
    ErrorHandlers,
    ErrorRenderer,
    ErrorTranslations,
    MethodNotAllowed,
    PayloadTooLarge,
    StratusError,
    Unauthorized,
    UnknownPath,
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
    if value is None or type(value) is str:
        return  # the common case, on every request: nothing to check
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


S = TypeVar("S")
Handler = Callable[["ApiRequest[Any]"], Awaitable[Response]]


@dataclass(frozen=True, init=False)
class Route:
    """One route: method, path, handler and request schemas.  The schemas
    are named on purpose, ``NoBody`` / ``NoQuery`` for none: a route that
    names neither is ``undeclared``, which ``ServiceAPI`` refuses and the
    route-schema test reports."""

    method: str
    path: str
    handler: Handler
    body: type[BaseModel]
    query: type[BaseModel]
    public: bool  # no token needed (discovery, authentication)
    # Content types a body may have (None: any); others get 415.
    content_types: tuple[str, ...] | None
    # The one key of the JSON body that selects this route among those of
    # the same method and path (OpenStack's server actions).
    action: str | None
    undeclared: tuple[str, ...]  # the schemas not named ("body", "query")

    def __init__(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        public: bool = False,
        content_types: tuple[str, ...] | None = None,
        action: str | None = None,
    ) -> None:
        values = {
            "method": method,
            "path": path,
            "handler": handler,
            "body": body or NoBody,
            "query": query or NoQuery,
            "public": public,
            "content_types": content_types,
            "action": action,
            "undeclared": tuple(n for n, s in (("body", body), ("query", query)) if s is None),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)


@dataclass
class ApiRequest(Generic[S]):
    raw: Request
    ctx: RequestContext
    params: Mapping[str, str]
    body: Any
    query: Any
    service: S
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
        translations: ErrorTranslations | None = None,
        request_id_header: str | None = None,
        service_types: tuple[str, ...] | None = None,
    ):
        undeclared = [f"{r.method} {r.path}" for r in routes if r.undeclared]
        if undeclared:
            raise ValueError(f"{name}: routes that name no schemas: {', '.join(undeclared)}")
        self.microversions = microversions
        self.name = name
        self.routes = routes
        self.service = service
        # Every service's errors are answered through one registry.
        self.errors = ErrorHandlers({StratusError: renderer})
        self.renderer = self.errors.render
        self.validator = validator
        self.enforcer = enforcer
        self.base_url = base_url.rstrip("/")
        self.translations = dict(translations or {})
        # The request id under the service's own name as well (Nova's
        # x-compute-request-id), beside x-openstack-request-id.
        self.request_id_header = request_id_header
        # The catalog types an application credential's access rule names
        # this service by (Cinder's block-storage and volumev3).
        self.service_types = service_types or _catalog_types(name)

    def _endpoint(self, routes: Sequence[Route]) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of one method of one path: one route, or the routes
        told apart by their body's key (``Route.action``)."""
        pick = _ActionPicker(routes) if routes[0].action is not None else None
        route = routes[0]

        async def endpoint(request: Request) -> Response:
            request_id = request_id_of(request.scope)
            logs.note_route(route.path)
            if self.microversions is None:
                response = await handle(request, request_id, None)
            else:
                try:
                    version = self.microversions.negotiate(request.headers)
                except StratusError as exc:
                    response = self.renderer(exc)
                else:
                    response = await handle(request, request_id, version)
                    response.headers.update(self.microversions.headers(version))
            if self.request_id_header:
                response.headers[self.request_id_header] = request_id
            return response

        async def handle(request: Request, request_id: str, version: Version | None) -> Response:
            try:
                chosen, api_request = await self._api_request(
                    request, route, pick, request_id, version
                )
                return await chosen.handler(api_request)
            except StratusError as exc:
                return self.renderer(exc)
            except ClientDisconnect:
                # The client went away (or was dropped for being too slow)
                # before its request was read: nobody to answer.
                log.info("%s: the client left before its request was read", self.name)
                return Response(status_code=CLIENT_CLOSED)
            except Exception as exc:
                return self._unexpected(exc, request, request_id)

        return endpoint

    async def _api_request(
        self,
        request: Request,
        route: Route,
        pick: _ActionPicker | None,
        request_id: str,
        version: Version | None,
    ) -> tuple[Route, ApiRequest[Any]]:
        """The caller authenticated, the query and body validated: the route
        that handles them (an action's, told by its body) and its request."""
        ctx = await self._authenticate(request, route, request_id)
        logs.note_caller(ctx.project_id, ctx.user_id)
        query = _query(request, route)
        if pick is not None:
            chosen, body = pick(await _read_json(request), version)
        else:
            chosen, body = route, await _body(request, route, version)
        api_request: ApiRequest[Any] = ApiRequest(
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
        return chosen, api_request

    def _unexpected(self, exc: Exception, request: Request, request_id: str) -> Response:
        """An exception no handler expected: the service's own error if its
        layers' exception translates to one, else one logged 500."""
        translated = self._translate(exc)
        if translated is not None:
            return self.renderer(translated)
        log.exception(
            "%s: unexpected error on %s %s [%s]",
            self.name,
            request.method,
            request.url.path,
            request_id,
        )
        return self.renderer(StratusError())

    def _translate(self, exc: Exception) -> StratusError | None:
        """The service's own error for an exception of its layers, if any."""
        for cls in type(exc).__mro__:
            translate = self.translations.get(cls)
            if translate is not None:
                return translate(exc)
        return None

    async def _authenticate(
        self, request: Request, route: Route, request_id: str
    ) -> RequestContext:
        token = _header(request, b"x-auth-token")
        if not route.public:
            if not token:
                raise Unauthorized()
            return await self._validate(request, token, request_id)
        if token:
            try:
                return await self._validate(request, token, request_id)
            except StratusError:
                pass  # a public route works with a bad token too
        return RequestContext(request_id=request_id)

    async def _validate(self, request: Request, token: str, request_id: str) -> RequestContext:
        """The token's context, if its access rules (if any) allow this
        request, or a service vouches for it (``X-Service-Token``)."""
        ctx = await self.validator.validate(token, request_id)
        if ctx.access_rules is not None:
            path = access_rules.request_path(request.scope)
            allowed = access_rules.allows(
                ctx.access_rules, self.service_types, request.method, path
            )
            if not allowed and not await self._from_service(request, request_id):
                raise Unauthorized()
        return ctx

    async def _from_service(self, request: Request, request_id: str) -> bool:
        """Whether a service sent the request for its user: a valid token
        with the ``service`` role in ``X-Service-Token`` (keystonemiddleware's
        default ``service_token_roles``)."""
        token = _header(request, b"x-service-token")
        if not token:
            return False
        try:
            service = await self.validator.validate(token, request_id)
        except StratusError:
            return False
        return service.access_rules is None and service.has_role("service")

    def asgi(self) -> Starlette:
        # One Starlette route per path, dispatching on the method, so that HEAD
        # reaches its own handler or else the GET handler.
        grouped: dict[str, dict[str, list[Route]]] = {}
        for route in self.routes:
            grouped.setdefault(route.path, {}).setdefault(route.method, []).append(route)
        routes = []
        for path, by_method in grouped.items():
            methods = {method: self._endpoint(group) for method, group in by_method.items()}
            if "GET" in methods and "HEAD" not in methods:
                methods["HEAD"] = methods["GET"]
            routes.append(
                StarletteRoute(path, _dispatch(methods), methods=list(methods), name=path)
            )

        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            path = access_rules.request_path(request.scope)
            error: StratusError
            if status == 404:
                error = UnknownPath(
                    f"The resource could not be found: the {self.name} API serves nothing at "
                    f"{path}."
                )
            elif status == 405:
                allowed = (getattr(exc, "headers", None) or {}).get("Allow", "").split(", ")
                allow = ", ".join(sorted(m for m in allowed if m))
                error = MethodNotAllowed(
                    f"The method {request.method} is not allowed for this resource "
                    f"({path} takes {allow}).",
                    headers={"Allow": allow},
                )
            else:
                return self.renderer(StratusError())
            return self.renderer(error)

        return Starlette(routes=routes, exception_handlers={404: http_error, 405: http_error})


def _catalog_types(name: str) -> tuple[str, ...]:
    from stratus.registry import SERVICES

    info = SERVICES.get(name)
    return tuple(t for t, _ in info.catalog_entries()) if info is not None else (name,)


def _query(request: Request, route: Route) -> Any:
    if route.query is not NoQuery or request.scope.get("query_string"):
        try:
            return route.query.model_validate(_query_dict(request))
        except ValidationError as exc:
            raise BadRequest(describe_validation_error(exc)) from exc
    if request.path_params and _has_nul(dict(request.path_params)):
        raise BadRequest("NUL characters are not allowed in the URL.")
    return None


async def _body(request: Request, route: Route, version: Version | None) -> Any:
    if route.content_types is not None and route.body is not NoBody:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in route.content_types:
            raise UnsupportedMediaType(
                f"Content-Type {ctype or '(none)'} is not accepted here; "
                f"use {' or '.join(route.content_types)}."
            )
    if route.body in (NoBody, RawBody):
        return None
    raw = await _read_json(request)
    # A body schema whose JSON is not an object names the field it fills.
    wrap_key: str | None = getattr(route.body, "wrap_key", None)
    if wrap_key is not None:
        raw = {wrap_key: raw}
    return _validate(route.body, raw, version)


def _validate(schema: type[BaseModel], raw: Any, version: Version | None) -> Any:
    if _has_nul(raw):
        raise BadRequest("NUL characters are not allowed in the request body.")
    try:
        return schema.model_validate(raw if raw is not None else {}, context={"version": version})
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from exc


class _ActionPicker:
    """Picks the route of an action body by its one key (``ActionBodies``)."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = {str(r.action): r for r in routes}
        if len(self.routes) != len(routes) or None in (r.action for r in routes):
            raise ValueError(f"{routes[0].method} {routes[0].path}: actions need distinct names")
        self.bodies = ActionBodies({key: r.body for key, r in self.routes.items()})

    def __call__(self, raw: Any, version: Version | None) -> tuple[Route, Any]:
        key = self.bodies.key(raw)
        if key is None:
            _validate(self.bodies.union, raw, version)  # refuses it, as the union does
            raise BadRequest("The request body names no known action.")
        route = self.routes[key]
        return route, _validate(route.body, raw, version)


def _dispatch(
    methods: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await methods[request.method](request)

    return endpoint
