"""What a crash leaves of image uploads, put right when the primary starts
(before it serves, so no upload of this cloud is in flight):

- an upload in flight (``saving``) goes back to ``queued``: the image takes a
  new upload, as if the interrupted one had never begun;
- a staging upload in flight (``uploading`` with nothing staged yet) too;
- the store is swept of what belongs to no image that keeps data: unfinished
  writes (``.ID.partial``), data of images deleted, killed or queued, staged
  data of images no longer waiting for their import.  Only what was written
  before this start is touched, so uploads begun meanwhile are safe.

Each step says in the log what it did.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from stratus.common.db import Database, utcnow
from stratus.image import models as m
from stratus.image.drivers.base import Store
from stratus.image.service.data import staged_key

log = logging.getLogger(__name__)

KEEPS_DATA = (m.ACTIVE, m.DEACTIVATED)


async def reset_uploads(db: Database) -> list[str]:
    """Uploads that were in flight: their images back to ``queued``."""
    async with db.transaction() as s:
        ids = list(
            await s.scalars(
                select(m.Image.id).where(
                    (m.Image.status == m.SAVING)
                    | ((m.Image.status == m.UPLOADING) & m.Image.staged.is_(None))
                )
            )
        )
        if ids:
            await s.execute(
                update(m.Image)
                .where(m.Image.id.in_(ids))
                .values(status=m.QUEUED, updated_at=utcnow())
            )
    for image_id in ids:
        log.warning("image %s: its upload was interrupted by a restart; queued again", image_id)
    return ids


async def sweep(db: Database, store: Store, before: float) -> list[str]:
    """Remove from the store what no image keeps (written before ``before``)."""
    async with db.session() as s:
        data = set(await s.scalars(select(m.Image.id).where(m.Image.status.in_(KEEPS_DATA))))
        staged = set(
            await s.scalars(
                select(m.Image.id).where(
                    m.Image.status.in_((m.UPLOADING, m.IMPORTING)), m.Image.staged.is_not(None)
                )
            )
        )
    wanted = data | {staged_key(image_id) for image_id in staged}
    gone = await store.sweep(wanted.__contains__, before)
    for name in gone:
        log.warning("image store: removed %s, which belongs to no image (left by a crash)", name)
    if not gone:
        log.info("image store: nothing left over")
    return gone
