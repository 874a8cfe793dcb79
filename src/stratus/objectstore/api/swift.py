"""The object store's ASGI app: Swift's paths, tokens that may be absent
(container ACLs let anonymous readers in), and the headers every Swift
response carries: X-Trans-Id, X-Openstack-Request-Id, Content-Type, and
X-Timestamp on successful GET and HEAD."""

from __future__ import annotations

import logging
import time
import uuid
from email.utils import formatdate
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from stratus.common.api import (
    REQUEST_ID_KEY,
    ApiRequest,
    NoQuery,
    Route,
    TokenValidator,
    describe_validation_error,
)
from stratus.common.context import RequestContext
from stratus.common.errors import StratusError
from stratus.common.policy import Enforcer
from stratus.objectstore import errors
from stratus.objectstore.api.auth import PREAUTH
from stratus.objectstore.api.request import CONTAINER, OBJECT, decode, parse_path, raw_path_of
from stratus.objectstore.api.routes import ROUTES
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.layers import formpost, tempurl
from stratus.objectstore.service import ObjectStoreService

log = logging.getLogger(__name__)

DEFAULT_TYPE = b"text/plain; charset=utf-8"


def trans_id() -> str:
    """Swift's transaction id: ``tx`` + 21 hex digits + ``-`` + the time in hex."""
    return f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"


class SwiftApp:
    """Routes Swift's requests to the handlers of the routes table."""

    def __init__(
        self,
        service: ObjectStoreService,
        enforcer: Enforcer,
        validator: TokenValidator,
        *,
        routes: list[Route] | None = None,
        date_header: bool = False,
    ) -> None:
        self.service = service
        self.enforcer = enforcer
        self.validator = validator
        self.date_header = date_header  # uvicorn adds Date itself
        self.table: dict[tuple[str, str], Route] = {}
        self.allow: dict[str, list[str]] = {}
        for route in routes if routes is not None else ROUTES:
            self.table[(route.method, route.path)] = route
            self.allow.setdefault(route.path, []).append(route.method)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        txid = trans_id()
        standalone = REQUEST_ID_KEY not in scope
        request_id = txid if standalone else str(scope[REQUEST_ID_KEY])
        method = scope["method"]
        try:
            response = await self._handle(scope, receive, request_id)
        except StratusError as exc:
            response = errors.render(exc)
        except Exception:
            log.exception(
                "objectstore: unexpected error on %s %s [%s]", method, scope.get("path"), txid
            )
            response = errors.render(errors.SwiftError())
        extra: list[tuple[bytes, bytes]] = [(b"x-trans-id", txid.encode())]
        if standalone:
            extra.append((b"x-openstack-request-id", txid.encode()))
        if self.date_header:
            extra.append((b"date", formatdate(usegmt=True).encode()))
        stamp = method in ("GET", "HEAD") and response.status_code < 400

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                names = {k.lower() for k, _v in headers}
                if b"content-type" not in names:
                    headers.append((b"content-type", DEFAULT_TYPE))
                if stamp and b"x-timestamp" not in names:
                    headers.append((b"x-timestamp", Timestamp.now().normal.encode()))
                message["headers"] = headers + extra
            await send(message)

        await response(scope, receive, send_with_headers)

    async def _handle(self, scope: Scope, receive: Receive, request_id: str) -> Response:
        raw = raw_path_of(scope)
        path = parse_path(raw, self.service.limits)
        if not path.template:
            raise errors.NotFound()
        method = scope["method"]
        request = Request(scope, receive)
        if method == "POST" and path.template in (CONTAINER, OBJECT) and formpost.is_form(request):
            return await formpost.handle(self.service, path, request)
        route = self.table.get((method, path.template))
        if route is None:
            allow = ", ".join(sorted(self.allow.get(path.template, [])))
            raise errors.MethodNotAllowed(headers={"allow": allow})
        grant: tempurl.Grant | None = None
        if "temp_url_sig" in request.query_params or "temp_url_expires" in request.query_params:
            if path.template != OBJECT or path.account is None:
                raise tempurl.invalid(path.account or "")
            assert path.container is not None and path.obj is not None
            grant = await tempurl.check(
                self.service.proxy,
                method,
                decode(raw),
                path.account,
                path.container,
                path.obj,
                request.query_params,
            )
            scope[PREAUTH] = path.account
            ctx = RequestContext(request_id=request_id)
        else:
            ctx = await self._context(request, request_id, route.public)
        query: Any = None
        if route.query is not NoQuery:
            try:
                query = route.query.model_validate(dict(request.query_params))
            except ValidationError as exc:
                raise errors.BadRequest(describe_validation_error(exc)) from exc
        api = ApiRequest(
            raw=request,
            ctx=ctx,
            params=path.params,
            body=None,
            query=query,
            service=self.service,
            enforcer=self.enforcer,
            base_url=self.service.public_url,
        )
        response = await route.handler(api)
        if grant is not None:
            tempurl.finish(response, grant, method, path.obj or "")
        return response

    async def _context(self, request: Request, request_id: str, public: bool) -> RequestContext:
        """The caller; anonymous without a token (ACLs may still let it in),
        401 with a token that does not validate."""
        headers = request.headers
        token = headers.get("x-auth-token") or headers.get("x-storage-token")
        if not token or public:
            return RequestContext(request_id=request_id)
        return await self.validator.validate(token, request_id)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Standalone use (tests): nothing to start or stop here."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
