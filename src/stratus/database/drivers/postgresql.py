"""PostgreSQL as Debian ships it: ``initdb`` into the instance's data folder,
``postgres`` run by the agent (never the system service), the agent's own
superuser ``os_admin`` reaching it over the Unix socket in the instance's run
folder (trust there: the folder is the instance user's, 0700), clients over
TCP with SCRAM passwords from the allowed ranges; backups by pg_basebackup
(fast checkpoint, tar with the WAL it needs) and restored by unpacking."""

from __future__ import annotations

import asyncio
import glob
import os
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from stratus.database.drivers.base import (
    ByteStream,
    DatabaseSpec,
    DriverError,
    Place,
    ServerSpec,
    Sink,
    Upstream,
    UserSpec,
)
from stratus.database.drivers.isolation import Cgroups
from stratus.database.drivers.postgresql_admin import (
    ADMIN_USER,
    connect,
    execute,
    has_row,
    ident,
    literal,
)
from stratus.database.drivers.postgresql_backup import (
    SLOT_WAL_KEEP,
    backup_position,
    release_slot,
    restore_chain,
)
from stratus.database.drivers.process import (
    SEEDED,
    as_user,
    empty_folder,
    kill_strays,
    read_pid,
    run,
    seeded,
    server_running,
    spawn,
    stop_pid,
    stream_out,
)

START_TIMEOUT = 60.0


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)  # fmt: skip
    return Path(found[-1]).parent if found else None


