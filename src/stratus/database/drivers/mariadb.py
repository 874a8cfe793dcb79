"""MariaDB as Debian ships it: ``mariadb-install-db`` into the instance's data
folder, ``mariadbd`` run by the agent (never the system service), the agent
as MariaDB's root over the Unix socket (unix_socket authentication: only the
machine's root), clients over TCP with passwords; backups streamed by
mariadb-backup (xbstream), restored by mbstream and ``--prepare``."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from stratus.database.drivers.mariadb_backup import backup_stream, restore_chain
from stratus.database.drivers.mariadb_gtid import gtid_prefix, gtid_total, server_id
from stratus.database.drivers.process import (
    SEEDED,
    empty_folder,
    read_pid,
    run,
    seeded,
    server_running,
    spawn,
    stop_pid,
)

START_TIMEOUT = 60.0
REPOINT_WAIT = 10.0  # for a re-pointed member to catch up with its new source


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def account(name: str, host: str) -> str:
    return f"{literal(name)}@{literal(host)}"


class MariaDB:
    name = "mariadb"
    default_port = 3306
    admin_user = "root"
    root_user = "root"

    def __init__(self, scope: str = "") -> None:
        self.server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self._version: str | None = None
        self.cgroups = Cgroups(scope)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # One backup of a server at a time (a user's backup, the copies of
        # replicas made at once): they share its scratch folders.
        self.backing_up: dict[str, asyncio.Lock] = {}

    def version(self) -> str | None:
        if self._version is None and shutil.which("mariadbd", path="/usr/sbin:/usr/bin"):
            out = subprocess.run([self.server, "--version"], capture_output=True, text=True,
                                 check=False).stdout  # fmt: skip
            found = re.search(r"Ver (\d+\.\d+\.\d+)", out)
            self._version = found.group(1) if found else None
        return self._version

    def _socket(self, place: Place) -> str:
        return str(place.run_dir / "mysqld.sock")

    async def initialize(self, place: Place, spec: ServerSpec) -> None:
        if (place.data_dir / "mysql").is_dir():
            return
        await run(["mariadb-install-db", "--no-defaults", f"--datadir={place.data_dir}",
                   f"--user={place.user}", "--auth-root-authentication-method=socket",
                   "--skip-test-db"])  # fmt: skip

    def _pid(self, place: Place) -> int | None:
        return read_pid(place.run_dir / "mariadbd.pid")

    def running(self, place: Place) -> bool:
        return server_running(self.procs, place.instance_id, self._pid(place), "mariadbd")

    async def start(self, place: Place, spec: ServerSpec) -> None:
        if self.running(place):
            return
        pool = max(16, spec.memory_mb // 4)
        args = [
            self.server, "--no-defaults", f"--datadir={place.data_dir}",
            f"--socket={self._socket(place)}", f"--pid-file={place.run_dir / 'mariadbd.pid'}",
            f"--port={spec.port}", "--bind-address=0.0.0.0" if place.netns else "--skip-networking",
            f"--innodb-buffer-pool-size={pool}M", "--skip-name-resolve",
            "--max-connections=100",
            # A binary log (replicas follow it by GTID), kept a day at most.
            "--log-bin=mysql-bin", "--relay-log=relay-bin", f"--server-id={server_id(spec)}",
            "--log-slave-updates",
            "--binlog-format=ROW", "--binlog-expire-logs-seconds=86400", "--max-binlog-size=64M",
        ]  # fmt: skip
        # Only a replica follows a source (a copy of one never does).
        args.append("--read-only" if spec.replica else "--skip-slave-start")
        # The USER logs, beside the server's own (enabled as the rows say).
        args += [f"--general-log-file={place.run_dir / 'general.log'}",
                 f"--slow-query-log-file={place.run_dir / 'slow_query.log'}",
                 f"--general-log={int('general' in spec.logs)}",
                 f"--slow-query-log={int('slow_query' in spec.logs)}"]  # fmt: skip
        args += [f"--{k.replace('_', '-')}={v}" for k, v in spec.settings.items()]
        proc = spawn(place, args, self.cgroups.procs(place.instance_id))
        self.procs[place.instance_id] = proc
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            out = await run(self._client(place) + ["-e", "SELECT 1"], check=False)
            if out.strip() == "1":
                return
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = place.log_file.read_text(errors="replace").strip().splitlines()[-3:]
                raise DriverError(f"mariadbd did not start: {' '.join(tail)}")
            await asyncio.sleep(0.05)

    async def stop(self, place: Place) -> None:
        pid = self._pid(place)
        if pid is not None:
            await stop_pid(pid, "mariadbd")
        self.procs.pop(place.instance_id, None)

    def _client(self, place: Place) -> list[str]:
        return ["mariadb", "--no-defaults", f"--socket={self._socket(place)}", "-u", "root",
                "--batch", "--skip-column-names"]  # fmt: skip

    async def _sql(self, place: Place, *statements: str) -> str:
        """SQL on stdin: passwords never on a command line, nor in the
        general log."""
        quiet = "SET SESSION sql_log_off = 1;"
        return await run(self._client(place),
                         stdin=("\n".join((quiet, *statements)) + "\n").encode())  # fmt: skip

    async def ensure_database(self, place: Place, spec: ServerSpec, db: DatabaseSpec) -> None:
        extra = f" CHARACTER SET {ident(db.character_set)}" if db.character_set else ""
        extra += f" COLLATE {ident(db.collate)}" if db.collate else ""
        await self._sql(place, f"CREATE DATABASE IF NOT EXISTS {ident(db.name)}{extra};")

    async def drop_database(self, place: Place, spec: ServerSpec, name: str) -> None:
        await self._sql(place, f"DROP DATABASE IF EXISTS {ident(name)};")

    async def ensure_user(self, place: Place, spec: ServerSpec, user: UserSpec) -> None:
        who = account(user.name, user.host)
        sql = []
        if user.password is not None:
            sql += [f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {literal(user.password)};",
                    f"ALTER USER {who} IDENTIFIED BY {literal(user.password)};"]  # fmt: skip
        else:
            sql.append(f"CREATE USER IF NOT EXISTS {who};")
        sql += [f"GRANT ALL PRIVILEGES ON {ident(db)}.* TO {who};" for db in user.databases]
        sql += [f"REVOKE ALL PRIVILEGES ON {ident(db)}.* FROM {who};" for db in user.revoked]
        await self._sql(place, *sql)

    async def drop_user(self, place: Place, spec: ServerSpec, name: str, host: str) -> None:
        await self._sql(place, f"DROP USER IF EXISTS {account(name, host)};")

    async def enable_root(self, place: Place, spec: ServerSpec, password: str) -> None:
        who = account("root", "%")
        await self._sql(
            place,
            f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {literal(password)};",
            f"ALTER USER {who} IDENTIFIED BY {literal(password)};",
            f"GRANT ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION;",
        )

    async def accounts(self, place: Place, spec: ServerSpec) -> tuple[list[str], list[UserSpec]]:
        hidden = ("mysql", "information_schema", "performance_schema", "sys")
        out = await self._sql(place, "SHOW DATABASES;")
        dbs = sorted(d for d in out.split() if d not in hidden)
        out = await self._sql(
            place,
            "SELECT u.User, u.Host, IFNULL(GROUP_CONCAT(d.Db ORDER BY d.Db), '') "
            "FROM mysql.user u LEFT JOIN mysql.db d ON d.User = u.User AND d.Host = u.Host "
            "WHERE u.User NOT IN ('root', 'mysql', 'mariadb.sys', '') AND u.User NOT LIKE 'os\\_repl\\_%' "
            "GROUP BY u.User, u.Host ORDER BY u.User;",
        )
        users = []
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) == 3:
                grants = tuple(d for d in fields[2].split(",") if d)
                users.append(UserSpec(fields[0], fields[1], None, grants))
        return dbs, users

    async def backup(
        self, place: Place, spec: ServerSpec, sink: Sink, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """mariadb-backup's xbstream: a full copy, or (with ``parent``) the
        pages changed since the parent's LSN (``--incremental-basedir``
        given the parent's checkpoints, the one file of it it needs).
        Returns this backup's checkpoints, kept by ``--extra-lsndir``."""
        lock = self.backing_up.setdefault(place.instance_id, asyncio.Lock())
        async with lock:
            return await backup_stream(place, self._socket(place), sink, parent)

    async def restore(self, place: Place, spec: ServerSpec, chain: Sequence[ByteStream]) -> None:
        await restore_chain(place, chain)

    # -- logs -------------------------------------------------------------------------------

    def log_files(self, place: Place) -> dict[str, tuple[str, Path]]:
        return {
            "general": ("USER", place.run_dir / "general.log"),
            "slow_query": ("USER", place.run_dir / "slow_query.log"),
            "error": ("SYS", place.log_file),
        }

    async def set_log(self, place: Place, spec: ServerSpec, name: str, enabled: bool) -> None:
        variable = {"general": "general_log", "slow_query": "slow_query_log"}.get(name)
        if variable is None:
            raise DriverError(f"mariadbd has no USER log {name}")
        await self._sql(place, f"SET GLOBAL {variable} = {int(enabled)};")

    # -- replication ------------------------------------------------------------------------

    async def allow_replica(
        self, place: Place, spec: ServerSpec, user: str, password: str, address: str
    ) -> None:
        who = account(user, address)
        await self._sql(
            place,
            f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {literal(password)};",
            f"ALTER USER {who} IDENTIFIED BY {literal(password)};",
            f"GRANT REPLICATION SLAVE ON *.* TO {who};",
        )

    async def forget_replica(self, place: Place, spec: ServerSpec, user: str) -> None:
        hosts = await self._sql(place, f"SELECT Host FROM mysql.user WHERE User = {literal(user)};")
        for host in hosts.split():
            await self._sql(place, f"DROP USER IF EXISTS {account(user, host)};")

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
        empty_folder(place.data_dir)

        async def into_replica(stream: ByteStream) -> None:
            await self.restore(place, spec, [stream])

        await self.backup(upstream.place, upstream.spec, into_replica)
        # Where the copy stands in the source's binary log, as a GTID.
        gtid = ""
        for name in ("mariadb_backup_binlog_info", "xtrabackup_binlog_info"):
            info = place.data_dir / name
            if info.exists():
                fields = info.read_text().split()
                gtid = fields[2] if len(fields) > 2 else ""
                break
        await self.start(place, spec)
        await self._sql(place, "STOP SLAVE;", *_following(upstream, gtid))
        (place.data_dir / SEEDED).touch()

    async def repoint(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> bool:
        # What the new source holds: its binary log (every server logs what
        # it applies too, --log-slave-updates).  What the member holds: its
        # own writes or what it applied (gtid_current_pos).
        if not (place.data_dir / "mysql-bin.index").exists():
            return False  # never a server that ran (a copy cut short, say)
        theirs = (await self._sql(upstream.place, "SELECT @@gtid_binlog_pos;")).strip()
        await self.start(place, spec)
        await self._sql(place, "STOP SLAVE;")
        mine = (await self._sql(place, "SELECT @@gtid_current_pos;")).strip()
        if not gtid_prefix(mine, theirs):
            return False
        await self._sql(place, *_following(upstream, mine))
        # The source refuses a position its binary log does not hold (a
        # history that went another way, or purged): the member follows
        # only once it has caught up with where the source stood.
        deadline = time.monotonic() + REPOINT_WAIT
        while time.monotonic() < deadline:
            done = await self._sql(place, f"SELECT MASTER_GTID_WAIT({literal(theirs)}, 0.5);")
            if done.strip() == "0":
                (place.data_dir / SEEDED).touch()
                return True
            status = await self._sql(place, "SHOW SLAVE STATUS\\G")
            if re.search(r"Last_(IO|SQL)_Errno:[ \t]*[1-9]", status):
                break
        await self._sql(place, "STOP SLAVE;", "RESET SLAVE ALL;")
        return False

    def forget_source(self, place: Place) -> None:
        (place.data_dir / SEEDED).unlink(missing_ok=True)

    async def received(self, place: Place, spec: ServerSpec) -> int:
        # The GTIDs its I/O thread received (else those applied): the
        # sequence numbers summed over the replication domains.
        status = await self._sql(place, "SHOW SLAVE STATUS\\G")
        got = re.search(r"Gtid_IO_Pos:[ \t]*(\S*)", status)
        gtids = got.group(1) if got and got.group(1) else ""
        if not gtids:
            gtids = (await self._sql(place, "SELECT @@gtid_slave_pos;")).strip()
        return gtid_total(gtids)

    async def detach_replica(self, place: Place, spec: ServerSpec) -> None:
        # What the replica received of its source is applied first (its
        # relay log, up to the GTID its I/O thread got), for at most 60 s.
        await self._sql(place, "STOP SLAVE IO_THREAD;")
        status = await self._sql(place, "SHOW SLAVE STATUS\\G")
        received = re.search(r"Gtid_IO_Pos:[ \t]*(\S*)", status)
        if received and received.group(1):
            await self._sql(place, f"SELECT MASTER_GTID_WAIT({literal(received.group(1))}, 60);")
        await self._sql(place, "STOP SLAVE;", "RESET SLAVE ALL;", "SET GLOBAL read_only = 0;")
        (place.data_dir / SEEDED).unlink(missing_ok=True)


def _following(upstream: Upstream, gtid: str) -> tuple[str, ...]:
    """The statements that set a stopped replica to follow ``upstream`` by
    GTID from ``gtid`` (its position), and start it."""
    return (
        f"SET GLOBAL gtid_slave_pos = {literal(gtid)};",
        f"CHANGE MASTER TO MASTER_HOST = {literal(upstream.address)}, "
        f"MASTER_PORT = {upstream.spec.port}, MASTER_USER = {literal(upstream.user)}, "
        f"MASTER_PASSWORD = {literal(upstream.password)}, MASTER_USE_GTID = slave_pos, "
        "MASTER_CONNECT_RETRY = 1;",
        "START SLAVE;",
    )
