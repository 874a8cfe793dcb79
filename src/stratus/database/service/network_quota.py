"""Room in the project's network quota for new database instances.

Each instance on a network takes, in the user's project, a security group
``trove-<id>`` (two egress rules and one ingress rule per allowed range, two
when open to all), a port, and a floating IP when public; the project's
``default`` group (four rules) is made with the first of them.  The agent
makes these after the create is answered, so a project without the room
would only see its instances go to ERROR: the create is refused up front
instead (Trove's 413 overLimit, naming the resource).

What instances being built will still take counts as taken (a reservation
made by their rows), and the check runs in the transaction that adds the
new rows, serialized per project (``serialize``), so two creates at once
can't both take the last group.  A network resource made by the user at
the same moment is not serialized with this; the agent's create then fails
with the network's 409 and the instance ends in ERROR with that fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import Config
from stratus.common.db import serialize
from stratus.database import models as m
from stratus.database.errors import OverLimit
from stratus.network import models as nm

EGRESS_RULES = 2  # a new group's own egress rules (IPv4, IPv6)
DEFAULT_GROUP_RULES = 4  # the default group's: ingress from itself and egress, both families
MODELS: dict[str, Any] = {
    "security_group": nm.SecurityGroup,
    "security_group_rule": nm.SecurityGroupRule,
    "port": nm.Port,
    "floatingip": nm.FloatingIP,
}


@dataclass(frozen=True)
class Need:
    """What instances take from the network quota."""

    security_group: int = 0
    security_group_rule: int = 0
    port: int = 0
    floatingip: int = 0

    def __add__(self, other: Need) -> Need:
        return Need(*(getattr(self, r) + getattr(other, r) for r in MODELS))


def need_of(count: int, is_public: bool, cidrs: int) -> Need:
    """What ``count`` new instances on a network take."""
    rules = EGRESS_RULES + (cidrs or 2)
    return Need(count, count * rules, count, count if is_public else 0)


class NetworkQuota:
    def __init__(self, cfg: Config):
        net = cfg.network
        self.defaults = {r: int(getattr(net, f"quota_{r}")) for r in MODELS}

    @staticmethod
    async def lock(s: AsyncSession, project_id: str) -> None:
        """Serialize the project's creates: their checks and inserts."""
        await serialize(s, "database-quota", project_id)

    async def limits(self, s: AsyncSession, project_id: str) -> dict[str, int]:
        out = dict(self.defaults)
        rows = await s.execute(
            select(nm.Quota.resource, nm.Quota.hard_limit).where(nm.Quota.project_id == project_id)
        )
        out.update({r: int(v) for r, v in rows if r in out})
        return out

    async def used(self, s: AsyncSession, project_id: str) -> dict[str, int]:
        out = {}
        for resource, model in MODELS.items():
            count = await s.scalar(
                select(func.count()).select_from(model).where(model.project_id == project_id)
            )
            out[resource] = int(count or 0)
        return out

    async def pending(self, s: AsyncSession, project_id: str) -> Need:
        """What the project's instances being built have still to take."""
        building = list(
            await s.scalars(
                select(m.Instance).where(
                    m.Instance.project_id == project_id,
                    m.Instance.task == m.T_BUILD,
                    m.Instance.network_id.is_not(None),
                )
            )
        )
        if not building:
            return Need()
        names = {f"trove-{i.id}" for i in building}
        groups = set(
            await s.scalars(
                select(nm.SecurityGroup.name).where(
                    nm.SecurityGroup.project_id == project_id, nm.SecurityGroup.name.in_(names)
                )
            )
        )
        ports = dict(
            (
                await s.execute(
                    select(nm.Port.device_id, nm.Port.id).where(
                        nm.Port.device_id.in_([i.id for i in building])
                    )
                )
            ).all()
        )
        with_fip = set(
            await s.scalars(
                select(nm.FloatingIP.fixed_port_id).where(
                    nm.FloatingIP.fixed_port_id.in_(list(ports.values()))
                )
            )
        ) if ports else set()  # fmt: skip
        total = Need()
        for inst in building:
            group = f"trove-{inst.id}" not in groups
            total += Need(
                int(group),
                (EGRESS_RULES + (len(inst.allowed_cidrs or []) or 2)) if group else 0,
                int(inst.id not in ports),
                int(inst.is_public and ports.get(inst.id) not in with_fip),
            )
        return total

    async def check(self, s: AsyncSession, project_id: str, need: Need) -> None:
        """Refuse (413) what the project's network quota can't hold, counting
        what is there and what instances being built will still take; call
        after ``lock`` in the transaction that adds the instances."""
        limits = await self.limits(s, project_id)
        used = await self.used(s, project_id)
        if not await s.get(nm.DefaultSecurityGroup, project_id):
            need += Need(1, DEFAULT_GROUP_RULES)
        pending = await self.pending(s, project_id)
        for resource in MODELS:
            limit, asked = limits[resource], getattr(need, resource)
            taken = used[resource] + getattr(pending, resource)
            if limit >= 0 and asked and taken + asked > limit:
                raise OverLimit(
                    f"Quota exceeded for resources: ['{resource}'] of the network service "
                    f"(limit {limit}, {taken} in use or being made, {asked} asked for "
                    f"the new instances)."
                )
