"""Clients that reach storage nodes: in-process, and over HTTP.

``LocalNodeClient`` calls a node's ``handle`` directly (the all-in-one).
``HttpNodeClient`` sends ``METHOD /<device>/<partition>/<account>[/<container>
[/<object>]]`` with a pooled ``httpx.AsyncClient``, streaming bodies both ways.
Names are percent-encoded UTF-8 (dots too, so that no name is a dot segment);
header values travel as UTF-8.  A response body must be read to its end (or
its iterator closed) to give the connection back to the pool.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from urllib.parse import quote, urlencode

import httpx

from stratus.common import tls
from stratus.objectstore.node.protocol import (
    NodeClient,
    NodeHandler,
    NodeRequest,
    NodeResponse,
    NodeUnavailable,
)


class LocalNodeClient:
    """Reaches nodes of this process; others through ``fallback`` (or
    NodeUnavailable).  Remove a node from ``nodes`` to make it look down."""

    def __init__(
        self,
        nodes: Mapping[tuple[str, int], NodeHandler],
        fallback: NodeClient | None = None,
    ) -> None:
        self.nodes = dict(nodes)
        self.fallback = fallback

    async def request(self, ip: str, port: int, req: NodeRequest) -> NodeResponse:
        node = self.nodes.get((ip, port))
        if node is None:
            if self.fallback is not None:
                return await self.fallback.request(ip, port, req)
            raise NodeUnavailable(f"no node at {ip}:{port}")
        return await node.handle(req)


def quote_name(name: str) -> str:
    return quote(name, safe="").replace(".", "%2E")


def node_path(req: NodeRequest) -> str:
    parts = [quote_name(req.device), str(req.partition), quote_name(req.account)]
    if req.container is not None:
        parts.append(quote_name(req.container))
        if req.obj is not None:
            parts.append(quote_name(req.obj))
    return "/" + "/".join(parts)


class HttpNodeClient:
    """Reaches nodes over HTTP/1.1 with keep-alive connections."""

    def __init__(
        self,
        *,
        connect_timeout: float = 2.0,
        timeout: float = 30.0,
        max_connections: int = 512,
    ) -> None:
        self._client = tls.client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def request(self, ip: str, port: int, req: NodeRequest) -> NodeResponse:
        host = f"[{ip}]" if ":" in ip else ip
        url = f"http://{host}:{port}{node_path(req)}"
        if req.query:
            url += "?" + urlencode(req.query, quote_via=quote)
        headers = [(k.encode("latin-1"), v.encode("utf-8")) for k, v in req.headers.items()]
        request = self._client.build_request(req.method, url, headers=headers, content=req.body)
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.TransportError as e:
            raise NodeUnavailable(f"{ip}:{port}: {e!r}") from e
        out = {
            k.decode("latin-1").lower(): v.decode("utf-8", "surrogateescape")
            for k, v in resp.headers.raw
        }
        if req.method == "HEAD" or resp.status_code in (204, 304):
            await resp.aclose()
            return NodeResponse(resp.status_code, out)
        return NodeResponse(resp.status_code, out, _Body(resp, f"{ip}:{port}"))

    async def aclose(self) -> None:
        await self._client.aclose()


class _Body:
    """A response body that gives the connection back when closed, even if it
    was never iterated (closing a never-started async generator skips its
    ``finally``, which would leak the pooled connection)."""

    def __init__(self, resp: httpx.Response, where: str) -> None:
        self._resp = resp
        self._chunks = _stream(resp, where)

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        try:
            await self._chunks.aclose()
        finally:
            await self._resp.aclose()


async def _stream(resp: httpx.Response, where: str) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in resp.aiter_raw():
            yield chunk
    except httpx.TransportError as e:
        raise NodeUnavailable(f"{where}: {e!r}") from e
    finally:
        await resp.aclose()
