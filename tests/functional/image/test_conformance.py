"""Where the image API differed from Glance for the interop guideline's tests
(and for the clients that speak like them): the older JSON-patch media type,
an empty image id, and image data that is not its declared disk format
when the operator allows it (``image.require_format_match = false``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.image.conftest import (
    OCTET,
    make_user,
    server_log_has_no_traceback,
    unique,
)

V20_PATCH = "application/openstack-images-v2.0-json-patch"


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    """A cloud that stores image data whatever its declared format."""
    srv = start_cloud(
        tmp_path_factory.mktemp("stratus-image-lenient"),
        database,
        STRATUS_IMAGE__REQUIRE_FORMAT_MATCH="false",
    )
    yield srv
    server_log_has_no_traceback(srv)
    stop_cloud(srv)


def _create(c: httpx.Client, disk_format: str = "raw") -> str:
    body = {"name": unique("img"), "disk_format": disk_format, "container_format": "bare"}
    resp = c.post("/v2/images", json=body)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_patch_in_the_v2_0_media_type(image_server: Server) -> None:
    """Tempest's image client sends the v2.0 form: the operation as the key."""
    with make_user(image_server).client() as c:
        image = _create(c)
        ops = [
            {"replace": "/name", "value": "renamed"},
            {"add": "/flavour", "value": "mint"},
        ]
        resp = c.patch(
            f"/v2/images/{image}", content=_json(ops), headers={"Content-Type": V20_PATCH}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["name"] == "renamed" and resp.json()["flavour"] == "mint"
        resp = c.patch(
            f"/v2/images/{image}",
            content=_json([{"remove": "/flavour"}]),
            headers={"Content-Type": V20_PATCH},
        )
        assert resp.status_code == 200, resp.text
        assert "flavour" not in c.get(f"/v2/images/{image}").json()
        # Neither form of operation nor a made-up one: 400, not a 5xx.
        resp = c.patch(
            f"/v2/images/{image}",
            content=_json([{"rename": "/name", "value": "x"}]),
            headers={"Content-Type": V20_PATCH},
        )
        assert resp.status_code == 400


def test_an_empty_image_id_is_not_found(image_server: Server) -> None:
    with make_user(image_server).client() as c:
        _create(c)
        for method in ("GET", "DELETE"):
            resp = c.request(method, "/v2/images/")
            assert resp.status_code == 404, (method, resp.status_code, resp.text)
        assert c.get("/v2/images").status_code == 200


def test_data_not_of_its_format_when_the_operator_allows_it(
    lenient: Server, backing_qcow2: Path
) -> None:
    """Bytes that are not a qcow2 are stored under disk_format qcow2; an
    unsafe qcow2 (with a backing file) is still refused."""
    with make_user(lenient).client() as c:
        image = _create(c, "qcow2")
        data = os.urandom(3000)
        resp = c.put(f"/v2/images/{image}/file", content=data, headers={"Content-Type": OCTET})
        assert resp.status_code == 204, resp.text
        shown = c.get(f"/v2/images/{image}").json()
        assert shown["status"] == "active" and shown["size"] == len(data)
        assert c.get(f"/v2/images/{image}/file").content == data
        unsafe = _create(c, "qcow2")
        resp = c.put(
            f"/v2/images/{unsafe}/file",
            content=backing_qcow2.read_bytes(),
            headers={"Content-Type": OCTET},
        )
        assert resp.status_code == 400, resp.text
        assert "unsafe" in resp.text


def test_data_not_of_its_format_is_refused_by_default(image_server: Server) -> None:
    with make_user(image_server).client() as c:
        image = _create(c, "qcow2")
        resp = c.put(
            f"/v2/images/{image}/file", content=os.urandom(3000), headers={"Content-Type": OCTET}
        )
        assert resp.status_code == 400, resp.text
        assert "not the declared disk_format qcow2" in resp.text


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def test_list_filters_on_core_attributes_match_exactly(image_server: Server) -> None:
    """``?size=N`` (Tempest's listing by size) matches the size, not a property."""
    with make_user(image_server).client() as c:
        image = _create(c)
        data = os.urandom(2345)
        resp = c.put(f"/v2/images/{image}/file", content=data, headers={"Content-Type": OCTET})
        assert resp.status_code == 204, resp.text
        other = _create(c)
        c.put(f"/v2/images/{other}/file", content=b"x" * 100, headers={"Content-Type": OCTET})
        for query in (
            {"size": "2345"},
            {"virtual_size": "2345"},
            {"size": "2345", "min_disk": "0", "min_ram": "0"},
            {"os_hash_value": c.get(f"/v2/images/{image}").json()["os_hash_value"]},
        ):
            found = [i["id"] for i in c.get("/v2/images", params=query).json()["images"]]
            assert found == [image], query
        assert c.get("/v2/images", params={"size": "2346"}).json()["images"] == []
        assert c.get("/v2/images", params={"size": "big"}).status_code == 400
