"""The image service's resource gauges for /metrics."""

from __future__ import annotations

from sqlalchemy import func, select

from stratus.common.db import Database
from stratus.common.metrics import GaugeFamily
from stratus.image import models as m


async def gauges(db: Database) -> list[GaugeFamily]:
    images = GaugeFamily("stratus_image_images", "Images, by status.", ("status",))
    size = GaugeFamily(
        "stratus_image_bytes", "Bytes of image data stored, by status.", ("status",)
    )
    async with db.session() as s:
        for status, count, total in await s.execute(
            select(m.Image.status, func.count(), func.coalesce(func.sum(m.Image.size), 0))
            .where(m.Image.status != m.DELETED)
            .group_by(m.Image.status)
        ):
            images.samples.append(((status,), float(count)))
            size.samples.append(((status,), float(total or 0)))
    return [images, size]
