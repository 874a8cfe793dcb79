"""The image service's data path on the in-memory store (drivers/fake.py)
and a real SQLite database: an upload activates the image with its size and
checksums, a download streams it back (a range too), a failed upload kills
the image and leaves nothing stored, and deleting the image drops its data."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Base, Database
from stratus.common.errors import StratusError
from stratus.common.ranges import ByteRange
from stratus.image import models as m
from stratus.image.drivers.fake import FakeStore
from stratus.image.service import ImageService

CTX = RequestContext(request_id="req-1", user_id="u1", project_id="p1", roles=("member",))


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(body: AsyncIterator[bytes] | None) -> bytes:
    assert body is not None
    return b"".join([chunk async for chunk in body])


@pytest.fixture
async def setup(tmp_path: Path) -> Any:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    store = FakeStore()
    cfg = Config(data_dir=tmp_path)
    service = ImageService(cfg, db, store=store)
    yield service, store
    await db.engine.dispose()


async def new_image(service: ImageService, disk_format: str = "raw") -> m.Image:
    attrs = {"name": "img", "disk_format": disk_format, "container_format": "bare"}
    return await service.images.create(CTX, attrs, may_set_owner=False, may_publicize=False)


async def test_upload_download_and_delete(setup: Any) -> None:
    service, store = setup
    image = await new_image(service)
    data = b"0123456789" * 100_000
    done = await service.data.upload(
        CTX, image.id, chunks(data[:300_000], data[300_000:]), len(data)
    )
    assert (done.status, done.size) == (m.ACTIVE, len(data))
    assert done.os_hash_value == hashlib.sha512(data).hexdigest()
    assert store.blobs[image.id] == data
    whole = await service.data.download(CTX, image.id, None)
    assert await read(whole.body) == data and not whole.partial
    part = await service.data.download(CTX, image.id, ByteRange(10, 19))
    assert (part.start, part.end, part.partial) == (10, 19, True)
    assert await read(part.body) == data[10:20]
    await service.data.delete_data(done)
    assert image.id not in store.blobs


async def test_a_refused_upload_kills_the_image_and_stores_nothing(setup: Any) -> None:
    service, store = setup
    image = await new_image(service, disk_format="qcow2")
    with pytest.raises(StratusError):  # plain bytes are no qcow2 image
        await service.data.upload(CTX, image.id, chunks(b"not a disk image" * 100), None)
    after = await service.images.get(CTX, image.id)
    assert after.status == m.KILLED
    assert image.id not in store.blobs
