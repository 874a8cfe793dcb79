"""The compute service's image client when the image service is away."""

from __future__ import annotations

import socket

import pytest

from stratus.common.context import RequestContext
from stratus.compute.service.images import ImageClient, ImageServiceUnavailable


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens once it is closed


async def test_an_unreachable_image_service_is_a_503_not_a_fault() -> None:
    client = ImageClient(f"http://127.0.0.1:{closed_port()}/image")
    try:
        with pytest.raises(ImageServiceUnavailable) as caught:
            await client.get(RequestContext(token="t", request_id="req-1"), "some-image")
    finally:
        await client.close()
    assert caught.value.status == 503
    assert "image service is unavailable" in caught.value.message
