"""What compute asks of block storage, as a typed client interface.

Compute reserves a volume for a server, hands Cinder the host's connector
and gets back how to reach the volume, marks the attachment complete, and
deletes it on detach, as Nova does with Cinder's attachments API (3.27+).
``LocalVolumes`` calls the volume service of this process (the
all-in-one); a client over HTTP fits the same ``VolumeClient`` protocol, so
a scaled-out compute agent can use one.

Calls with a ``ctx`` act as the user (another project's volume is not
found); the others act as the service, for the compute agent, which works
on its own, after a restart too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from stratus.common.context import RequestContext
from stratus.common.errors import NotFound

if TYPE_CHECKING:
    from stratus.volume.service import VolumeService


@dataclass(frozen=True)
class VolumeInfo:
    id: str
    project_id: str
    status: str
    size: int
    multiattach: bool
    bootable: bool


class VolumeClient(Protocol):
    async def get(self, ctx: RequestContext | None, volume_id: str) -> VolumeInfo:
        """The volume (NotFound when the caller may not see it)."""
        ...

    async def reserve(self, ctx: RequestContext | None, volume_id: str, server_id: str) -> str:
        """Reserve the volume for the server (as the user, or as the service
        when ``ctx`` is None); the Cinder attachment's id.  Refused (400) for
        a volume that is not available and not multiattach, unless the
        server has it already (a move)."""
        ...

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        """Give the attachment the host's connector: its ``connection_info``."""
        ...

    async def complete(self, attachment_id: str) -> None: ...

    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> None: ...

    async def roll_detaching(self, volume_id: str) -> None: ...

    async def release(self, attachment_id: str) -> None:
        """Delete the attachment; one already gone is not an error."""
        ...

    async def find_attachment(self, volume_id: str, server_id: str) -> str | None: ...

    async def attachments_of(self, volume_id: str, server_id: str) -> list[str]:
        """Every Cinder attachment of the volume to the server, oldest first
        (a moving server has two: its source's and its destination's)."""
        ...

    async def delete_volume(self, volume_id: str) -> None:
        """Delete a volume (boot volumes with delete_on_termination)."""
        ...

    async def create_snapshot(self, ctx: RequestContext, volume_id: str, name: str) -> str:
        """A snapshot of a volume, in use or not (force); its id."""
        ...

    async def create_volume(
        self, ctx: RequestContext, size: int | None, *, name: str,
        image_id: str | None = None, snapshot_id: str | None = None,
    ) -> str:  # fmt: skip
        """A new volume of the user's (empty, or from an image or a
        snapshot); its id, while it is still being made."""
        ...


def service_context(request_id: str = "compute-agent") -> RequestContext:
    return RequestContext(request_id=request_id, user_id="compute", roles=("admin", "service"))


def _info(volume: Any) -> VolumeInfo:
    return VolumeInfo(
        id=volume.id,
        project_id=volume.project_id,
        status=volume.status,
        size=volume.size,
        multiattach=bool(volume.multiattach),
        bootable=bool(volume.bootable),
    )


class LocalVolumes:
    """The volume service of this process, called directly."""

    def __init__(self, volume: VolumeService):
        self.volume = volume

    async def get(self, ctx: RequestContext | None, volume_id: str) -> VolumeInfo:
        return _info(await self.volume.volumes.row(ctx or service_context(), volume_id))

    async def reserve(self, ctx: RequestContext | None, volume_id: str, server_id: str) -> str:
        att = await self.volume.attachments.create(
            ctx or service_context(), volume_id, server_id, None, None
        )
        return att.id

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        att = await self.volume.attachments.update(service_context(), attachment_id, connector)
        return dict(att.connection_info or {})

    async def complete(self, attachment_id: str) -> None:
        await self.volume.attachments.complete(service_context(), attachment_id)

    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> None:
        await self.volume.attachments.legacy(ctx, volume_id, "begin_detaching", {})

    async def roll_detaching(self, volume_id: str) -> None:
        await self.volume.attachments.legacy(service_context(), volume_id, "roll_detaching", {})

    async def release(self, attachment_id: str) -> None:
        try:
            await self.volume.attachments.delete(service_context(), attachment_id)
        except NotFound:
            pass

    async def find_attachment(self, volume_id: str, server_id: str) -> str | None:
        rows = await self.volume.attachments.list_attachments(
            service_context(), True, {"volume_id": volume_id, "instance_uuid": server_id}
        )
        return rows[0].id if rows else None

    async def attachments_of(self, volume_id: str, server_id: str) -> list[str]:
        rows = await self.volume.attachments.list_attachments(
            service_context(), True, {"volume_id": volume_id, "instance_uuid": server_id}
        )
        return [r.id for r in rows]

    async def delete_volume(self, volume_id: str) -> None:
        try:
            await self.volume.volumes.delete(
                service_context(), volume_id, cascade=True, force=False
            )
        except NotFound:
            pass

    async def create_volume(
        self, ctx: RequestContext, size: int | None, *, name: str,
        image_id: str | None = None, snapshot_id: str | None = None,
    ) -> str:  # fmt: skip
        from stratus.volume.service.volumes import CreateVolume

        request = CreateVolume(size=size, name=name, image_id=image_id, snapshot_id=snapshot_id)
        detail = await self.volume.volumes.create(ctx, request)
        return str(detail.volume.id)

    async def create_snapshot(self, ctx: RequestContext, volume_id: str, name: str) -> str:
        from stratus.common.microversion import Version

        snapshot = await self.volume.snapshots.create(
            ctx, volume_id, force=True, name=name, description=None, metadata={},
            version=Version.parse("3.66"),
        )  # fmt: skip
        return str(snapshot.id)
