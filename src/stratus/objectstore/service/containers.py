"""Containers: create, list, stats and metadata, delete."""

from __future__ import annotations

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service.accounts import POLICY_NAME, Accounts
from stratus.objectstore.service.interface import Listing
from stratus.objectstore.service.listing import parse_listing
from stratus.objectstore.service.quorum import Proxy, client_headers, close_body

POLICY_INDEX = "0"


def container_headers(headers: dict[str, str]) -> dict[str, str]:
    out = client_headers(headers)
    out.setdefault("x-container-object-count", "0")
    out.setdefault("x-container-bytes-used", "0")
    out["x-storage-policy"] = POLICY_NAME
    return out


class Containers:
    def __init__(self, proxy: Proxy, accounts: Accounts) -> None:
        self.proxy = proxy
        self.accounts = accounts

    async def head(self, account: str, container: str) -> NodeResponse:
        resp = await self.proxy.read("HEAD", account, container)
        await close_body(resp)
        if resp.status >= 300:
            return NodeResponse(resp.status)
        return NodeResponse(204, container_headers(resp.headers))

    async def get(self, account: str, container: str, query: dict[str, str]) -> Listing:
        resp = await self.proxy.read("GET", account, container, query={**query, "format": "json"})
        if resp.status >= 300:
            await close_body(resp)
            return Listing(resp.status, {})
        return Listing(200, container_headers(resp.headers), await parse_listing(resp))

    async def put(self, account: str, container: str, headers: dict[str, str]) -> NodeResponse:
        """201 when created, 202 when it existed (its metadata updated)."""
        await self.accounts.ensure(account)
        stamp = Timestamp.now().internal
        targets = self.proxy.update_targets(account)
        resp = await self.proxy.write(
            "PUT",
            account,
            container,
            headers_for=lambda i: {
                **headers,
                "x-timestamp": stamp,
                "x-backend-storage-policy-index": POLICY_INDEX,
                **targets(i),
            },
        )
        self.proxy.forget(account, container)
        self.proxy.forget(account)
        return NodeResponse(resp.status)

    async def post(self, account: str, container: str, headers: dict[str, str]) -> NodeResponse:
        stamp = Timestamp.now().internal
        resp = await self.proxy.write(
            "POST", account, container, headers_for=lambda _i: {**headers, "x-timestamp": stamp}
        )
        self.proxy.forget(account, container)
        return NodeResponse(204 if resp.status < 300 else resp.status)

    async def delete(self, account: str, container: str) -> NodeResponse:
        """204; 409 while objects remain; 404 when missing."""
        stamp = Timestamp.now().internal
        targets = self.proxy.update_targets(account)
        resp = await self.proxy.write(
            "DELETE",
            account,
            container,
            headers_for=lambda i: {"x-timestamp": stamp, **targets(i)},
        )
        self.proxy.forget(account, container)
        self.proxy.forget(account)
        return NodeResponse(204 if resp.status < 300 else resp.status)
