"""MariaDB backups by mariadb-backup: a full or incremental xbstream
(incremental: the pages changed since the parent's LSNs), and a restore
that unpacks and prepares a chain (the full backup, then each delta)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

from stratus.database.drivers.base import ByteStream, DriverError, Place, Sink
from stratus.database.drivers.process import RESTORED, empty_folder, run, stream_in, stream_out

# Where mariadb-backup writes, and reads back, a backup's LSNs.
CHECKPOINTS = ("xtrabackup_checkpoints", "mariadb_backup_checkpoints")


async def backup_stream(
    place: Place, socket: str, sink: Sink, parent: dict[str, Any] | None
) -> dict[str, Any]:
    """The server's backup through ``sink`` (one at a time per server: the
    scratch folders are its); returns its checkpoints."""
    scratch, lsns, base = (place.run_dir / n for n in ("backup", "backup-lsn", "backup-base"))
    for folder in (scratch, lsns, base):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    try:
        argv = ["mariadb-backup", "--backup", "--stream=xbstream", f"--socket={socket}",
                "--user=root", f"--datadir={place.data_dir}", f"--target-dir={scratch}",
                f"--extra-lsndir={lsns}"]  # fmt: skip
        if parent is not None:
            if not parent.get("checkpoints"):
                raise DriverError("the parent backup holds no LSN: make a full backup")
            for name in CHECKPOINTS:
                (base / name).write_text(str(parent["checkpoints"]))
            argv.append(f"--incremental-basedir={base}")
        await sink(stream_out(argv))
        found = [lsns / n for n in CHECKPOINTS if (lsns / n).exists()]
        if not found:
            raise DriverError("mariadb-backup recorded no checkpoints")
        return {"checkpoints": found[0].read_text()}
    finally:
        for folder in (scratch, lsns, base):
            shutil.rmtree(folder, ignore_errors=True)


async def restore_chain(place: Place, chain: Sequence[ByteStream]) -> None:
    """The full backup unpacked and prepared, then each incremental one
    unpacked beside it and applied (``--prepare --incremental-dir``)."""
    if (place.data_dir / RESTORED).exists():
        return
    empty_folder(place.data_dir)
    await stream_in(["mbstream", "-x", "-C", str(place.data_dir)], chain[0])
    (place.data_dir / RESTORED).unlink(missing_ok=True)
    await run(["mariadb-backup", "--prepare", f"--target-dir={place.data_dir}"])
    delta = place.data_dir.parent / "incremental"
    for stream in chain[1:]:
        shutil.rmtree(delta, ignore_errors=True)
        delta.mkdir()
        try:
            await stream_in(["mbstream", "-x", "-C", str(delta)], stream)
            await run(["mariadb-backup", "--prepare", f"--target-dir={place.data_dir}",
                       f"--incremental-dir={delta}"])  # fmt: skip
        finally:
            shutil.rmtree(delta, ignore_errors=True)
    await run(["chown", "-R", f"{place.uid}:{place.gid}", str(place.data_dir)])
    (place.data_dir / RESTORED).touch()
