"""What the database service's parts share: loading what the caller may see,
the names each datastore accepts, and waking the agent of a host."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.database import models as m
from stratus.database.errors import BadRequest, NotFound

Wake = Callable[[str | None], None]  # the host whose agent has work


async def visible_instance(
    s: AsyncSession, ctx: RequestContext, instance_id: str, *, for_update: bool = False
) -> m.Instance:
    """The instance if the caller may see it; 404 otherwise, as Trove."""
    inst = await s.get(m.Instance, instance_id, with_for_update=for_update or None)
    if inst is None or not ctx.owns(inst.project_id):
        raise NotFound(f"Instance {instance_id} could not be found.")
    return inst


async def visible_backup(s: AsyncSession, ctx: RequestContext, backup_id: str) -> m.Backup:
    backup = await s.get(m.Backup, backup_id)
    if backup is None or not ctx.owns(backup.project_id):
        raise NotFound(f"Backup {backup_id} could not be found.")
    return backup


@dataclass(frozen=True)
class Naming:
    """The names a datastore accepts for databases and users, and those it
    keeps for itself."""

    database: re.Pattern[str]
    user: re.Pattern[str]
    reserved_databases: frozenset[str]
    reserved_users: frozenset[str]
    port: int


NAMING: dict[str, Naming] = {
    "postgresql": Naming(
        database=re.compile(r"[a-z_][a-z0-9_]{0,62}"),
        user=re.compile(r"[a-z_][a-z0-9_]{0,62}"),
        reserved_databases=frozenset({"postgres", "template0", "template1"}),
        reserved_users=frozenset({"postgres", "os_admin", "root"}),
        port=5432,
    ),
    "mariadb": Naming(
        database=re.compile(r"[A-Za-z0-9_]{1,64}"),
        user=re.compile(r"[A-Za-z0-9_]{1,80}"),
        reserved_databases=frozenset(
            {"mysql", "information_schema", "performance_schema", "sys", "lost+found"}
        ),
        reserved_users=frozenset({"root", "os_admin", "mysql", "mariadb.sys"}),
        port=3306,
    ),
}


def check_database_name(datastore: str, name: str) -> None:
    naming = NAMING[datastore]
    if not naming.database.fullmatch(name):
        raise BadRequest(
            f"'{name}' is not a valid database name for {datastore} "
            f"(it must match {naming.database.pattern})."
        )
    if name in naming.reserved_databases:
        raise BadRequest(f"Database name '{name}' is reserved by {datastore}.")


def check_user_name(datastore: str, name: str) -> None:
    naming = NAMING[datastore]
    if not naming.user.fullmatch(name):
        raise BadRequest(
            f"'{name}' is not a valid user name for {datastore} "
            f"(it must match {naming.user.pattern})."
        )
    if name in naming.reserved_users:
        raise BadRequest(f"User name '{name}' is reserved by {datastore}.")


def check_password(password: str) -> None:
    if not password or len(password) > 255 or any(ord(c) < 32 for c in password):
        raise BadRequest("A password must be 1 to 255 printable characters.")
