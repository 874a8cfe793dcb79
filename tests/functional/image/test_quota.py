"""Per-project image quotas: number of images and total bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.image.conftest import OCTET, create_image, make_user, show, upload

QUOTA_BYTES = 100_000


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(
        tmp_path_factory.mktemp("stratus-image-quota"),
        database,
        STRATUS_IMAGE__QUOTA_IMAGES="2",
        STRATUS_IMAGE__QUOTA_BYTES=str(QUOTA_BYTES),
    )
    yield srv
    stop_cloud(srv)


def test_image_count_quota(quota_server: Server) -> None:
    user = make_user(quota_server)
    with user.client() as c:
        first = create_image(c)
        create_image(c)
        resp = c.post("/v2/images", json={"name": "third"})
        assert resp.status_code == 413, resp.text
        assert resp.headers["content-type"].startswith("text/html")
        names = [i["name"] for i in c.get("/v2/images", params={"owner": user.project_id}).json()["images"]]
        assert "third" not in names
        # Deleting an image makes room again.
        assert c.delete(f"/v2/images/{first['id']}").status_code == 204
        assert c.post("/v2/images", json={"name": "third"}).status_code == 201


def test_image_count_quota_is_per_project(quota_server: Server) -> None:
    a, b = make_user(quota_server), make_user(quota_server)
    with a.client() as ca:
        create_image(ca)
        create_image(ca)
        assert ca.post("/v2/images", json={}).status_code == 413
    with b.client() as cb:
        create_image(cb)


def test_bytes_quota_with_content_length(quota_server: Server) -> None:
    user = make_user(quota_server)
    with user.client() as c:
        image = create_image(c)
        resp = upload(c, image["id"], os.urandom(QUOTA_BYTES + 1))
        assert resp.status_code == 413, resp.text
        got = show(c, image["id"])
        assert got["status"] == "killed", got
        assert got["size"] is None


def test_bytes_quota_chunked(quota_server: Server) -> None:
    user = make_user(quota_server)
    data = os.urandom(QUOTA_BYTES + 1)
    with user.client() as c:
        image = create_image(c)

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(data), 8192):
                yield data[i : i + 8192]

        resp = c.put(f"/v2/images/{image['id']}/file", content=chunks(), headers={"Content-Type": OCTET})
        assert resp.status_code == 413, resp.text
        assert show(c, image["id"])["status"] == "killed"
        assert not (quota_server.data_dir / "images" / image["id"]).exists()


def test_bytes_quota_counts_existing_images(quota_server: Server) -> None:
    user = make_user(quota_server)
    with user.client() as c:
        first = create_image(c)
        assert upload(c, first["id"], os.urandom(60_000)).status_code == 204
        second = create_image(c)
        resp = upload(c, second["id"], os.urandom(60_000))
        assert resp.status_code == 413, resp.text
        assert show(c, second["id"])["status"] == "killed"
        # Under the limit together: fine.
        assert c.delete(f"/v2/images/{second['id']}").status_code == 204
        third = create_image(c)
        assert upload(c, third["id"], os.urandom(40_000)).status_code == 204
        assert show(c, third["id"])["status"] == "active"


def test_bytes_quota_on_stage(quota_server: Server) -> None:
    user = make_user(quota_server)
    with user.client() as c:
        image = create_image(c)
        resp = c.put(
            f"/v2/images/{image['id']}/stage",
            content=os.urandom(QUOTA_BYTES + 1),
            headers={"Content-Type": OCTET},
        )
        assert resp.status_code == 413, resp.text
        assert show(c, image["id"])["status"] != "active"


def test_no_server_errors(quota_server: Server) -> None:
    assert "Traceback" not in quota_server.log.read_text(errors="replace")