class PostgreSQL:
    name = "postgresql"
    default_port = 5432
    admin_user = ADMIN_USER
    root_user = "postgres"

    def __init__(self, scope: str = "") -> None:
        self.bin = _bin_dir()
        self._version: str | None = None
        self.cgroups = Cgroups(scope)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def version(self) -> str | None:
        if self._version is None and self.bin is not None:
            out = subprocess.run([str(self.bin / "postgres"), "--version"], capture_output=True,
                                 text=True, check=False).stdout  # fmt: skip
            found = re.search(r"(\d+\.\d+)", out)
            self._version = found.group(1) if found else None
        return self._version

    def _exe(self, name: str) -> str:
        if self.bin is None:
            raise DriverError("PostgreSQL is not installed")
        return str(self.bin / name)

    async def initialize(self, place: Place, spec: ServerSpec) -> None:
        if (place.data_dir / "PG_VERSION").exists():
            return
        await run(as_user(place, [
            self._exe("initdb"), "-D", str(place.data_dir), "-U", self.admin_user,
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale",
            "--no-instructions",
        ]))  # fmt: skip

    def _hba(self, place: Place, spec: ServerSpec) -> None:
        ranges = spec.allowed_cidrs or ("0.0.0.0/0", "::/0")
        # The agent's own socket connections (administration, pg_basebackup).
        lines = ["local all all trust", "local replication all trust"]
        lines += [f"host all all {r} scram-sha-256" for r in ranges]
        # Each replica's replication user, from the replica's address only.
        lines += [f"host replication {ident(user)} {address}/32 scram-sha-256"
                  for user, address in spec.replication]  # fmt: skip
        hba = place.data_dir / "pg_hba.conf"
        hba.write_text("\n".join(lines) + "\n")
        hba.chmod(0o600)
        os.chown(hba, place.uid, place.gid)

    def _args(self, place: Place, spec: ServerSpec) -> list[str]:
        shared = max(16, spec.memory_mb // 4)
        settings = {
            "listen_addresses": "*" if place.netns else "",
            "port": str(spec.port),
            "unix_socket_directories": str(place.run_dir),
            "max_connections": "100",
            "shared_buffers": f"{shared}MB",
            "password_encryption": "scram-sha-256",
            # A failed statement is never written to the log: it may hold a password.
            "log_min_error_statement": "panic",
            "external_pid_file": str(place.run_dir / "postgres.pid"),
            # WAL kept for replicas that fall behind a little.
            "wal_keep_size": "64MB",
            "max_slot_wal_keep_size": SLOT_WAL_KEEP,
            **spec.settings,
        }
        args = [self._exe("postgres"), "-D", str(place.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def _pid(self, place: Place) -> int | None:
        return read_pid(place.data_dir / "postmaster.pid")

    def running(self, place: Place) -> bool:
        return server_running(self.procs, place.instance_id, self._pid(place), "postgres")

    async def start(self, place: Place, spec: ServerSpec) -> None:
        if self.running(place):
            return
        self._hba(place, spec)
        proc = spawn(place, self._args(place, spec), self.cgroups.procs(place.instance_id))
        self.procs[place.instance_id] = proc
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                conn = await connect(place, spec)
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = place.log_file.read_text(errors="replace").strip().splitlines()[-3:]
                raise DriverError(f"postgres did not start: {' '.join(tail)}")
            await asyncio.sleep(0.05)

    async def stop(self, place: Place) -> None:
        pid = self._pid(place)
        if pid is not None:
            await stop_pid(pid, "postgres", signal_fast())
        self.procs.pop(place.instance_id, None)

    async def ensure_database(self, place: Place, spec: ServerSpec, db: DatabaseSpec) -> None:
        if await has_row(place, spec, "SELECT 1 FROM pg_database WHERE datname = $1", db.name):
            return
        extra = (
            f" ENCODING {literal(db.character_set)} TEMPLATE template0" if db.character_set else ""
        )
        await execute(place, spec, f"CREATE DATABASE {ident(db.name)}{extra}")

    async def drop_database(self, place: Place, spec: ServerSpec, name: str) -> None:
        await execute(place, spec, f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")

    async def ensure_user(self, place: Place, spec: ServerSpec, user: UserSpec) -> None:
        exists = await has_row(
            place, spec, "SELECT 1 FROM pg_roles WHERE rolname = $1", user.name
        )
        verb = "ALTER" if exists else "CREATE"
        password = f" PASSWORD {literal(user.password)}" if user.password is not None else ""
        await execute(place, spec, f"{verb} ROLE {ident(user.name)} WITH LOGIN{password}")
        for db in user.databases:
            if not await has_row(
                place, spec, "SELECT 1 FROM pg_database WHERE datname = $1", db
            ):
                continue
            await execute(
                place, spec, f"GRANT ALL PRIVILEGES ON DATABASE {ident(db)} TO {ident(user.name)}"
            )
            await execute(
                place, spec, f"GRANT ALL ON SCHEMA public TO {ident(user.name)}", database=db
            )
        for db in user.revoked:
            if not await has_row(
                place, spec, "SELECT 1 FROM pg_database WHERE datname = $1", db
            ):
                continue
            await execute(
                place,
                spec,
                f"REVOKE ALL PRIVILEGES ON DATABASE {ident(db)} FROM {ident(user.name)}",
            )
            await execute(
                place, spec, f"REVOKE ALL ON SCHEMA public FROM {ident(user.name)}", database=db
            )

    async def drop_user(self, place: Place, spec: ServerSpec, name: str, host: str) -> None:
        if not await has_row(place, spec, "SELECT 1 FROM pg_roles WHERE rolname = $1", name):
            return
        conn = await connect(place, spec)
        try:
            dbs = [
                r[0] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datallowconn")
            ]
        finally:
            await conn.close()
        for db in dbs:
            await execute(place, spec, f"REASSIGN OWNED BY {ident(name)} TO {self.admin_user}",
                                f"DROP OWNED BY {ident(name)}", database=db)  # fmt: skip
        await execute(place, spec, f"DROP ROLE IF EXISTS {ident(name)}")

    async def enable_root(self, place: Place, spec: ServerSpec, password: str) -> None:
        exists = await has_row(
            place, spec, "SELECT 1 FROM pg_roles WHERE rolname = $1", self.root_user
        )
        verb = "ALTER" if exists else "CREATE"
        await execute(
            place,
            spec,
            f"{verb} ROLE {self.root_user} WITH SUPERUSER LOGIN PASSWORD {literal(password)}",
        )

    async def accounts(self, place: Place, spec: ServerSpec) -> tuple[list[str], list[UserSpec]]:
        conn = await connect(place, spec)
        try:
            dbs = [r[0] for r in await conn.fetch(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' "
                "ORDER BY datname")]  # fmt: skip
            rows = await conn.fetch(
                "SELECT r.rolname, array_remove(array_agg(d.datname ORDER BY d.datname), NULL) "
                "FROM pg_roles r LEFT JOIN pg_database d ON NOT d.datistemplate "
                "AND d.datname <> 'postgres' AND has_database_privilege(r.oid, d.oid, 'CREATE') "
                "WHERE r.rolcanlogin AND NOT r.rolreplication AND r.rolname NOT IN ('os_admin', 'postgres') "
                "GROUP BY r.rolname ORDER BY r.rolname"
            )
        finally:
            await conn.close()
        return dbs, [UserSpec(r[0], "%", None, tuple(r[1] or ())) for r in rows]

    async def backup(
        self, place: Place, spec: ServerSpec, sink: Sink, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A full backup is pg_basebackup's tar (with the WAL it needs); a
        slot made just before it keeps the WAL written since.  An
        incremental one is a tar of the WAL segments from its parent's
        position to now (PostgreSQL 15 has no incremental base backup):
        replayed on top of the restored parent, it brings the data to now."""
        files, lsn, timeline = await backup_position(place, spec, parent)
        if parent is None:
            argv = [self._exe("pg_basebackup"), "-h", str(place.run_dir), "-p", str(spec.port),
                    "-U", self.admin_user, "-D", "-", "-Ft", "-X", "fetch", "-c", "fast",
                    "--no-password"]  # fmt: skip
            await sink(stream_out(argv))
        else:
            await sink(stream_out(["tar", "-c", "-C", str(place.data_dir / "pg_wal"),
                                         "-T", "/dev/null", *files]))
            await release_slot(place, spec, lsn)
        return {"lsn": lsn, "timeline": timeline}

    async def restore(self, place: Place, spec: ServerSpec, chain: Sequence[ByteStream]) -> None:
        await restore_chain(place, chain)

    # -- logs -------------------------------------------------------------------------------

    def log_files(self, place: Place) -> dict[str, tuple[str, Path]]:
        # One log: the server's own; enabled, it holds every statement and
        # connection too.
        return {"general": ("USER", place.log_file)}

    async def set_log(self, place: Place, spec: ServerSpec, name: str, enabled: bool) -> None:
        if name != "general":
            raise DriverError(f"postgres has no log {name}")
        if enabled:
            sql = ["ALTER SYSTEM SET log_statement = 'all'", "ALTER SYSTEM SET log_connections = on",
                   "ALTER SYSTEM SET log_disconnections = on"]  # fmt: skip
        else:
            sql = ["ALTER SYSTEM RESET log_statement", "ALTER SYSTEM RESET log_connections",
                   "ALTER SYSTEM RESET log_disconnections"]  # fmt: skip
        await execute(place, spec, *sql, "SELECT pg_reload_conf()")

    # -- replication ------------------------------------------------------------------------

    async def allow_replica(
        self, place: Place, spec: ServerSpec, user: str, password: str, address: str
    ) -> None:
        exists = await has_row(place, spec, "SELECT 1 FROM pg_roles WHERE rolname = $1", user)
        verb = "ALTER" if exists else "CREATE"
        await execute(place, spec, f"{verb} ROLE {ident(user)} WITH REPLICATION LOGIN "
                                         f"PASSWORD {literal(password)}")  # fmt: skip
        self._hba(place, spec)
        await execute(place, spec, "SELECT pg_reload_conf()")

    async def forget_replica(self, place: Place, spec: ServerSpec, user: str) -> None:
        self._hba(place, spec)
        await execute(place, spec, "SELECT pg_reload_conf()",
                            f"DROP ROLE IF EXISTS {ident(user)}")  # fmt: skip

    def seeded(self, place: Place) -> bool:
        return seeded(place.data_dir)

    async def seed_replica(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> None:
        if self.seeded(place):
            return
        await self.stop(place)
        await kill_strays("pg_basebackup", place.data_dir)
        empty_folder(place.data_dir)
        # The replica's own server user copies the source over the tenant
        # network as the replication user; -R leaves it set to follow.
        argv = as_user(place, [
            self._exe("pg_basebackup"), "-h", upstream.address, "-p", str(upstream.spec.port),
            "-U", upstream.user, "-D", str(place.data_dir), "-X", "stream", "-c", "fast", "-R",
            "--no-password",
        ])  # fmt: skip
        if place.netns:
            argv = ["ip", "netns", "exec", place.netns, *argv]
        await run(argv, env={"PGPASSWORD": upstream.password, "PGCONNECT_TIMEOUT": "10"})
        for stale in ("postmaster.pid", "postmaster.opts"):
            (place.data_dir / stale).unlink(missing_ok=True)
        (place.data_dir / SEEDED).touch()

    async def repoint(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> bool:
        return False  # a new copy (pg_rewind is not used here)

    def forget_source(self, place: Place) -> None:
        (place.data_dir / SEEDED).unlink(missing_ok=True)

    async def received(self, place: Place, spec: ServerSpec) -> int:
        # The WAL position: what the standby received, or replayed (from
        # its archive or a copy) when nothing came over the stream.
        conn = await connect(place, spec)
        try:
            row = await conn.fetchrow(
                "SELECT pg_last_wal_receive_lsn() - '0/0' AS got,"
                " pg_last_wal_replay_lsn() - '0/0' AS applied"
            )
        except asyncpg.PostgresError as exc:
            raise DriverError(f"postgres refused: {exc.__class__.__name__}") from None
        finally:
            await conn.close()
        return int(max(row["got"] or 0, row["applied"] or 0)) if row else 0

    async def detach_replica(self, place: Place, spec: ServerSpec) -> None:
        conn = await connect(place, spec)
        try:
            if await conn.fetchval("SELECT pg_is_in_recovery()"):
                if not await conn.fetchval("SELECT pg_promote(true, 60)"):
                    raise DriverError("postgres was not promoted in 60 s")
            # The source's address and the replication password, forgotten.
            await conn.execute("ALTER SYSTEM RESET primary_conninfo")
            await conn.execute("SELECT pg_reload_conf()")
        except asyncpg.PostgresError as exc:
            raise DriverError(f"postgres refused: {exc.__class__.__name__}") from None
        finally:
            await conn.close()
        (place.data_dir / SEEDED).unlink(missing_ok=True)


def signal_fast() -> int:
    import signal

    return signal.SIGINT  # PostgreSQL's fast shutdown
