"""The server actions that change a server's power, image or lock: one verb
each, as the API's action routes call them (``api/server_actions.py``).
Each records the wanted state and the task (``Servers.request``) and wakes
the host's agent, which does the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stratus.common.context import RequestContext
from stratus.compute import models as m
from stratus.compute.errors import Conflict
from stratus.compute.service.images import ImageClient
from stratus.compute.service.servers import Servers
from stratus.compute.service.snapshots import ServerImages


@dataclass(frozen=True)
class RebuildRequest:
    image_ref: str
    name: str | None = None
    metadata: dict[str, str] | None = None
    user_data: str | None = None


class ServerActions:
    def __init__(self, servers: Servers, images: ImageClient, server_images: ServerImages):
        self.servers = servers
        self.images = images
        self.server_images = server_images

    async def stop(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.request(ctx, server_id, "stop")

    async def start(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.request(ctx, server_id, "start")

    async def pause(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.request(ctx, server_id, "pause")

    async def unpause(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.request(ctx, server_id, "unpause")

    async def suspend(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.request(ctx, server_id, "suspend")

    async def resume(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.request(ctx, server_id, "resume")

    async def reboot(self, ctx: RequestContext, server_id: str, hard: bool) -> None:
        await self.servers.request(ctx, server_id, "reboot_hard" if hard else "reboot")

    async def rebuild(self, ctx: RequestContext, server: m.Server, req: RebuildRequest) -> m.Server:
        """A new disk from the image (which the caller must be able to use),
        with a new name, metadata or user data when given."""
        image = await self.images.get(ctx, req.image_ref)
        image.check_fits(int(server.flavor.get("disk", 0)))
        values: dict[str, Any] = {"image_ref": image.id, "vm_state": server.vm_state}
        if req.name:
            values["name"] = req.name
        if req.metadata is not None:
            values["metadata_"] = dict(req.metadata)
        if req.user_data is not None:
            values["user_data"] = req.user_data
        return await self.servers.request(ctx, server.id, "rebuild", **values)

    async def lock(self, ctx: RequestContext, server_id: str, reason: str | None) -> None:
        await self.servers.set_lock(ctx, server_id, True, reason)

    async def unlock(self, ctx: RequestContext, server_id: str) -> None:
        await self.servers.set_lock(ctx, server_id, False, None)

    async def reset_state(self, ctx: RequestContext, server_id: str, state: str) -> None:
        """The admin's os-resetState: the server shows ``state`` (active or
        error) and no task; a step still running loses its compare-and-swap."""
        await self.servers.reset_state(ctx, server_id, m.ACTIVE if state == "active" else m.ERROR)

    async def restore(self, ctx: RequestContext, server: m.Server) -> None:
        """Only a soft-deleted server can be restored, and with soft delete
        off (reclaim_instance_interval 0, Nova's default) none ever is."""
        raise Conflict(
            f"Cannot 'restore' instance {server.id} while it is in vm_state {server.vm_state}"
        )

    async def delete(self, ctx: RequestContext, server: m.Server) -> None:
        """Delete the server (its agent destroys the guest) and the image a
        shelved server kept."""
        await self.servers.delete(ctx, server.id)
        await self.server_images.forget_shelved_image(server)
