"""The agent's own connection to a PostgreSQL server it runs: the superuser
``os_admin`` over the Unix socket in the instance's run folder, statements
never logged, and refusals as driver errors that name no statement."""

from __future__ import annotations

import asyncpg

from stratus.database.drivers.base import DriverError, Place, ServerSpec

ADMIN_USER = "os_admin"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def connect(place: Place, spec: ServerSpec, database: str = "postgres") -> asyncpg.Connection:
    # The agent's own statements are never logged (they hold passwords),
    # whatever the instance's log settings.
    return await asyncpg.connect(host=str(place.run_dir), port=spec.port, user=ADMIN_USER,
                                 database=database, timeout=10,
                                 server_settings={"log_statement": "none"})  # fmt: skip


async def execute(place: Place, spec: ServerSpec, *sql: str, database: str = "postgres") -> None:
    try:
        conn = await connect(place, spec, database)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DriverError(f"postgres is not reachable: {type(exc).__name__}") from None
    try:
        for statement in sql:
            await conn.execute(statement)
    except asyncpg.PostgresError as exc:
        # The message names objects, never the statement (it may hold a password).
        raise DriverError(
            f"postgres refused: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}"
        ) from None
    finally:
        await conn.close()


async def has_row(place: Place, spec: ServerSpec, query: str, name: str) -> bool:
    conn = await connect(place, spec)
    try:
        return bool(await conn.fetchval(query, name))
    finally:
        await conn.close()
