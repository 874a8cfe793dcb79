"""Events other services send about servers (``os-server-external-events``).

``volume-extended`` (its tag is the volume's id) marks the server's
attachment of that volume ``extending`` and wakes the server's host: its
agent grows the disk the running guest sees to the volume's new size
(``agent/volumes.py``).  The other events need no work in this cloud."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from stratus.common.db import Database, utcnow
from stratus.compute import models as m


@dataclass(frozen=True)
class Event:
    server_uuid: str
    name: str
    status: str = "completed"
    tag: str | None = None


class ExternalEvents:
    def __init__(self, db: Database, wake: Callable[[str | None], None]):
        self.db = db
        self.wake = wake

    async def create(self, events: list[Event]) -> list[int]:
        """Each event's code: 200 taken, 404 no such server, 422 the server
        is on no host (yet)."""
        codes: list[int] = []
        hosts: set[str] = set()
        async with self.db.transaction() as s:
            for event in events:
                server = await s.get(m.Server, event.server_uuid)
                if server is None or server.deleted_at is not None:
                    codes.append(404)
                    continue
                if not server.host:
                    codes.append(422)
                    continue
                codes.append(200)
                if event.name == "volume-extended" and event.tag and event.status == "completed":
                    row = await s.scalar(
                        select(m.VolumeAttachment).where(
                            m.VolumeAttachment.server_id == server.id,
                            m.VolumeAttachment.volume_id == event.tag,
                            m.VolumeAttachment.status == m.VOL_ATTACHED,
                        )
                    )
                    if row is not None:
                        row.status = m.VOL_EXTENDING
                        row.updated_at = utcnow()
                        hosts.add(server.host)
        for host in hosts:
            self.wake(host)
        return codes
