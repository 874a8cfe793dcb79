"""ASGI middleware shared by every service (pure ASGI, for speed)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.common.api import REQUEST_ID_KEY

log = logging.getLogger(__name__)


class RequestIdMiddleware:
    """Gives every request an id, and every response the
    ``x-openstack-request-id`` header carrying it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope[REQUEST_ID_KEY] = request_id
        header = (b"x-openstack-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append(header)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
