"""The storage node over HTTP: a raw ASGI app, and ``serve_node`` to run it.

``METHOD /<device>/<partition>/<account>[/<container>[/<object>]]?query``
becomes a ``NodeRequest`` (names percent-decoded as UTF-8, header values
UTF-8); the ``NodeResponse`` streams back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import uvicorn

from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.node.replies import NodeError
from stratus.objectstore.node.server import Background, StorageNode
from stratus.objectstore.service.container_sync import SyncRealms

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WITH_BODY = {"PUT", "POST", "REPLICATE"}


def _name(raw: bytes) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise NodeError(400, "Names must be UTF-8") from None


def parse_request(scope: Scope, receive: Receive) -> NodeRequest:
    """The ``NodeRequest`` an HTTP request stands for (400 when the path is bad)."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    raw = raw.partition(b"?")[0]
    parts = raw.split(b"/", 5)
    if len(parts) < 4 or parts[0] != b"" or not parts[2].isdigit():
        raise NodeError(400, "Expected /device/partition/account[/container[/object]]")
    device, account = _name(parts[1]), _name(parts[3])
    container = _name(parts[4]) if len(parts) > 4 else None
    obj = _name(parts[5]) if len(parts) > 5 else None
    headers: dict[str, str] = {}
    for key, value in scope["headers"]:
        name = key.decode("latin-1").lower()
        text = value.decode("utf-8", "surrogateescape")
        headers[name] = f"{headers[name]},{text}" if name in headers else text
    query = {}
    if scope.get("query_string"):
        qs = scope["query_string"].decode("latin-1")
        query = dict(parse_qsl(qs, keep_blank_values=True, encoding="utf-8", errors="replace"))
    method = scope["method"]
    body = _body(receive) if method in WITH_BODY else None
    return NodeRequest(method, device, int(parts[2]), account, container, obj, headers, query, body)


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise NodeError(499, "Client disconnected")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def make_app(node: StorageNode) -> ASGIApp:
    """The ASGI app serving ``node``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await node.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await node.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            req = parse_request(scope, receive)
        except NodeError as e:
            await _send(send, e.response(), head=False)
            return
        resp = await node.handle(req)
        await _send(send, resp, head=req.method == "HEAD")

    return app


async def _send(send: Send, resp: NodeResponse, head: bool) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("utf-8", "surrogateescape")) for k, v in resp.headers.items()
    ]
    body = resp.body
    try:
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        if body is not None and not head:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


def node_server(
    node: StorageNode, *, host: str = "127.0.0.1", port: int = 6200, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for ``node`` (``await server.serve()`` runs it)."""
    config = uvicorn.Config(
        make_app(node),
        host=host,
        port=port,
        lifespan="on",
        access_log=False,
        log_level=log_level,
        http="httptools",
        timeout_keep_alive=75,
        server_header=False,
        date_header=True,
    )
    return uvicorn.Server(config)


async def serve_node(
    devices_root: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 6200,
    ring_dir: str | os.PathLike[str] | None = None,
    ip: str | None = None,
    workers: int = 16,
    log_level: str = "warning",
    worker_interval: float | None = None,
    background: Callable[[StorageNode], Background] | None = None,
    container_sync: SyncRealms | None = None,
    container_sync_interval: float = 60.0,
) -> None:
    """Run a storage node over HTTP until stopped (SIGINT/SIGTERM or cancel).
    ``ip`` is the address the rings give the node, when it differs from ``host``;
    with ``worker_interval`` the ``background`` workers run in the node's process."""
    node = StorageNode(
        devices_root,
        ip=ip or host,
        port=port,
        ring_dir=ring_dir,
        workers=workers,
        worker_interval=worker_interval,
        background=background,
        container_sync=container_sync,
        container_sync_interval=container_sync_interval,
    )
    server = node_server(node, host=host, port=port, log_level=log_level)
    try:
        await server.serve()
    finally:
        await node.close()
