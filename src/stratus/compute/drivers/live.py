"""The live migration part of the driver interface (``Capability.LIVE_MIGRATION``).

A live migration without shared storage has two sides, each driven by the
agent of its host: the destination prepares an empty disk and a guest that
waits for the incoming state (``prepare_incoming``), the source copies the
disk and then the memory to it while the guest runs (``live_migrate``), and
the destination takes the guest over (``finish_incoming``) or throws its side
away (``abort_incoming``).  The two agents meet only through the database, so
what the destination publishes (``IncomingGuest``) is plain data.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from stratus.compute.drivers.base import GuestSpec, GuestStatus


@dataclass(frozen=True)
class IncomingGuest:
    """Where a prepared destination waits: the URI of its writable disk
    export and the URI its guest takes the memory and device state from."""

    disk_uri: str
    memory_uri: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncomingGuest:
        return cls(disk_uri=str(data["disk_uri"]), memory_uri=str(data["memory_uri"]))


@dataclass(frozen=True)
class LiveProgress:
    """How far a live migration has gone, in bytes (None: not known yet)."""

    phase: str  # "disk" (copying the disk), "memory" (copying the memory), "completed"
    memory_total: int | None = None
    memory_processed: int | None = None
    memory_remaining: int | None = None
    disk_total: int | None = None
    disk_processed: int | None = None
    disk_remaining: int | None = None


class LiveControl(enum.Enum):
    """What the agent asks of a running live migration at each progress report."""

    CONTINUE = "continue"
    ABORT = "abort"  # cancel it: the guest stays (and runs) on the source
    FORCE_COMPLETE = "force_complete"  # make it converge (pause the guest)


@dataclass(frozen=True)
class LiveResult:
    completed: bool  # False: aborted, the guest runs on the source as before
    total_ms: int | None = None  # the whole migration, disk copy included
    downtime_ms: int | None = None  # how long the guest was stopped at the switch-over
    progress: LiveProgress | None = None  # the last progress seen


ProgressCallback = Callable[[LiveProgress], Awaitable[LiveControl]]


@runtime_checkable
class LiveMigrationDriver(Protocol):
    async def prepare_incoming(self, spec: GuestSpec) -> IncomingGuest:
        """Destination: an empty disk of the guest's size over this host's
        copy of the base image, exported for writing, and a guest process
        waiting for the incoming state.  Idempotent for one guest."""

    async def live_migrate(
        self, spec: GuestSpec, target: IncomingGuest, progress: ProgressCallback
    ) -> LiveResult:
        """Source: copy the disk and then the memory to ``target`` while the
        guest runs; at the end the guest runs on the destination and this
        host's copy is stopped, until ``finish_outgoing``.  ``progress`` is awaited every few tens of
        milliseconds and may abort or force the migration.  On failure it
        raises DriverError and the guest keeps running here."""

    async def finish_outgoing(self, uuid: str, directory: Path) -> None:
        """Source, once the move is recorded: end the stopped copy here and
        delete its folder.  Idempotent."""

    async def recover_outgoing(self, spec: GuestSpec) -> bool:
        """Source, when its agent restarted during a migration: True if the
        migration had completed (the guest runs on the destination); else
        cancel what is left of it, the guest running here as before."""

    async def finish_incoming(self, spec: GuestSpec, running: bool) -> GuestStatus:
        """Destination, after a completed migration: stop exporting the disk
        and make sure the guest runs (``running``) or stays paused."""

    async def abort_incoming(self, uuid: str, directory: Path) -> None:
        """Destination, after a failed or aborted migration: stop the
        waiting guest and delete its folder.  Idempotent."""
