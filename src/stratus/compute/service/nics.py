"""A server's NICs: the network service's ports it holds.

The API checks what a new server asks for (``plan``) and records it on the
server (``system_metadata["nics"]``); the agent of the host the scheduler
picked makes the ports Nova owns, binds every port to its host and records
each in ``compute_server_port`` (``ensure``), all idempotent, so a crash at
any point is finished by the next try.  Deleting the server deletes the
ports Nova made and gives the user's own back unbound (``release``).
Interfaces attached later (os-interface, add network/port) are rows too;
the agent hot-plugs them into a running guest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.service.network import NetworkClient, NicRequest, VifPort

log = logging.getLogger(__name__)

NICS_KEY = "nics"  # system_metadata: the NICs asked for at create, resolved


def make_nics(cfg: Config, db: Database, network: Any = None) -> ServerNics:
    """The NICs of servers as this process reaches the network service
    (``[compute] network_client``): the service object of this process, or
    one over the shared database; its API over HTTP; none when the network
    service is turned off."""
    mode = cfg.compute.network_client
    if mode == "auto":
        mode = "local" if "network" in cfg.services.enabled else "none"
    if mode == "none":
        return ServerNics(db, None)
    if mode == "http":
        from stratus.common.service_auth import service_client, service_session
        from stratus.compute.service.network_http import HttpNetwork
        from stratus.registry import SERVICES

        endpoint = SERVICES["network"].endpoint_url(cfg.public_url)
        return ServerNics(db, HttpNetwork(endpoint, service_client(service_session(cfg))))
    from stratus.compute.service.network_local import LocalNetwork

    if network is None:
        from stratus.network.service import NetworkService

        network = NetworkService(cfg, db)
    return ServerNics(db, LocalNetwork(network))


GROUPS_KEY = "security_groups"  # system_metadata: the groups of the ports Nova makes


def nic_metadata(nics: list[NicRequest], groups: list[str]) -> dict[str, Any]:
    """What a new server's system_metadata records of its NICs."""
    out: dict[str, Any] = {}
    if nics:
        out[NICS_KEY] = [n.to_dict() for n in nics]
    if groups:
        out[GROUPS_KEY] = groups
    return out


def requested(server: m.Server) -> list[NicRequest]:
    return [NicRequest.from_dict(d) for d in (server.system_metadata or {}).get(NICS_KEY, [])]


def zone_of(server: m.Server) -> str:
    return server.availability_zone or "nova"


