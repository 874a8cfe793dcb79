"""Acceptance through the clients users run: the openstack CLI, the glance
CLI and openstacksdk."""

from __future__ import annotations

from pathlib import Path

import openstack as sdk
import pytest

from tests.conftest import Server
from tests.functional.image.conftest import (
    User,
    admin,
    glance,
    make_user,
    md5,
    openstack,
    openstack_json,
    sha512,
    unique,
    virtual_size,
)


@pytest.fixture(scope="module")
def owner(image_server: Server) -> User:
    return make_user(image_server)


def test_openstack_image_lifecycle(
    image_server: Server, owner: User, tiny_qcow2: Path, tmp_path: Path
) -> None:
    env = owner.env()
    data = tiny_qcow2.read_bytes()
    name = unique("tiny")
    created = openstack_json(
        env,
        "image", "create", "--file", str(tiny_qcow2), "--disk-format", "qcow2",
        "--container-format", "bare", name,
    )  # fmt: skip
    image_id = created["id"]
    shown = _flat(openstack_json(env, "image", "show", image_id))
    assert shown["status"] == "active"
    assert shown["checksum"] == md5(data)
    assert shown["size"] == len(data)
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == sha512(data)
    assert shown["virtual_size"] == virtual_size(tiny_qcow2) == 64 * 1024 * 1024
    assert shown["disk_format"] == "qcow2"
    assert shown["container_format"] == "bare"
    assert shown["owner"] == owner.project_id

    listed = openstack_json(env, "image", "list")
    assert any(i["ID"] == image_id and i["Name"] == name for i in listed)
    by_name = openstack_json(env, "image", "show", name)
    assert by_name["id"] == image_id

    openstack(env, "image", "set", "--property", "color=blue", "--tag", "t1", image_id)
    shown = openstack_json(env, "image", "show", image_id)
    props = shown.get("properties", {})
    assert props.get("color") == "blue" or shown.get("color") == "blue", shown
    assert "t1" in shown["tags"]

    openstack(env, "image", "unset", "--property", "color", "--tag", "t1", image_id)
    shown = openstack_json(env, "image", "show", image_id)
    assert "color" not in shown.get("properties", {}) and "color" not in shown
    assert "t1" not in shown["tags"]

    out = tmp_path / "out.qcow2"
    openstack(env, "image", "save", "--file", str(out), image_id)
    assert out.read_bytes() == data

    stored = image_server.data_dir / "images" / image_id
    assert stored.is_file()
    openstack(env, "image", "delete", image_id)
    result = openstack(env, "image", "show", image_id, check=False)
    assert result.returncode != 0
    assert (
        "404" in result.stderr
        or "No Image found" in result.stderr
        or "not found" in result.stderr.lower()
    )
    with owner.client() as c:
        assert c.get(f"/v2/images/{image_id}").status_code == 404
    assert not stored.exists()


def _share(a: User, tiny_qcow2: Path) -> str:
    """A creates a shared image with the CLI; its id."""
    image = openstack_json(
        a.env(),
        "image", "create", "--file", str(tiny_qcow2), "--disk-format", "qcow2",
        "--container-format", "bare", "--shared", unique("shared"),
    )  # fmt: skip
    return image["id"]  # type: ignore[no-any-return]


def test_openstack_image_set_accept(image_server: Server, tiny_qcow2: Path) -> None:
    """`openstack image set --accept` as the member project."""
    a, b = make_user(image_server), make_user(image_server)
    image_id = _share(a, tiny_qcow2)
    member = openstack_json(a.env(), "image", "add", "project", image_id, b.project_id)
    assert member["status"] == "pending"
    openstack(b.env(), "image", "set", "--accept", image_id)
    members = openstack_json(a.env(), "image", "member", "list", image_id)
    assert [(m["Member ID"], m["Status"]) for m in members] == [(b.project_id, "accepted")]
    assert any(i["ID"] == image_id for i in openstack_json(b.env(), "image", "list"))


