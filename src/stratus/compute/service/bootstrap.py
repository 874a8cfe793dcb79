"""First-start set-up of compute in the all-in-one: the m1 flavors and the
built-in tiny guest image (registered as the public image ``tiny``)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m

log = logging.getLogger(__name__)

FLAVORS = (
    # id, name, MiB of RAM, vCPUs, GiB of disk
    ("1", "m1.tiny", 256, 1, 1),
    ("2", "m1.small", 2048, 1, 20),
    ("3", "m1.medium", 4096, 2, 40),
    ("4", "m1.large", 8192, 4, 80),
)
TINY_NAME = "tiny"
TINY_MARK = "stratus_builtin"


async def ensure_flavors(db: Database) -> None:
    async with db.transaction() as s:
        for flavor_id, name, ram, vcpus, disk in FLAVORS:
            exists = await s.get(m.Flavor, flavor_id) or await s.scalar(
                select(m.Flavor).where(m.Flavor.name == name)
            )
            if exists is None:
                s.add(
                    m.Flavor(
                        id=flavor_id,
                        name=name,
                        memory_mb=ram,
                        vcpus=vcpus,
                        root_gb=disk,
                        extra_specs={},
                    )
                )


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, 1 << 20):
            yield chunk


async def _build_in_child(out_dir: Path) -> Path:
    """Build the image in a child process: the build's buffers then never
    weigh on the long-running server's memory."""
    code = (
        "import sys; from pathlib import Path; "
        "from stratus.compute.guest.tiny import build_tiny_image; "
        "print(build_tiny_image(Path(sys.argv[1])))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        str(out_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"building the tiny image failed: {detail}")
    return Path(out.decode().strip().splitlines()[-1])


async def ensure_tiny_image(cfg: Config, image_service: object, owner: str) -> None:
    """Build the tiny guest image from the host's Debian packages and
    register it once, as a public image owned by the service project."""
    from stratus.image import models as im
    from stratus.image.service import ImageService

    assert isinstance(image_service, ImageService)
    ctx = RequestContext(
        request_id="req-bootstrap", project_id=owner, roles=("admin", "member", "reader")
    )
    async with image_service.images.db.session() as s:
        found = (
            await s.scalars(
                select(im.Image).where(im.Image.name == TINY_NAME, im.Image.status == im.ACTIVE)
            )
        ).all()
    if any(i.properties.get(TINY_MARK) == "tiny" for i in found):
        return
    path = await _build_in_child(cfg.data_path(cfg.compute.instances_dir) / "tiny")
    image = await image_service.images.create(
        ctx,
        {
            "name": TINY_NAME,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
            "min_ram": 128,
            TINY_MARK: "tiny",
            "os_distro": "busybox",
            "hw_architecture": "x86_64",
        },
        may_set_owner=True,
        may_publicize=True,
    )
    await image_service.data.upload(ctx, image.id, _read(path), path.stat().st_size)
    log.info("compute: registered the tiny guest image %s", image.id)
