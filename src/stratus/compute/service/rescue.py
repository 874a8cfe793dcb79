"""Rescue and unrescue, as the API records them: the agent boots the server
from a rescue image with its own disk attached as the second disk, and
later boots it from its own disk again (``agent/snapshots.py``)."""

from __future__ import annotations

import secrets

from stratus.common.context import RequestContext
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.service.images import ImageClient
from stratus.compute.service.snapshots import ServerImages, Step
from stratus.compute.service.volumes import ServerVolumes

RESCUE = Step("rescue", frozenset({m.ACTIVE, m.STOPPED, m.ERROR}), "rescuing", Capability.RESCUE)
UNRESCUE = Step("unrescue", frozenset({m.RESCUED}), "unrescuing", Capability.RESCUE)


class Rescues:
    def __init__(self, steps: ServerImages, images: ImageClient, volumes: ServerVolumes):
        self.steps = steps
        self.images = images
        self.volumes = volumes

    async def rescue(
        self,
        ctx: RequestContext,
        server_id: str,
        admin_pass: str | None,
        rescue_image_ref: str | None,
    ) -> str:
        """Returns the admin password of the rescue boot."""
        await self.volumes.refuse_volume_backed(server_id, "rescue")
        server = await self.steps.precheck(ctx, server_id, RESCUE)
        # The rescue image must be one the caller may boot (400 otherwise);
        # by default it is the server's own image.
        image = await self.images.get(ctx, rescue_image_ref or server.image_ref)
        await self.steps.begin(ctx, server_id, RESCUE, {"rescue_image_ref": image.id})
        return admin_pass or secrets.token_urlsafe(9)

    async def unrescue(self, ctx: RequestContext, server_id: str) -> None:
        await self.steps.begin(ctx, server_id, UNRESCUE, {"rescue_image_ref": None})
