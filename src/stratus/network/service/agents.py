"""Network agents: each host's data plane registers itself (with its tunnel
address, the VXLAN peers of the other hosts) and beats its heart; the
admin sees them in ``/v2.0/agents`` as Neutron shows its agents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import utcnow
from stratus.network import models as m
from stratus.network.errors import AgentNotFound
from stratus.network.service.core import Changes, Core, push_filters

AGENT_TYPE = "Linux bridge agent"
BINARY = "stratus-network-agent"
COLUMNS = {
    "id": m.Agent.id,
    "host": m.Agent.host,
    "agent_type": m.Agent.agent_type,
    "binary": m.Agent.binary,
}


class Agents:
    def __init__(self, core: Core):
        self.core = core

    def alive(self, agent: m.Agent) -> bool:
        down = timedelta(seconds=self.core.net.agent_down_time)
        return utcnow() - agent.heartbeat_at < down

    async def register(
        self,
        host: str,
        tunnel_ip: str | None,
        *,
        agent_type: str = AGENT_TYPE,
        binary: str = BINARY,
        configurations: dict[str, Any] | None = None,
    ) -> m.Agent:
        """Record (or refresh) this host's agent at its start.  The hosts
        sharing networks with it are woken: their VXLAN peers changed."""

        async def work(s: AsyncSession, ch: Changes) -> m.Agent:
            agent = await s.scalar(
                select(m.Agent).where(m.Agent.host == host, m.Agent.agent_type == agent_type)
            )
            now = utcnow()
            if agent is None:
                agent = m.Agent(host=host, agent_type=agent_type, binary=binary, created_at=now)
                s.add(agent)
            moved = agent.tunnel_ip != tunnel_ip
            agent.binary, agent.tunnel_ip = binary, tunnel_ip
            agent.configurations = {**(configurations or {}), "tunneling_ip": tunnel_ip}
            agent.started_at = agent.heartbeat_at = now
            if moved:
                ch.networks.update(
                    await s.scalars(
                        select(m.Port.network_id).where(m.Port.binding_host == host).distinct()
                    )
                )
            return agent

        return await self.core.write(work)

    async def heartbeat(self, host: str, agent_type: str = AGENT_TYPE) -> bool:
        """The agent of ``host`` is alive; False when it is not registered
        (an admin deleted it: register again)."""

        async def work(s: AsyncSession, ch: Changes) -> bool:
            agent = await s.scalar(
                select(m.Agent).where(m.Agent.host == host, m.Agent.agent_type == agent_type)
            )
            if agent is None:
                return False
            agent.heartbeat_at = utcnow()
            return True

        return await self.core.write(work)

    async def load(self, s: AsyncSession, agent_id: str) -> m.Agent:
        agent = await s.get(m.Agent, agent_id)
        if agent is None:
            raise AgentNotFound(agent_id)
        return agent

    async def get(self, agent_id: str) -> m.Agent:
        return await self.core.read(lambda s: self.load(s, agent_id))

    async def find(self, filters: dict[str, list[str]] | None = None) -> list[m.Agent]:
        async def work(s: AsyncSession) -> list[m.Agent]:
            stmt = push_filters(select(m.Agent), COLUMNS, filters).order_by(m.Agent.host)
            return list((await s.scalars(stmt)).all())

        return await self.core.read(work)

    async def update(self, agent_id: str, attrs: dict[str, Any]) -> m.Agent:
        async def work(s: AsyncSession, ch: Changes) -> m.Agent:
            agent = await self.load(s, agent_id)
            for key in ("admin_state_up", "description"):
                if attrs.get(key) is not None:
                    setattr(agent, key, attrs[key])
            return agent

        return await self.core.write(work)

    async def delete(self, agent_id: str) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            await s.delete(await self.load(s, agent_id))

        await self.core.write(work)
