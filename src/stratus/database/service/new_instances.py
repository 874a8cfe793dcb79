"""A create request (`NewInstance`, its `NewUser`s), the checks of its own
fields, and the rows it becomes once checked against the database."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.compute import models as cm
from stratus.database import models as m
from stratus.database.errors import BadRequest, OverLimit
from stratus.database.service.common import (
    NAMING,
    check_database_name,
    check_password,
    check_user_name,
)
from stratus.database.service.datastores import Version


@dataclass
class NewUser:
    name: str
    password: str
    host: str = "%"
    databases: list[str] = field(default_factory=list)


@dataclass
class NewInstance:
    name: str
    flavor_ref: str
    volume_size: int | None
    datastore: str | None = None
    datastore_version: str | None = None
    databases: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    users: list[NewUser] = field(default_factory=list)
    network_id: str | None = None
    availability_zone: str | None = None
    is_public: bool = False
    allowed_cidrs: list[str] = field(default_factory=list)
    backup_ref: str | None = None
    configuration_id: str | None = None
    replica_of: str | None = None  # the instance a replica follows
    replica_count: int = 1  # replicas of it made at once (named NAME-1 .. NAME-N when > 1)


@dataclass
class Plan:
    """What a checked request makes: ``count`` instances alike on ``host``."""

    version: Version
    flavor: cm.Flavor
    size: int
    cidrs: list[str]
    host: str
    count: int
    restore: m.Backup | None
    source: m.Instance | None


def check_name(name: str) -> None:
    if not name.strip() or len(name) > 255:
        raise BadRequest("An instance name must be 1 to 255 characters.")


def checked_size(size: int | None, largest: int) -> int:
    if size is None:
        raise BadRequest("A volume size is required for this datastore.")
    if not 1 <= size <= largest:
        raise OverLimit(f"Volume size {size} GiB is out of range (1 to {largest} GiB).")
    return size


def checked_cidrs(given: list[str]) -> list[str]:
    cidrs = []
    for cidr in given:
        try:
            cidrs.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            raise BadRequest(f"'{cidr}' is not a valid CIDR.") from None
    return cidrs


def check_databases_and_users(datastore: str, req: NewInstance) -> None:
    seen: set[str] = set()
    for name, _cs, _co in req.databases:
        check_database_name(datastore, name)
        if name in seen:
            raise BadRequest(f"Database '{name}' is given twice.")
        seen.add(name)
    users: set[tuple[str, str]] = set()
    for u in req.users:
        check_user_name(datastore, u.name)
        check_password(u.password)
        if (u.name, u.host) in users:
            raise BadRequest(f"User '{u.name}' is given twice.")
        users.add((u.name, u.host))
        for db in u.databases:
            check_database_name(datastore, db)


async def add_instances(
    s: AsyncSession, ctx: RequestContext, req: NewInstance, plan: Plan
) -> m.Instance:
    """The plan's instance rows with their databases and users (the last one
    made is returned)."""
    for index in range(plan.count):
        inst = m.Instance(
            name=f"{req.name}-{index + 1}" if plan.count > 1 else req.name,
            project_id=ctx.project_id or "",
            user_id=ctx.user_id or "",
            status=m.BUILD,
            task=m.T_BUILD,
            request_id=ctx.request_id,
            datastore=plan.version.datastore,
            datastore_version=plan.version.name,
            flavor_id=plan.flavor.id,
            memory_mb=plan.flavor.memory_mb,
            vcpus=plan.flavor.vcpus,
            volume_size=plan.size,
            network_id=req.network_id,
            is_public=req.is_public,
            allowed_cidrs=plan.cidrs,
            availability_zone=req.availability_zone,
            host=plan.host,
            port=NAMING[plan.version.datastore].port,
            restore_backup_id=plan.restore.id if plan.restore else None,
            configuration_id=req.configuration_id,
            replica_of_id=plan.source.id if plan.source else None,
        )
        s.add(inst)
        await s.flush()
        for name, charset, collate in req.databases:
            s.add(m.Schema(instance_id=inst.id, name=name, character_set=charset,
                           collate=collate))  # fmt: skip
        for u in req.users:
            s.add(m.User(instance_id=inst.id, name=u.name, host=u.host,
                         databases=list(u.databases), pending_password=u.password))  # fmt: skip
    return inst
