"""A proxy over FakeNodes: 3 replicas in 3 zones, plus a fourth device for handoffs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from stratus.common.context import RequestContext
from stratus.common.errors import Unauthorized
from stratus.common.policy import Enforcer
from stratus.objectstore import policies
from stratus.objectstore.api.cors import CorsPolicy
from stratus.objectstore.app import build
from stratus.objectstore.ring.builder import RingBuilder
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import Proxy
from tests.unit.objectstore.api.fake import FakeNodes

TOKENS = {
    "alice": RequestContext("r", user_id="u-alice", project_id="p1", roles=("member", "reader")),
    "reader": RequestContext("r", user_id="u-reader", project_id="p1", roles=("reader",)),
    "bob": RequestContext("r", user_id="u-bob", project_id="p2", roles=("member", "reader")),
    "admin": RequestContext("r", user_id="u-admin", project_id="p9", roles=("admin", "member")),
}


class FakeValidator:
    async def validate(self, token: str, request_id: str) -> RequestContext:
        if token not in TOKENS:
            raise Unauthorized()
        return TOKENS[token]


def make_ring(replicas: int = 3, devices: int = 4) -> Ring:
    b = RingBuilder(6, replicas, hash_prefix="p", hash_suffix="s")
    for i in range(devices):
        b.add_device(0, i, f"10.0.0.{i + 1}", 6200, "sda", 100.0)
    b.rebalance(seed=1)
    return b.get_ring()


@dataclass
class Cloud:
    http: httpx.AsyncClient
    nodes: FakeNodes
    proxy: Proxy

    def as_(self, token: str) -> dict[str, str]:
        return {"x-auth-token": token}


@asynccontextmanager
async def cloud_with(cors: CorsPolicy | None = None) -> AsyncIterator[Cloud]:
    """The in-memory cluster behind the API, with the operator's CORS options."""
    nodes = FakeNodes()
    ring = make_ring()
    proxy = Proxy(ring, ring, ring, nodes, info_ttl=0)
    service = ObjectStoreService(proxy)
    app = build(service, Enforcer(policies.RULES), FakeValidator(), cors)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"x-auth-token": "alice"}
    ) as http:
        yield Cloud(http, nodes, proxy)


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    async with cloud_with() as made:
        yield made
