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

from stratus.common.access_rules import request_path
from stratus.common.api import (
    REQUEST_ID_KEY,
    ApiRequest,
    NoQuery,
    Route,
    TokenValidator,
    describe_validation_error,
)
from stratus.common.context import RequestContext
from stratus.common.errors import ErrorHandlers, StratusError
from stratus.common.policy import Enforcer
from stratus.objectstore import errors
from stratus.objectstore.api import cors
from stratus.objectstore.api.request import (
    CALLER,
    SYNC_REALMS,
    mount_of,
    parse_path,
    raw_path_of,
)
from stratus.objectstore.api.routes import ROUTES
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.service.container_sync import SyncRealms
from stratus.objectstore.service.interface import Caller, ObjectStore
from stratus.objectstore.service.limits import Limits

log = logging.getLogger(__name__)

DEFAULT_TYPE = b"text/plain; charset=utf-8"
TRUE = ("1", "true", "yes", "on", "t", "y")


def trans_id() -> str:
    """Swift's transaction id: ``tx`` + 21 hex digits + ``-`` + the time in hex."""
    return f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"


class SwiftApp:
    """Routes Swift's requests to the handlers of the routes table; the
    handlers call ``store``, the top of the layer stack."""

    def __init__(
        self,
        store: ObjectStore,
        limits: Limits,
        enforcer: Enforcer,
        validator: TokenValidator,
        *,
        public_url: str = "",
        routes: list[Route] | None = None,
        date_header: bool = False,
        cors_policy: cors.CorsPolicy | None = None,
        sync_realms: SyncRealms | None = None,
    ) -> None:
        self.store = store
        self.sync_realms = sync_realms or SyncRealms()
        self.cors = cors_policy or cors.CorsPolicy()
        self.limits = limits
        self.public_url = public_url
        self.enforcer = enforcer
        self.validator = validator
        self.date_header = date_header  # uvicorn adds Date itself
        self.errors = ErrorHandlers({StratusError: errors.render})
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
        scope[cors.POLICY] = self.cors
        scope[SYNC_REALMS] = self.sync_realms
        standalone = REQUEST_ID_KEY not in scope
        request_id = txid if standalone else str(scope[REQUEST_ID_KEY])
        method = scope["method"]
        try:
            response = await self._handle(scope, receive, request_id)
        except StratusError as exc:
            response = self.errors.render(exc)
        except Exception as exc:  # the shared catch-all: a logged 500 in Swift's format
            path = str(scope.get("path"))
            response = self.errors.unexpected(exc, log, "objectstore", method, path, txid)
        extra: list[tuple[bytes, bytes]] = [(b"x-trans-id", txid.encode())]
        extra += await self._cors(scope, response)
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

    async def _cors(self, scope: Scope, response: Response) -> list[tuple[bytes, bytes]]:
        """CORS headers for a request with an Origin to a container or an
        object (a preflight is the OPTIONS route's), or to ``/info``."""
        origin = next((v for k, v in scope.get("headers", ()) if k == b"origin"), None)
        if not origin or scope["method"] == "OPTIONS":
            return []
        try:
            path = parse_path(raw_path_of(scope), self.limits)
        except StratusError:
            return []
        if path.template == "/info":
            # Swift's /info allows any origin, exposing its transaction id.
            return [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", b"x-trans-id"),
            ]
        if path.container is None or path.account is None:
            return []
        info = await self.store.info(path.account, path.container)
        found = info.headers if info.status < 300 else {}
        answer = {k.decode("latin-1"): v.decode("latin-1") for k, v in response.raw_headers}
        headers = cors.response_headers(self.cors, found, origin.decode("latin-1"), answer)
        return [(k.encode(), v.encode("latin-1", "replace")) for k, v in headers.items()]

    async def _handle(self, scope: Scope, receive: Receive, request_id: str) -> Response:
        raw = raw_path_of(scope)
        path = parse_path(raw, self.limits)
        if not path.template:
            raise errors.NotFound()
        method = scope["method"]
        route = self.table.get((method, path.template))
        if route is None:
            allow = ", ".join(sorted(self.allow.get(path.template, [])))
            raise errors.MethodNotAllowed(headers={"allow": allow})
        request = Request(scope, receive)
        params = dict(request.query_params) if scope.get("query_string") else {}
        query: Any = None
        if route.query is not NoQuery:
            try:
                query = route.query.model_validate(params)
            except ValidationError as exc:
                raise errors.BadRequest(describe_validation_error(exc)) from exc
        headers = request.headers
        token = (
            None if route.public else headers.get("x-auth-token") or headers.get("x-storage-token")
        )
        scope[CALLER] = Caller(
            request_id,
            path=path.decoded,
            method=method,
            raw_path=request_path(scope),
            root=mount_of(scope),
            params=params,
            token=token,
            validate=self.validator.validate,
            referer=headers.get("referer"),
            web_mode=headers.get("x-web-mode", "").strip().lower() in TRUE,
        )
        api = ApiRequest(
            raw=request,
            ctx=_ANONYMOUS,
            params=path.params,
            body=None,
            query=query,
            service=self.store,
            enforcer=self.enforcer,
            base_url=self.public_url,
        )
        return await route.handler(api)


_ANONYMOUS = RequestContext(request_id="")  # handlers use the Caller (see request.caller_of)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Standalone use (tests): nothing to start or stop here."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
