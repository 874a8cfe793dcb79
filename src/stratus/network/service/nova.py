"""How the network service tells compute about servers' ports, as
Neutron's Nova notifier does: ``network-vif-plugged`` when a server's port
turns ACTIVE on its host, ``network-vif-unplugged`` when it goes DOWN from
ACTIVE, ``network-vif-deleted`` when it is deleted, each with the port's id
as the tag (compute's ``POST /os-server-external-events``).

Events are sent after the change is committed, in the background: a
notification that fails is logged and never fails the change (compute
looks at the port once its wait is over).  ``LocalCompute`` calls the
compute service of this process; ``HttpCompute`` calls compute's API at its
catalog endpoint as the service user (its token renewed on a 401), for a
network service (or a ``stratus network-agent``) without compute in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from stratus.common.config import Config

log = logging.getLogger(__name__)

OWNER_PREFIX = "compute:"
VIF_PLUGGED = "network-vif-plugged"
VIF_UNPLUGGED = "network-vif-unplugged"
VIF_DELETED = "network-vif-deleted"


@dataclass(frozen=True)
class ServerEvent:
    server_uuid: str
    name: str
    tag: str
    status: str = "completed"

    def to_dict(self) -> dict[str, str]:
        return {
            "server_uuid": self.server_uuid, "name": self.name,
            "tag": self.tag, "status": self.status,
        }  # fmt: skip


class ComputeEvents(Protocol):
    async def send(self, events: list[ServerEvent]) -> None:
        """Deliver the events to compute (raises when it cannot)."""


class LocalCompute:
    """The compute service of this process (``ServerEvents.create``)."""

    def __init__(self, create: Callable[[list[ServerEvent]], Awaitable[object]]) -> None:
        self.create = create

    async def send(self, events: list[ServerEvent]) -> None:
        await self.create(events)


class HttpCompute:
    """Compute's API (``POST {endpoint}/os-server-external-events``)."""

    def __init__(self, endpoint: str, client: httpx.AsyncClient) -> None:
        self.url = endpoint.rstrip("/") + "/os-server-external-events"
        self.client = client

    async def send(self, events: list[ServerEvent]) -> None:
        body = {"events": [e.to_dict() for e in events]}
        resp = await self.client.post(self.url, json=body)
        # 404: none of the servers exists (deleted meanwhile): nothing to do.
        if resp.status_code not in (200, 207, 404):
            raise RuntimeError(f"compute answered {resp.status_code}: {resp.text[:200]}")

    async def close(self) -> None:
        await self.client.aclose()


class NovaNotifier:
    """Sends each committed change's events in a task of its own."""

    def __init__(self) -> None:
        self.target: ComputeEvents | None = None  # None: compute is not told
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, events: list[ServerEvent]) -> None:
        if not events or self.target is None:
            return
        task = asyncio.create_task(self._send(self.target, events), name="nova-events")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, target: ComputeEvents, events: list[ServerEvent]) -> None:
        try:
            await target.send(events)
        except Exception as exc:
            names = ", ".join(f"{e.name} {e.tag}" for e in events)
            log.warning("network: telling compute of %s failed: %s", names, exc)

    async def drain(self) -> None:
        """Wait for the events being sent (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def port_event(owner: str, device_id: str, port_id: str, name: str) -> ServerEvent | None:
    """The event of a server's port (None for ports of anything else)."""
    if not owner.startswith(OWNER_PREFIX) or not device_id:
        return None
    return ServerEvent(device_id, name, port_id)


def http_compute(cfg: Config) -> HttpCompute:
    """Compute's API at its catalog endpoint, called as the service user."""
    from stratus.common.service_auth import service_client, service_session
    from stratus.registry import SERVICES

    endpoint = SERVICES["compute"].endpoint_url(cfg.public_url)
    return HttpCompute(endpoint, service_client(service_session(cfg), timeout=30.0))
