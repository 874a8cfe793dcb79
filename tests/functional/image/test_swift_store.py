"""Images kept in the object store: a 1 GiB image goes in and comes back
intact, its data is visible as objects of the service's account, and
deleting the image frees them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud

GIB = 1 << 30
BLOCK = 1 << 20


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(
        tmp_path_factory.mktemp("swift-store"),
        database,
        STRATUS_SERVICES__ENABLED='["identity", "image", "object-store"]',
        STRATUS_IMAGE__STORE="swift",
        STRATUS_IMAGE__SWIFT_SEGMENT_SIZE=str(256 << 20),
    )
    yield srv
    stop_cloud(srv)


def _service_account(cloud: Server, token: str) -> str:
    resp = httpx.get(f"{cloud.auth_url}/projects", params={"name": "service"}, headers={"X-Auth-Token": token})
    return f"{cloud.url}/object-store/v1/AUTH_{resp.json()['projects'][0]['id']}"


def test_a_1_gib_image_round_trips_through_the_object_store(cloud: Server, tmp_path: Path) -> None:
    token = cloud.admin_token()
    headers = {"X-Auth-Token": token}
    image_url = f"{cloud.url}/image/v2/images"
    created = httpx.post(
        image_url, json={"name": "big", "disk_format": "raw", "container_format": "bare"}, headers=headers
    )
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    block = os.urandom(BLOCK)
    sent = hashlib.md5(usedforsecurity=False)

    def body() -> Iterator[bytes]:
        for i in range(GIB // BLOCK):
            chunk = block[i % 251 :] + block[: i % 251]  # every MiB different
            sent.update(chunk)
            yield chunk

    with httpx.Client(timeout=600) as client:
        put = client.put(
            f"{image_url}/{image_id}/file",
            content=body(),
            headers={**headers, "Content-Type": "application/octet-stream", "Content-Length": str(GIB)},
        )
        assert put.status_code == 204, put.text
        record = client.get(f"{image_url}/{image_id}", headers=headers).json()
        assert record["status"] == "active" and record["size"] == GIB
        assert record["checksum"] == sent.hexdigest()
        got = hashlib.md5(usedforsecurity=False)
        size = 0
        with client.stream("GET", f"{image_url}/{image_id}/file", headers=headers) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_bytes(BLOCK):
                got.update(chunk)
                size += len(chunk)
        assert size == GIB and got.hexdigest() == sent.hexdigest()

        # The data is there as objects of the service's account: segments
        # named after the image, and a manifest.
        account = _service_account(cloud, token)
        segments = client.get(
            f"{account}/images_segments", params={"prefix": f"{image_id}/", "format": "json"}, headers=headers
        ).json()
        assert len(segments) == 4 and sum(s["bytes"] for s in segments) == GIB
        assert client.head(f"{account}/images/{image_id}", headers=headers).status_code == 200

        assert client.delete(f"{image_url}/{image_id}", headers=headers).status_code == 204
        left = client.get(
            f"{account}/images_segments", params={"prefix": f"{image_id}/", "format": "json"}, headers=headers
        )
        assert left.status_code in (200, 204) and (left.status_code == 204 or left.json() == [])
        assert client.head(f"{account}/images/{image_id}", headers=headers).status_code == 404