class ServerNics:
    def __init__(self, db: Database, client: NetworkClient | None) -> None:
        self.db = db
        self.client = client

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def _client(self) -> NetworkClient:
        assert self.client is not None, "no network service"
        return self.client

    # -- reads -----------------------------------------------------------------------------

    async def rows(
        self, server_ids: Iterable[str], s: AsyncSession | None = None
    ) -> list[m.ServerPort]:
        ids = list(server_ids)
        if not ids:
            return []
        stmt = (
            select(m.ServerPort)
            .where(m.ServerPort.server_id.in_(ids))
            .order_by(m.ServerPort.position, m.ServerPort.created_at)
        )
        if s is not None:
            return list((await s.scalars(stmt)).all())
        async with self.db.session() as session:
            return list((await session.scalars(stmt)).all())

    async def ports_of(self, server_ids: Iterable[str]) -> dict[str, list[VifPort]]:
        """Each server's ports (attached or detaching, in order) as the
        network service has them now; {} without a network service."""
        if self.client is None:
            return {}
        rows = await self.rows(server_ids)
        found = await self.client.ports([r.port_id for r in rows])
        out: dict[str, list[VifPort]] = {}
        for r in rows:
            if r.port_id in found:
                out.setdefault(r.server_id, []).append(found[r.port_id])
        return out

    # -- the agent's side ------------------------------------------------------------------

    async def ensure(self, server: m.Server, host: str) -> list[VifPort]:
        """Make the server's ports as asked and bind them all to ``host``;
        the attached ports in order.  Idempotent."""
        client = self._client()
        rows = {r.port_id: r for r in await self.rows([server.id])}
        by_position = {r.position: r for r in rows.values()}
        missing = [(i, n) for i, n in enumerate(requested(server)) if i not in by_position]
        stray = {}
        if missing:
            stray = {p.id: p for p in await client.owned_by(server.id) if p.id not in rows}
        for position, nic in missing:
            if nic.port_id:
                port = await client.bind_port(
                    server.project_id, nic.port_id, server.id, zone_of(server), host
                )
                preserve = True
            else:
                # A port made for this NIC before a crash kept it from being recorded.
                port_found = next(
                    (p for p in stray.values() if p.network_id == nic.network_id), None
                )
                if port_found is not None:
                    stray.pop(port_found.id)
                    port = port_found
                else:
                    groups = list((server.system_metadata or {}).get(GROUPS_KEY, []))
                    port = await client.create_port(
                        server.project_id, server.id, zone_of(server), nic, groups, host
                    )
                preserve = False
            row = m.ServerPort(
                server_id=server.id,
                port_id=port.id,
                network_id=port.network_id,
                position=position,
                preserve_on_delete=preserve,
                tag=nic.tag,
            )
            async with self.db.transaction() as s:
                s.add(row)
            rows[port.id] = row
        attached = [
            r for r in sorted(rows.values(), key=lambda r: r.position) if r.state == m.PORT_ATTACHED
        ]
        found = await client.ports([r.port_id for r in attached])
        out = []
        for row in attached:
            have = found.get(row.port_id)
            if have is None or have.device_id != server.id or have.host != host:
                have = await client.bind_port(
                    server.project_id, row.port_id, server.id, zone_of(server), host
                )
            out.append(have)
        return out

    async def release(self, server: m.Server) -> list[str]:
        """The server is gone: delete the ports Nova made, unbind the user's.
        Returns what was done, for the log."""
        client = self._client()
        done = []
        for row in await self.rows([server.id]):
            await self.release_one(row)
            done.append(row.port_id)
        # A port made for the server whose record a crash lost.
        for port in await client.owned_by(server.id):
            if port.id not in done:
                asked = {n.port_id for n in requested(server) if n.port_id}
                if port.id in asked:
                    await client.unbind_port(port.id)
                else:
                    await client.delete_port(port.id)
                done.append(port.id)
        return done

    async def release_one(self, row: m.ServerPort) -> None:
        client = self._client()
        if row.preserve_on_delete:
            await client.unbind_port(row.port_id)
        else:
            await client.delete_port(row.port_id)
        async with self.db.transaction() as s:
            await s.execute(
                delete(m.ServerPort).where(
                    m.ServerPort.server_id == row.server_id, m.ServerPort.port_id == row.port_id
                )
            )

    async def sweep(self, host: str) -> list[str]:
        """Ports of servers that are gone (deleted while a crash kept their
        ports, or never recorded): released.  Returns the ports removed."""
        if self.client is None:
            return []
        pairs = await self.client.orphans(host)
        if not pairs:
            return []
        async with self.db.session() as s:
            servers = {
                srv.id: srv
                for srv in await s.scalars(
                    select(m.Server).where(m.Server.id.in_({sid for _p, sid in pairs}))
                )
            }
        removed = []
        for port_id, server_id in pairs:
            server = servers.get(server_id)
            if server is not None and server.deleted_at is None:
                continue
            asked = {n.port_id for n in requested(server)} if server is not None else set()
            if port_id in asked:
                await self.client.unbind_port(port_id)
            else:
                await self.client.delete_port(port_id)
            async with self.db.transaction() as s:
                await s.execute(delete(m.ServerPort).where(m.ServerPort.port_id == port_id))
            removed.append(port_id)
        return removed
