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

The pieces live beside it: ``schemas`` (the base request schemas),
``routes`` (``Route``, ``ApiRequest``), ``request_input`` (reading and
validating a request), ``responses`` (JSON and empty responses); their
names are importable from here too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from stratus.common import access_rules, logs
from stratus.common.context import RequestContext
from stratus.common.errors import (
    ErrorHandlers,
    ErrorRenderer,
    ErrorTranslations,
    MethodNotAllowed,
    StratusError,
    Unauthorized,
    UnknownPath,
)
from stratus.common.microversion import Microversions, Version
from stratus.common.policy import Enforcer
from stratus.common.request_input import (
    ActionPicker,
    describe_validation_error,
    header,
    parse_body,
    parse_query,
    read_json,
)
from stratus.common.responses import empty_response, header_value, json_response, safe_headers
from stratus.common.routes import ApiRequest, Handler, Route
from stratus.common.schemas import (
    BigInt,
    IntOrString,
    NoBody,
    NoQuery,
    Query,
    RawBody,
    Schema,
    numeric_string,
)

__all__ = [
    "CLIENT_CLOSED",
    "REQUEST_ID_KEY",
    "ApiRequest",
    "BigInt",
    "Handler",
    "IntOrString",
    "NoBody",
    "NoQuery",
    "Query",
    "RawBody",
    "Route",
    "Schema",
    "ServiceAPI",
    "TokenValidator",
    "describe_validation_error",
    "empty_response",
    "header_value",
    "json_response",
    "numeric_string",
    "request_id_of",
    "safe_headers",
]

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "stratus.request_id"
CLIENT_CLOSED = 499  # the status logged for a client that left mid-request (nginx's)


class TokenValidator(Protocol):
    async def validate(self, token: str, request_id: str) -> RequestContext: ...


def request_id_of(scope: Mapping[str, Any]) -> str:
    return str(scope.get(REQUEST_ID_KEY, "req-unknown"))


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
        # Every service's errors are answered through one registry: its
        # format, and the exceptions of its layers it translates.
        self.errors = ErrorHandlers({StratusError: renderer})
        for cls, into in (translations or {}).items():
            self.errors.translate(cls, into)
        self.renderer = self.errors.render
        self.validator = validator
        self.enforcer = enforcer
        self.base_url = base_url.rstrip("/")
        # The request id under the service's own name as well (Nova's
        # x-compute-request-id), beside x-openstack-request-id.
        self.request_id_header = request_id_header
        # The catalog types an application credential's access rule names
        # this service by (Cinder's block-storage and volumev3).
        self.service_types = service_types or _catalog_types(name)

    def _endpoint(self, routes: Sequence[Route]) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of one method of one path: one route, or the routes
        told apart by their body's key (``Route.action``)."""
        pick = ActionPicker(routes) if routes[0].action is not None else None
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
                return self.errors.unexpected(exc, log, self.name, request.method,
                                              request.url.path, request_id)  # fmt: skip

        return endpoint

    async def _api_request(
        self,
        request: Request,
        route: Route,
        pick: ActionPicker | None,
        request_id: str,
        version: Version | None,
    ) -> tuple[Route, ApiRequest[Any]]:
        """The caller authenticated, the query and body validated: the route
        that handles them (an action's, told by its body) and its request."""
        ctx = await self._authenticate(request, route, request_id)
        logs.note_caller(ctx.project_id, ctx.user_id)
        query = parse_query(request, route)
        if pick is not None:
            chosen, body = pick(await read_json(request), version)
        else:
            chosen, body = route, await parse_body(request, route, version)
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

    async def _authenticate(
        self, request: Request, route: Route, request_id: str
    ) -> RequestContext:
        token = header(request, b"x-auth-token")
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
        token = header(request, b"x-service-token")
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


def _dispatch(
    methods: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await methods[request.method](request)

    return endpoint
