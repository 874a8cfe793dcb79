"""Unsafe or mislabelled disk images are refused, on upload and on import."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.functional.image.conftest import (
    OCTET,
    User,
    create_image,
    make_user,
    md5,
    openstack,
    openstack_json,
    qemu_img,
    show,
    unique,
    upload,
    virtual_size,
    wait_status,
    wait_task,
)


@pytest.fixture(scope="module")
def user(image_server: Server) -> User:
    return make_user(image_server)


@pytest.fixture()
def c(user: User) -> Iterator[httpx.Client]:
    with user.client() as client:
        yield client


def refused_upload(c: httpx.Client, data: bytes, disk_format: str) -> dict[str, object]:
    image = create_image(c, disk_format=disk_format)
    resp = upload(c, image["id"], data)
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    got = show(c, image["id"])
    assert got["status"] == "killed", got
    assert c.get(f"/v2/images/{image['id']}/file").status_code == 204
    return got


def test_backing_file_refused(c: httpx.Client, backing_qcow2: Path, image_server: Server) -> None:
    got = refused_upload(c, backing_qcow2.read_bytes(), "qcow2")
    assert not (image_server.data_dir / "images" / str(got["id"])).exists()


def test_external_data_file_refused(c: httpx.Client, data_file_qcow2: Path) -> None:
    refused_upload(c, data_file_qcow2.read_bytes(), "qcow2")


def test_random_bytes_declared_qcow2_refused(c: httpx.Client) -> None:
    refused_upload(c, os.urandom(70_000), "qcow2")


def test_qcow2_declared_raw_refused(c: httpx.Client, tiny_qcow2: Path) -> None:
    refused_upload(c, tiny_qcow2.read_bytes(), "raw")


def test_qcow2_declared_vmdk_refused(c: httpx.Client, tiny_qcow2: Path) -> None:
    refused_upload(c, tiny_qcow2.read_bytes(), "vmdk")


def test_valid_qcow2_accepted(c: httpx.Client, tiny_qcow2: Path) -> None:
    data = tiny_qcow2.read_bytes()
    image = create_image(c, disk_format="qcow2")
    assert upload(c, image["id"], data).status_code == 204
    got = show(c, image["id"])
    assert got["status"] == "active"
    assert got["checksum"] == md5(data)
    assert got["virtual_size"] == virtual_size(tiny_qcow2)


def test_qcow2_v2_accepted(c: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "v2.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", "compat=0.10", str(path), "8M")
    image = create_image(c, disk_format="qcow2")
    assert upload(c, image["id"], path.read_bytes()).status_code == 204
    assert show(c, image["id"])["virtual_size"] == 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("fmt", "qemu_fmt", "options"),
    [
        ("vmdk", "vmdk", ()),
        ("vhd", "vpc", ()),
        ("vhd", "vpc", ("-o", "subformat=fixed")),
        ("vhdx", "vhdx", ()),
        ("vdi", "vdi", ()),
    ],
)
def test_other_formats_accepted(
    c: httpx.Client, tmp_path: Path, fmt: str, qemu_fmt: str, options: tuple[str, ...]
) -> None:
    path = tmp_path / f"img.{fmt}"
    qemu_img("create", "-f", qemu_fmt, *options, str(path), "8M")
    image = create_image(c, disk_format=fmt)
    resp = upload(c, image["id"], path.read_bytes())
    assert resp.status_code == 204, resp.text
    got = show(c, image["id"])
    assert got["status"] == "active"
    want = virtual_size(path)
    if fmt == "vhd":
        # Glance reports the footer's current size (qemu-img may round a fixed VHD).
        want = struct.unpack(">Q", path.read_bytes()[-512:][48:56])[0]
    assert got["virtual_size"] == want, got


def test_vmdk_flat_descriptor_refused(c: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "flat.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(path), "8M")
    refused_upload(c, path.read_bytes(), "vmdk")


def test_vmdk_declared_raw_refused(c: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "s.vmdk"
    qemu_img("create", "-f", "vmdk", str(path), "8M")
    refused_upload(c, path.read_bytes(), "raw")


def test_differencing_vhd_refused(c: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "d.vhd"
    qemu_img("create", "-f", "vpc", str(path), "8M")
    data = bytearray(path.read_bytes())
    # Make it a differencing disk (type 4) in the header copy of the footer.
    data[60:64] = struct.pack(">I", 4)
    refused_upload(c, bytes(data), "vhd")


def test_qcow2_table_beyond_end_refused(c: httpx.Client, tiny_qcow2: Path) -> None:
    data = bytearray(tiny_qcow2.read_bytes())
    data[40:48] = struct.pack(">Q", len(data) * 16)  # L1 table offset
    refused_upload(c, bytes(data), "qcow2")


def test_backing_file_refused_chunked(c: httpx.Client, backing_qcow2: Path) -> None:
    """Without a Content-Length the data streams in; the verdict is the same."""
    data = backing_qcow2.read_bytes()
    image = create_image(c, disk_format="qcow2")

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 100):
            yield data[i : i + 100]

    resp = c.put(f"/v2/images/{image['id']}/file", content=chunks(), headers={"Content-Type": OCTET})
    assert resp.status_code == 400
    assert show(c, image["id"])["status"] == "killed"


def test_killed_image_cannot_be_uploaded_again(c: httpx.Client, backing_qcow2: Path, tiny_qcow2: Path) -> None:
    got = refused_upload(c, backing_qcow2.read_bytes(), "qcow2")
    resp = upload(c, str(got["id"]), tiny_qcow2.read_bytes())
    assert resp.status_code == 409
    assert show(c, str(got["id"]))["status"] == "killed"
    assert c.delete(f"/v2/images/{got['id']}").status_code == 204


@pytest.mark.parametrize("which", ["backing", "data_file", "random"])
def test_glance_direct_refuses_unsafe(
    c: httpx.Client, backing_qcow2: Path, data_file_qcow2: Path, which: str
) -> None:
    data = {
        "backing": backing_qcow2.read_bytes(),
        "data_file": data_file_qcow2.read_bytes(),
        "random": os.urandom(70_000),
    }[which]
    image = create_image(c, disk_format="qcow2")
    resp = c.put(f"/v2/images/{image['id']}/stage", content=data, headers={"Content-Type": OCTET})
    assert resp.status_code == 204, resp.text
    resp = c.post(f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-direct"}})
    assert resp.status_code == 202, resp.text
    task = wait_task(c, image["id"])
    assert task["status"] == "failure"
    assert task["message"]
    got = wait_status(c, image["id"], ("active", "killed", "queued"))
    assert got["status"] != "active"
    assert c.get(f"/v2/images/{image['id']}/file").status_code == 204


def test_web_download_refuses_unsafe(c: httpx.Client, backing_qcow2: Path, web) -> None:  # type: ignore[no-untyped-def]
    web.files["/unsafe.qcow2"] = backing_qcow2.read_bytes()
    image = create_image(c, disk_format="qcow2")
    resp = c.post(
        f"/v2/images/{image['id']}/import",
        json={"method": {"name": "web-download", "uri": web.url("/unsafe.qcow2")}},
    )
    assert resp.status_code == 202, resp.text
    assert wait_task(c, image["id"])["status"] == "failure"
    assert show(c, image["id"])["status"] != "active"


def test_cli_refuses_backing_file(user: User, backing_qcow2: Path) -> None:
    name = unique("unsafe")
    result = openstack(
        user.env(),
        "image", "create", "--file", str(backing_qcow2), "--disk-format", "qcow2",
        "--container-format", "bare", name,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "400" in result.stderr or "backing" in result.stderr, result.stderr
    # The CLI deletes its failed upload, or leaves it killed: never active.
    for image in openstack_json(user.env(), "image", "list", "--name", name):
        assert image["Status"] != "active"
