"""PostgreSQL backups: where one starts (a replication slot kept since the
last full backup), the WAL segments an incremental backup copies, and a
restore that unpacks a chain (the base backup, then each one's WAL)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from stratus.database.drivers.base import ByteStream, DriverError, Place, ServerSpec
from stratus.database.drivers.postgresql_admin import connect, execute, literal
from stratus.database.drivers.process import RESTORED, SEEDED, as_user, empty_folder, stream_in

# The physical replication slot that keeps the WAL written since the last
# backup, for the incremental backup that copies it.
BACKUP_SLOT = "os_backup"
# How much WAL that slot may keep before the server lets it go (then the
# next incremental backup fails and asks for a full one).
SLOT_WAL_KEEP = "256MB"
WAL_NAME = re.compile(r"^[0-9A-F]{24}$")


async def backup_position(
    place: Place, spec: ServerSpec, parent: dict[str, Any] | None
) -> tuple[list[str], str | None, int]:
    """(WAL files, position, timeline) of a backup: for a full one, the
    slot made again at the current position (none on a standby); for an
    incremental one, the segments since its parent."""
    try:
        conn = await connect(place, spec)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DriverError(f"postgres is not reachable: {type(exc).__name__}") from None
    try:
        standby = bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
        timeline = int(await conn.fetchval("SELECT timeline_id FROM pg_control_checkpoint()"))
        if parent is not None:
            files, end = await wal_since(conn, place, parent, standby, timeline)
            return files, end, timeline
        lsn = None
        if not standby:
            await conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = $1", BACKUP_SLOT)  # fmt: skip
            await conn.execute("SELECT pg_create_physical_replication_slot($1, true)",
                               BACKUP_SLOT)  # fmt: skip
            lsn = str(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
        return [], lsn, timeline
    except asyncpg.PostgresError as exc:
        raise DriverError(f"postgres refused: {exc.__class__.__name__}") from None
    finally:
        await conn.close()


async def release_slot(place: Place, spec: ServerSpec, lsn: str | None) -> None:
    """The slot lets go of the WAL an incremental backup holds."""
    await execute(place, spec, "SELECT pg_replication_slot_advance(slot_name, "
                  f"{literal(lsn or '0/0')}::pg_lsn) FROM pg_replication_slots "
                  f"WHERE slot_name = {literal(BACKUP_SLOT)}")  # fmt: skip


async def wal_since(
    conn: asyncpg.Connection,
    place: Place,
    parent: dict[str, Any],
    standby: bool,
    timeline: int,
) -> tuple[list[str], str]:
    """The WAL segment files from the parent's position to now (the
    last one completed by a switch), and the position they end at."""
    if standby:
        raise DriverError("an incremental backup of a replica cannot be made: make a full one")
    if not parent.get("lsn"):
        raise DriverError("the parent backup holds no WAL position: make a full backup")
    if int(parent.get("timeline", 0)) != timeline:
        raise DriverError("the server changed timeline since the parent backup (it was "
                          "promoted): make a full backup")  # fmt: skip
    # The segment holding the first byte after the parent's position (a
    # parent that ended at a segment's end: the next one).
    first = str(await conn.fetchval("SELECT pg_walfile_name($1::text::pg_lsn + 1)",
                                    str(parent["lsn"])))  # fmt: skip
    end = str(await conn.fetchval("SELECT pg_switch_wal()::text"))
    last = str(await conn.fetchval("SELECT pg_walfile_name($1::text::pg_lsn)", end))
    size = int(await conn.fetchval(
        "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'"))  # fmt: skip
    per_id = 0x100000000 // size

    def number(name: str) -> int:
        return int(name[8:16], 16) * per_id + int(name[16:24], 16)

    wal = place.data_dir / "pg_wal"
    files = sorted(f.name for f in wal.iterdir()
                   if WAL_NAME.match(f.name) and first <= f.name <= last)  # fmt: skip
    wanted = number(last) - number(first) + 1
    # Nothing written since the parent: no segment, an empty backup.
    if wanted < 0 or len(files) != wanted:
        raise DriverError("the server no longer keeps all the WAL written since the parent "
                          f"backup (more than {SLOT_WAL_KEEP}): make a full backup")  # fmt: skip
    files += sorted(f.name for f in wal.iterdir() if f.name.endswith(".history"))
    return files, end


async def restore_chain(place: Place, chain: Sequence[ByteStream]) -> None:
    if (place.data_dir / RESTORED).exists():
        return
    empty_folder(place.data_dir)
    await stream_in(as_user(place, ["tar", "-x", "-C", str(place.data_dir)]), chain[0])
    # A backup of a replica: the new instance follows nobody.
    for stale in ("postmaster.pid", "postmaster.opts", "standby.signal", SEEDED, RESTORED):
        (place.data_dir / stale).unlink(missing_ok=True)
    # The incremental backups' WAL, newer copies of a segment over older
    # ones: the server replays it all when it starts (crash recovery
    # from the base backup's checkpoint to the end of the WAL).
    for stream in chain[1:]:
        await stream_in(as_user(place, ["tar", "-x", "-C", str(place.data_dir / "pg_wal")]),
                        stream)  # fmt: skip
    (place.data_dir / RESTORED).touch()
    os.chown(place.data_dir / RESTORED, place.uid, place.gid)