def test_openstack_sharing(image_server: Server, tiny_qcow2: Path, tmp_path: Path) -> None:
    """Share with B (B accepts through the API), B sees and downloads; C cannot."""
    a, b, c = (make_user(image_server) for _ in range(3))
    data = tiny_qcow2.read_bytes()
    image_id = _share(a, tiny_qcow2)
    member = openstack_json(a.env(), "image", "add", "project", image_id, b.project_id)
    assert member["status"] == "pending"

    # Pending: B does not see it in its list yet.
    assert all(i["ID"] != image_id for i in openstack_json(b.env(), "image", "list"))
    with b.client() as hb:
        resp = hb.put(f"/v2/images/{image_id}/members/{b.project_id}", json={"status": "accepted"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "accepted"
    members = openstack_json(a.env(), "image", "member", "list", image_id)
    assert [(m["Member ID"], m["Status"]) for m in members] == [(b.project_id, "accepted")]

    assert any(i["ID"] == image_id for i in openstack_json(b.env(), "image", "list"))
    out = tmp_path / "b.qcow2"
    openstack(b.env(), "image", "save", "--file", str(out), image_id)
    assert out.read_bytes() == data

    # C is no member: it can neither see nor download the image.
    assert all(i["ID"] != image_id for i in openstack_json(c.env(), "image", "list"))
    assert openstack(c.env(), "image", "show", image_id, check=False).returncode != 0
    out_c = tmp_path / "c.qcow2"
    result = openstack(c.env(), "image", "save", "--file", str(out_c), image_id, check=False)
    assert result.returncode != 0
    assert not out_c.exists() or out_c.read_bytes() != data
    with c.client() as hc:
        assert hc.get(f"/v2/images/{image_id}").status_code == 404
        assert hc.get(f"/v2/images/{image_id}/file").status_code == 404
        assert hc.get(f"/v2/images/{image_id}/members").status_code == 404

    # B may not add members to A's image; C may not change B's membership.
    with b.client() as hb:
        resp = hb.post(f"/v2/images/{image_id}/members", json={"member": c.project_id})
        assert resp.status_code in (403, 404), resp.text
    with c.client() as hc:
        resp = hc.put(f"/v2/images/{image_id}/members/{b.project_id}", json={"status": "rejected"})
        assert resp.status_code in (403, 404), resp.text

    # Removing the member takes the image away from B.
    openstack(a.env(), "image", "remove", "project", image_id, b.project_id)
    assert all(i["ID"] != image_id for i in openstack_json(b.env(), "image", "list"))
    with b.client() as hb:
        assert hb.get(f"/v2/images/{image_id}/file").status_code == 404


def test_openstack_pending_member_cannot_be_accepted_by_owner(image_server: Server) -> None:
    """Only the member project decides its membership status."""
    a, b = make_user(image_server), make_user(image_server)
    with a.client() as ca:
        resp = ca.post(
            "/v2/images",
            json={
                "name": unique("m"),
                "visibility": "shared",
                "disk_format": "raw",
                "container_format": "bare",
            },
        )
        image_id = resp.json()["id"]
        assert (
            ca.post(f"/v2/images/{image_id}/members", json={"member": b.project_id}).status_code
            == 200
        )
        resp = ca.put(f"/v2/images/{image_id}/members/{b.project_id}", json={"status": "accepted"})
        assert resp.status_code == 403, resp.text
    with b.client() as cb:
        resp = cb.put(f"/v2/images/{image_id}/members/{b.project_id}", json={"status": "accepted"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "accepted"


def test_glance_cli_upload_and_download(owner: User, tiny_qcow2: Path, tmp_path: Path) -> None:
    env = owner.env()
    data = tiny_qcow2.read_bytes()
    result = glance(
        env,
        "image-create", "--name", unique("g"), "--disk-format", "qcow2",
        "--container-format", "bare", "--file", str(tiny_qcow2),
    )  # fmt: skip
    rows = _glance_table(result.stdout)
    image_id = rows["id"]
    assert rows["status"] == "active"
    assert rows["checksum"] == md5(data)
    out = tmp_path / "g.out"
    glance(env, "image-download", "--file", str(out), image_id)
    assert out.read_bytes() == data
    shown = _glance_table(glance(env, "image-show", image_id).stdout)
    assert shown["os_hash_value"] == sha512(data)
    glance(env, "image-delete", image_id)
    assert glance(env, "image-show", image_id, check=False).returncode != 0


def test_glance_cli_import_glance_direct(owner: User, tiny_qcow2: Path) -> None:
    env = owner.env()
    data = tiny_qcow2.read_bytes()
    result = glance(
        env,
        "image-create-via-import", "--name", unique("gd"), "--disk-format", "qcow2",
        "--container-format", "bare", "--import-method", "glance-direct",
        "--file", str(tiny_qcow2),
    )  # fmt: skip
    image_id = _glance_table(result.stdout)["id"]
    from tests.functional.image.conftest import wait_status

    with owner.client() as c:
        image = wait_status(c, image_id)
    assert image["status"] == "active"
    assert image["checksum"] == md5(data)
    assert image["virtual_size"] == 64 * 1024 * 1024


def test_glance_cli_error_is_readable(owner: User) -> None:
    result = glance(owner.env(), "image-show", "00000000-0000-0000-0000-000000000000", check=False)
    assert result.returncode != 0
    assert "404" in result.stderr or "No image found" in result.stderr, result.stderr


def test_openstacksdk_image(image_server: Server, owner: User, tiny_qcow2: Path) -> None:
    data = tiny_qcow2.read_bytes()
    conn = sdk.connect(
        auth_url=image_server.auth_url,
        username=owner.name,
        password=owner.password,
        project_name=owner.project_name,
        user_domain_name="Default",
        project_domain_name="Default",
        identity_api_version="3",
    )
    try:
        image = conn.image.create_image(
            name=unique("sdk"),
            filename=str(tiny_qcow2),
            disk_format="qcow2",
            container_format="bare",
            wait=True,
        )
        # The PUT upload returns the record made before the data; fetch it again.
        fetched = conn.image.get_image(image.id)
        assert fetched.status == "active"
        assert fetched.checksum == md5(data)
        resp = conn.image.download_image(fetched)  # checks the hash it is given
        got = resp.content if hasattr(resp, "content") else resp
        assert got == data
        assert any(i.id == image.id for i in conn.image.images())
        conn.image.delete_image(image.id, ignore_missing=False)
        assert conn.image.find_image(image.id) is None
    finally:
        conn.close()


def _flat(shown: dict) -> dict:
    """OSC shows non-core attributes under "properties"; put them at the top."""
    return {**shown.get("properties", {}), **shown}


def _glance_table(out: str) -> dict[str, str]:
    """The Property/Value table glance prints, as a dict."""
    rows: dict[str, str] = {}
    last = ""
    for line in out.splitlines():
        if line.startswith("|"):
            cells = [x.strip() for x in line.strip("|").split("|")]
            if len(cells) != 2 or cells[0] == "Property":
                continue
            if cells[0]:
                last = cells[0]
                rows[last] = cells[1]
            elif last:  # a long value wrapped onto the next line
                rows[last] += cells[1]
    return rows


def test_admin_sees_all_images_in_cli(image_server: Server, owner: User) -> None:
    with owner.client() as c:
        resp = c.post("/v2/images", json={"name": unique("adm"), "visibility": "private"})
        image_id = resp.json()["id"]
    env = image_server.env()
    assert admin(image_server).token
    shown = openstack_json(env, "image", "show", image_id)
    assert shown["owner"] == owner.project_id


def test_openstack_image_metadef(image_server: Server) -> None:
    """The metadata definitions catalogue through the openstack CLI (the
    error paths and visibility are in test_api, over HTTP: cheaper)."""
    env = admin(image_server).env()
    name = unique("OS::Cli::Test")
    created = openstack_json(
        env,
        "image", "metadef", "namespace", "create", "--display-name", "CLI test",
        "--description", "made by the CLI", "--private", name,
    )  # fmt: skip
    assert created["namespace"] == name
    assert created["visibility"] == "private"
    listed = openstack_json(env, "image", "metadef", "namespace", "list")
    assert name in [row["namespace"] for row in listed]
    obj = openstack_json(env, "image", "metadef", "object", "create", "--namespace", name, "Disk")
    assert obj["name"] == "Disk"
    prop = openstack_json(
        env,
        "image", "metadef", "property", "create", "--name", "hw_disk_bus", "--title", "Bus",
        "--type", "string", "--schema", '{"enum": ["virtio", "scsi"]}', name,
    )  # fmt: skip
    assert prop["name"] == "hw_disk_bus"
    shown = openstack_json(env, "image", "metadef", "namespace", "show", name)
    assert shown["display_name"] == "CLI test"
    assert shown["description"] == "made by the CLI"
    got = openstack_json(env, "image", "metadef", "property", "show", name, "hw_disk_bus")
    assert got["enum"] == ["virtio", "scsi"]
    assert got["title"] == "Bus"
    openstack(env, "image", "metadef", "namespace", "delete", name)
    gone = openstack(env, "image", "metadef", "namespace", "show", name, check=False)
    assert gone.returncode != 0
    assert "404" in gone.stderr or "not found" in gone.stderr.lower()
