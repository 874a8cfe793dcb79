"""The guest builder: what a driver needs to run a server on this host.

``spec`` turns a server's record into a ``GuestSpec`` (its folder, flavor,
forwarded port and the cached base image, fetched into the image cache when
this host lacks it); ``write_config_drive`` writes the config drive whose
contents the service defines (``service/metadata.py``)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from stratus.compute import models as m
from stratus.compute.agent.images import CachedImage
from stratus.compute.drivers.base import (
    GuestSpec,
    GuestStatus,
    Nic,
    PortForward,
    Power,
    VolumeDisk,
)
from stratus.compute.service.metadata import config_drive_contents

if TYPE_CHECKING:
    from stratus.compute.agent.nics import HostNics

POWER = {
    Power.NOSTATE: m.NOSTATE,
    Power.RUNNING: m.RUNNING,
    Power.PAUSED: m.POWER_PAUSED,
    Power.SHUTDOWN: m.SHUTDOWN,
    Power.CRASHED: m.CRASHED,
    Power.SUSPENDED: m.POWER_SUSPENDED,
}

ConfigDriveWriter = Callable[..., None]  # configdrive.build_config_drive


def power_state(status: GuestStatus) -> int:
    """The server's power_state for what the driver reports."""
    return POWER[status.power]


class Images(Protocol):
    """The host's image cache (``images.ImageCache``)."""

    async def ensure(self, image_id: str) -> CachedImage: ...

    def sweep(self, keep: Iterable[str]) -> list[Path]: ...


def forwards(server: m.Server, host_port: int | None) -> tuple[PortForward, ...]:
    """The guest's SSH port forwarded from ``host_port`` on this host."""
    if server.networks != "none" and host_port:
        return (PortForward(host_port, 22),)
    return ()


class GuestBuilder:
    def __init__(
        self,
        instances: Path,
        images: Images,
        config_drive: ConfigDriveWriter | None = None,
        nics: HostNics | None = None,
    ) -> None:
        self.instances = instances
        self.images = images
        self.config_drive = config_drive
        self.nics = nics  # None: no network service, user-mode networking
        # The volumes attached to a server (agent/volumes.py), set by the agent.
        self.volume_disks: Callable[[m.Server], Awaitable[tuple[VolumeDisk, ...]]] | None = None
        self.root_disk: Callable[[m.Server], Awaitable[VolumeDisk | None]] | None = None

    def directory(self, server: m.Server) -> Path:
        return self.instances / server.id

    async def spec(
        self,
        server: m.Server,
        image_id: str | None = None,
        wait_plugged: bool = True,
        **changes: Any,
    ) -> GuestSpec:
        """The guest as the driver needs it; ``image_id`` overrides the base
        image of a new disk (unshelving spawns from the shelved image),
        ``wait_plugged`` see ``HostNics.plug``, and ``changes`` replace
        fields of the spec."""
        plugged = None
        if self.nics is not None:
            _ports, plugged = await self.nics.plug(server, wait_plugged)
        root = await self.root_disk(server) if self.root_disk is not None else None
        if root is None or image_id is not None:
            cached = await self.images.ensure(image_id or server.image_ref)
            base, base_format = cached.path, cached.disk_format
        else:  # booted from a volume: no image
            base, base_format = Path(os.devnull), "raw"
        directory = self.directory(server)
        drive = directory / "config.iso"
        spec = GuestSpec(
            uuid=server.id,
            name=server.name,
            vcpus=int(server.flavor["vcpus"]),
            memory_mb=int(server.flavor["ram"]),
            root_gb=max(int(server.flavor["disk"]), 1),
            base_image=base,
            base_format=base_format,
            directory=directory,
            config_drive=drive if drive.exists() else None,
            forwards=forwards(server, server.host_port) if plugged is None else (),
            nics=plugged,
            metadata=dict(server.metadata_ or {}),
        )
        if self.volume_disks is not None:
            spec = dataclasses.replace(spec, volumes=await self.volume_disks(server))
        if root is not None and image_id is None:
            spec = dataclasses.replace(spec, root_volume=root)
        return dataclasses.replace(spec, **changes) if changes else spec

    def running_spec(self, server: m.Server, nics: tuple[Nic, ...] | None) -> GuestSpec:
        """The spec of a guest that runs already, for what touches no disk
        (hot-plugging a NIC): no base image is looked up."""
        directory = self.directory(server)
        return GuestSpec(
            uuid=server.id,
            name=server.name,
            vcpus=int(server.flavor["vcpus"]),
            memory_mb=int(server.flavor["ram"]),
            root_gb=max(int(server.flavor["disk"]), 1),
            base_image=directory / "disk.qcow2",
            base_format="qcow2",
            directory=directory,
            nics=nics,
        )

    async def write_config_drive(self, server: m.Server, wait_plugged: bool = True) -> None:
        """Write (or rewrite) the server's config drive into its folder."""
        if self.config_drive is None:
            return
        ports = None
        if self.nics is not None:
            ports, plugged = await self.nics.plug(server, wait_plugged)
            ports = ports if plugged is not None else None
        contents = config_drive_contents(server, ports)
        path = self.directory(server) / "config.iso"
        await asyncio.to_thread(
            self.config_drive,
            path,
            meta_data=contents.meta_data,
            user_data=contents.user_data,
            network_data=contents.network_data,
        )

    async def prepare(self, server: m.Server, wait_plugged: bool = True) -> None:
        """The server's folder and config drive, before a first boot here
        (``wait_plugged``: see ``HostNics.plug``)."""
        self.directory(server).mkdir(parents=True, exist_ok=True)
        await self.write_config_drive(server, wait_plugged)

    async def release_ports(self, server: m.Server) -> None:
        """The server is deleted: its ports too (the user's: unbound)."""
        if self.nics is not None:
            await self.nics.release(server)
