"""Datastores and their versions: what the hosts' agents found installed
(each agent records the versions of its postgres and mariadbd binaries),
with the configuration parameters each accepts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from stratus.common.db import Database, utcnow
from stratus.database import models as m
from stratus.database.errors import BadRequest, NotFound

KINDS = ("postgresql", "mariadb")
_NS = uuid.UUID("6f1c3b1e-8f1a-4d8e-9a51-2e3b2f0d9c11")


def datastore_id(name: str) -> str:
    return str(uuid.uuid5(_NS, f"datastore:{name}"))


def version_id(name: str, version: str) -> str:
    return str(uuid.uuid5(_NS, f"version:{name}:{version}"))


def short_version(full: str) -> str:
    """The name of a version as Trove shows it: PostgreSQL's major ("15"),
    MariaDB's series ("10.11")."""
    parts = full.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and int(parts[0]) >= 10 and len(parts) == 2:
        return parts[0]  # PostgreSQL 10+: "15.18" -> "15"
    return ".".join(parts[:2])


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "integer", "string", "boolean"
    min: int | None = None
    max: int | None = None
    restart_required: bool = True


@dataclass
class Version:
    datastore: str
    name: str  # "15"
    full: str  # "15.18"

    @property
    def id(self) -> str:
        return version_id(self.datastore, self.name)


@dataclass
class Datastore:
    name: str
    versions: list[Version] = field(default_factory=list)

    @property
    def id(self) -> str:
        return datastore_id(self.name)


PARAMETERS: dict[str, list[Parameter]] = {
    "postgresql": [
        Parameter("max_connections", "integer", 1, 10000),
        Parameter("shared_buffers", "string"),
        Parameter("work_mem", "string", restart_required=False),
        Parameter("statement_timeout", "integer", 0, 2147483647, restart_required=False),
    ],
    "mariadb": [
        Parameter("max_connections", "integer", 1, 100000, restart_required=False),
        Parameter("innodb_buffer_pool_size", "integer", 5242880, 2**40),
        Parameter("wait_timeout", "integer", 1, 31536000, restart_required=False),
    ],
}


class Datastores:
    def __init__(self, db: Database, service_down_time: float):
        self.db = db
        self.down_time = service_down_time

    async def all(self) -> list[Datastore]:
        """Each datastore with the versions some live agent runs."""
        since = utcnow() - timedelta(seconds=self.down_time)
        out = {name: Datastore(name) for name in KINDS}
        async with self.db.session() as s:
            agents = list(await s.scalars(select(m.Agent).where(m.Agent.heartbeat_at >= since)))
        for agent in agents:
            for name, full in sorted(agent.datastores.items()):
                store = out.get(name)
                if store is None or not full:
                    continue
                short = short_version(full)
                if all(v.name != short for v in store.versions):
                    store.versions.append(Version(name, short, full))
        return [d for d in out.values() if d.versions]

    async def find(self, ref: str) -> Datastore:
        for store in await self.all():
            if ref in (store.name, store.id):
                return store
        raise NotFound(f"Datastore '{ref}' cannot be found.")

    async def version(self, store_ref: str | None, version_ref: str | None) -> Version:
        """The version an instance asks for: by name or id, the newest when
        none is named; a datastore or version nobody runs is a 400/404."""
        if store_ref is None:
            stores = await self.all()
            if not stores:
                raise BadRequest("No datastore is available: no database agent is running.")
            store = stores[0]
        else:
            store = await self.find(store_ref)
        if version_ref is None:
            return store.versions[-1]
        for v in store.versions:
            if version_ref in (v.name, v.id, v.full):
                return v
        raise NotFound(f"Datastore version '{version_ref}' cannot be found.")

    async def find_version(self, version_id: str) -> Version:
        for store in await self.all():
            for v in store.versions:
                if version_id == v.id:
                    return v
        raise NotFound(f"Datastore version '{version_id}' cannot be found.")


def check_configuration(datastore: str, values: dict[str, object]) -> dict[str, str]:
    """Configuration values validated against the datastore's parameters."""
    params = {p.name: p for p in PARAMETERS[datastore]}
    out: dict[str, str] = {}
    for key, value in values.items():
        p = params.get(key)
        if p is None:
            raise BadRequest(f"The configuration parameter {key} is not supported.")
        if p.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest(f"The value provided for the configuration parameter {key} "
                                 f"is not of type integer.")  # fmt: skip
            if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
                raise BadRequest(f"The value for the configuration parameter {key} "
                                 f"must be from {p.min} to {p.max}.")  # fmt: skip
        elif not isinstance(value, str) or not value.replace(".", "").isalnum():
            raise BadRequest(f"The value provided for the configuration parameter {key} "
                             f"is not a valid string.")  # fmt: skip
        out[key] = str(value)
    return out
