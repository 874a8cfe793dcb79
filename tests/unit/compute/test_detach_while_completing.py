"""A detach that comes right after Cinder shows the volume ``in-use``: the
agent records the disk, then completes the attachment in Cinder, then marks
its row ``attached``.  Between the last two steps the row is still
``attaching``, and a detach must be taken then, as Nova takes it (Nova
completes the attachment in Cinder last); the agent's mark then gives way."""

from __future__ import annotations

from pathlib import Path

from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.agent.recorder import VolumeRecords
from stratus.compute.service.volumes import detachable


def row(status: str, info: dict[str, object] | None) -> m.VolumeAttachment:
    return m.VolumeAttachment(status=status, connection_info=info)


def test_a_plugged_in_volume_being_completed_is_detachable() -> None:
    info = {"driver_volume_type": "file", "data": {"path": "/v"}}
    assert detachable(row(m.VOL_ATTACHED, info))
    assert detachable(row(m.VOL_ATTACHING, info))
    # Not yet plugged in: nothing to detach yet (400, as before).
    assert not detachable(row(m.VOL_ATTACHING, None))
    assert not detachable(row(m.VOL_DETACHING, info))


async def test_the_agents_mark_gives_way_to_a_detach(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(m.VolumeAttachment.metadata.create_all)
    async with db.transaction() as s:
        s.add(m.VolumeAttachment(id="a1", server_id="s1", project_id="p1", volume_id="v1", device="/dev/vdb",
                                 status=m.VOL_ATTACHING))  # fmt: skip
    records = VolumeRecords(db, "h1")
    await records.save("a1", status=m.VOL_DETACHING)  # the API's detach
    assert not await records.save_if("a1", m.VOL_ATTACHING, status=m.VOL_ATTACHED)
    assert [r.status for r in await records.of_server("s1")] == [m.VOL_DETACHING]
    await records.save("a1", status=m.VOL_ATTACHING)
    assert await records.save_if("a1", m.VOL_ATTACHING, status=m.VOL_ATTACHED)
    assert [r.status for r in await records.of_server("s1")] == [m.VOL_ATTACHED]
    await db.close()
