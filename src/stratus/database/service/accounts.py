"""Databases, users and root inside an instance's server: rows recording
what is wanted (``state``), which the agent of the instance's host applies.
Passwords are kept until applied (``pending_password``), then dropped."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.database import models as m
from stratus.database.errors import BadRequest, NotFound, UnprocessableEntity
from stratus.database.service.common import (
    Wake,
    check_database_name,
    check_password,
    check_user_name,
    visible_instance,
)

ROOT_USERS = {"postgresql": "postgres", "mariadb": "root"}


def split_user(ref: str) -> tuple[str, str]:
    """Trove's ``name`` or ``name@host`` in a URL."""
    name, _, host = ref.partition("@")
    return name, host or "%"


class Accounts:
    def __init__(self, db: Database, wake: Wake):
        self.db = db
        self.wake = wake

    async def _ready(self, s: AsyncSession, ctx: RequestContext, instance_id: str) -> m.Instance:
        inst = await visible_instance(s, ctx, instance_id, for_update=True)
        if inst.status not in (m.ACTIVE, m.BACKUP) or inst.task is not None:
            raise UnprocessableEntity(
                f"Instance {inst.id} is not currently available for an action to be "
                f"performed (status was {inst.status})."
            )
        if inst.replica_of_id is not None:
            raise BadRequest(f"Instance {inst.id} is a read-only replica of "
                             f"{inst.replica_of_id}: detach it first.")  # fmt: skip
        return inst

    # -- databases ----------------------------------------------------------------------

    async def databases(self, ctx: RequestContext, instance_id: str) -> list[m.Schema]:
        async with self.db.session() as s:
            await visible_instance(s, ctx, instance_id)
            rows = await s.scalars(
                select(m.Schema)
                .where(m.Schema.instance_id == instance_id, m.Schema.state != m.S_DELETING)
                .order_by(m.Schema.name)
            )
            return list(rows)

    async def create_databases(
        self, ctx: RequestContext, instance_id: str, dbs: list[tuple[str, str | None, str | None]]
    ) -> None:
        async with self.db.transaction() as s:
            inst = await self._ready(s, ctx, instance_id)
            for name, charset, collate in dbs:
                check_database_name(inst.datastore, name)
                if await s.get(m.Schema, (inst.id, name)) is not None:
                    raise BadRequest(f"A database with the name {name} already exists.")
                s.add(m.Schema(instance_id=inst.id, name=name, character_set=charset,
                               collate=collate))  # fmt: skip
                await s.flush()
            host = inst.host
        self.wake(host)

    async def delete_database(self, ctx: RequestContext, instance_id: str, name: str) -> None:
        async with self.db.transaction() as s:
            inst = await self._ready(s, ctx, instance_id)
            row = await s.get(m.Schema, (inst.id, name))
            if row is None or row.state == m.S_DELETING:
                raise NotFound(f"Database {name} could not be found on instance {inst.id}.")
            row.state = m.S_DELETING
            host = inst.host
        self.wake(host)

    # -- users --------------------------------------------------------------------------

    async def users(self, ctx: RequestContext, instance_id: str) -> list[m.User]:
        async with self.db.session() as s:
            await visible_instance(s, ctx, instance_id)
            rows = await s.scalars(
                select(m.User)
                .where(m.User.instance_id == instance_id, m.User.state != m.S_DELETING)
                .order_by(m.User.name, m.User.host)
            )
            return list(rows)

    async def user(self, ctx: RequestContext, instance_id: str, ref: str) -> m.User:
        name, host = split_user(ref)
        async with self.db.session() as s:
            await visible_instance(s, ctx, instance_id)
            row = await s.get(m.User, (instance_id, name, host))
        if row is None or row.state == m.S_DELETING:
            raise NotFound(f"User {name} could not be found on instance {instance_id}.")
        return row

    async def create_users(
        self, ctx: RequestContext, instance_id: str, users: list[tuple[str, str, str, list[str]]]
    ) -> None:
        """``users``: (name, host, password, databases)."""
        async with self.db.transaction() as s:
            inst = await self._ready(s, ctx, instance_id)
            for name, host, password, dbs in users:
                check_user_name(inst.datastore, name)
                check_password(password)
                for db in dbs:
                    check_database_name(inst.datastore, db)
                if await s.get(m.User, (inst.id, name, host)) is not None:
                    raise BadRequest(f"A user with the name {name} already exists.")
                s.add(m.User(instance_id=inst.id, name=name, host=host, databases=dbs,
                             pending_password=password))  # fmt: skip
                await s.flush()
            where = inst.host
        self.wake(where)

    async def _users_update(
        self, ctx: RequestContext, instance_id: str, refs: list[str], change: object
    ) -> None:
        async with self.db.transaction() as s:
            inst = await self._ready(s, ctx, instance_id)
            for ref in refs:
                name, host = split_user(ref)
                row = await s.get(m.User, (inst.id, name, host), with_for_update=True)
                if row is None or row.state == m.S_DELETING:
                    raise NotFound(f"User {name} could not be found on instance {inst.id}.")
                assert callable(change)
                change(inst, row)
                row.state = m.S_CREATING
                row.revision += 1
            where = inst.host
        self.wake(where)

    async def change_passwords(
        self, ctx: RequestContext, instance_id: str, changes: list[tuple[str, str, str]]
    ) -> None:
        """``changes``: (name, host, new password)."""
        for _n, _h, password in changes:
            check_password(password)
        by_ref = {f"{n}@{h}": p for n, h, p in changes}

        def apply(inst: m.Instance, row: m.User) -> None:
            row.pending_password = by_ref[f"{row.name}@{row.host}"]

        await self._users_update(ctx, instance_id, list(by_ref), apply)

    async def grant(self, ctx: RequestContext, instance_id: str, ref: str, dbs: list[str]) -> None:
        def apply(inst: m.Instance, row: m.User) -> None:
            for db in dbs:
                check_database_name(inst.datastore, db)
            row.databases = sorted(set(row.databases) | set(dbs))

        await self._users_update(ctx, instance_id, [ref], apply)

    async def revoke(self, ctx: RequestContext, instance_id: str, ref: str, db: str) -> None:
        def apply(inst: m.Instance, row: m.User) -> None:
            if db not in row.databases:
                raise NotFound(f"User {row.name} has no access to database {db}.")
            row.databases = [d for d in row.databases if d != db]

        await self._users_update(ctx, instance_id, [ref], apply)

    async def delete_user(self, ctx: RequestContext, instance_id: str, ref: str) -> None:
        name, host = split_user(ref)
        async with self.db.transaction() as s:
            inst = await self._ready(s, ctx, instance_id)
            row = await s.get(m.User, (inst.id, name, host))
            if row is None or row.state == m.S_DELETING:
                raise NotFound(f"User {name} could not be found on instance {inst.id}.")
            row.state, row.pending_password = m.S_DELETING, None
            row.revision += 1
            where = inst.host
        self.wake(where)

    # -- root ---------------------------------------------------------------------------

    async def enable_root(self, ctx: RequestContext, instance_id: str) -> tuple[str, str]:
        password = secrets.token_urlsafe(18)
        async with self.db.transaction() as s:
            inst = await self._ready(s, ctx, instance_id)
            inst.root_enabled, inst.pending_root_password = True, password
            inst.generation += 1
            where, user = inst.host, ROOT_USERS[inst.datastore]
        self.wake(where)
        return user, password

    async def root_enabled(self, ctx: RequestContext, instance_id: str) -> bool:
        async with self.db.session() as s:
            inst = await visible_instance(s, ctx, instance_id)
            return inst.root_enabled
