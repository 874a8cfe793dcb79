"""The Glance v2 API in detail, over raw HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import Server
from tests.functional.image.conftest import (
    OCTET,
    User,
    active_image,
    admin,
    create_image,
    make_user,
    md5,
    patch,
    sha512,
    show,
    unique,
    upload,
)


@pytest.fixture(scope="module")
def member(image_server: Server) -> User:
    return make_user(image_server)


@pytest.fixture()
def c(member: User) -> Iterator[httpx.Client]:
    with member.client() as client:
        yield client


@pytest.fixture()
def ac(image_server: Server) -> Iterator[httpx.Client]:
    with admin(image_server).client() as client:
        yield client


# -- discovery and schemas -------------------------------------------------------------------


def test_version_discovery(image_server: Server) -> None:
    resp = httpx.get(f"{image_server.url}/image/")
    assert resp.status_code == 300
    assert resp.headers.get("x-openstack-request-id")
    versions = resp.json()["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert [v["id"] for v in current] == ["v2.16"]
    href = current[0]["links"][0]["href"]
    assert href == f"{image_server.url}/image/v2/"
    assert {"v2.0", "v2.1", "v2.15"} <= {v["id"] for v in versions}


def test_versions_list(image_server: Server) -> None:
    resp = httpx.get(f"{image_server.url}/image/versions")
    assert resp.status_code == 200
    assert any(v["id"] == "v2.16" for v in resp.json()["versions"])


@pytest.mark.parametrize("name", ["image", "images", "member", "members", "task", "tasks"])
def test_schemas(c: httpx.Client, name: str) -> None:
    resp = c.get(f"/v2/schemas/{name}")
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc.get("name") == name or name in str(doc.get("name", "")), doc


def test_image_schema_allows_string_properties(c: httpx.Client) -> None:
    doc = c.get("/v2/schemas/image").json()
    assert doc["additionalProperties"] == {"type": "string"}
    props = doc["properties"]
    for key in ("id", "name", "status", "visibility", "checksum", "os_hash_value", "disk_format"):
        assert key in props
    assert props["status"].get("readOnly") is True


def test_unknown_schema_is_404(c: httpx.Client) -> None:
    assert c.get("/v2/schemas/nope").status_code == 404


def test_import_info(c: httpx.Client) -> None:
    resp = c.get("/v2/info/import")
    assert resp.status_code == 200
    assert set(resp.json()["import-methods"]["value"]) == {"glance-direct", "web-download"}


def test_unauthenticated_is_401(image_server: Server) -> None:
    resp = httpx.get(f"{image_server.url}/image/v2/images")
    assert resp.status_code == 401
    resp = httpx.get(f"{image_server.url}/image/v2/images", headers={"X-Auth-Token": "bogus"})
    assert resp.status_code == 401


# -- create ---------------------------------------------------------------------------------------


def test_create(c: httpx.Client, member: User) -> None:
    resp = c.post(
        "/v2/images",
        json={
            "name": "created",
            "disk_format": "qcow2",
            "container_format": "bare",
            "hw_disk_bus": "scsi",
            "min_ram": 512,
            "tags": ["a", "b"],
        },
    )
    assert resp.status_code == 201, resp.text
    image = resp.json()
    assert image["status"] == "queued"
    assert image["hw_disk_bus"] == "scsi"
    assert "properties" not in image
    assert image["visibility"] == "shared"
    assert image["owner"] == member.project_id
    assert image["min_ram"] == 512
    assert sorted(image["tags"]) == ["a", "b"]
    assert image["size"] is None and image["checksum"] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert resp.headers["location"].endswith(f"/v2/images/{image['id']}")
    assert show(c, image["id"])["hw_disk_bus"] == "scsi"


def test_create_with_id(c: httpx.Client) -> None:
    image_id = "7b8fae36-3b3e-4d6d-9a67-0a9e5e5c4d21"
    if c.get(f"/v2/images/{image_id}").status_code == 200:
        c.delete(f"/v2/images/{image_id}")
    assert create_image(c, id=image_id)["id"] == image_id
    assert c.post("/v2/images", json={"id": image_id}).status_code == 409
    assert c.post("/v2/images", json={"id": "not-a-uuid"}).status_code == 400


@pytest.mark.parametrize(
    "attr", ["status", "checksum", "size", "created_at", "os_hash_value", "locations"]
)
def test_create_read_only_attribute_403(c: httpx.Client, attr: str) -> None:
    value: object = 5 if attr == "size" else ([] if attr == "locations" else "x")
    resp = c.post("/v2/images", json={"name": "ro", attr: value})
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "body",
    [
        {"disk_format": "floppy"},
        {"container_format": "zip"},
        {"visibility": "everyone"},
        {"min_ram": -1},
        {"min_disk": "1"},
        {"protected": "yes"},
        {"name": "x" * 256},
        {"custom": 5},
        {"tags": "notalist"},
    ],
)
def test_create_invalid_values_400(c: httpx.Client, body: dict[str, object]) -> None:
    resp = c.post("/v2/images", json=body)
    assert resp.status_code == 400, resp.text


def test_create_bad_json_400(c: httpx.Client) -> None:
    resp = c.post("/v2/images", content=b"{nope", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    resp = c.post("/v2/images", json=["a", "list"])
    assert resp.status_code == 400


def test_create_reserved_property_403(c: httpx.Client) -> None:
    resp = c.post("/v2/images", json={"os_glance_foo": "x"})
    assert resp.status_code == 403


def test_non_admin_public_403_admin_ok(c: httpx.Client, ac: httpx.Client) -> None:
    assert c.post("/v2/images", json={"name": "pub", "visibility": "public"}).status_code == 403
    image = create_image(c)
    assert (
        patch(
            c, image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}]
        ).status_code
        == 403
    )
    assert show(c, image["id"])["visibility"] == "shared"
    resp = patch(ac, image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}])
    assert resp.status_code == 200, resp.text
    assert resp.json()["visibility"] == "public"
    created = create_image(ac, visibility="public")
    assert created["visibility"] == "public"


def test_non_admin_cannot_set_another_owner(
    c: httpx.Client, ac: httpx.Client, member: User
) -> None:
    other = make_user(member.server)
    assert c.post("/v2/images", json={"owner": other.project_id}).status_code == 403
    image = create_image(ac, owner=other.project_id)
    assert image["owner"] == other.project_id
    with other.client() as oc:
        assert show(oc, image["id"])["owner"] == other.project_id


def test_reader_cannot_create(image_server: Server) -> None:
    reader = make_user(image_server, role="reader")
    with reader.client() as rc:
        assert rc.post("/v2/images", json={"name": "r"}).status_code == 403
        assert rc.get("/v2/images").status_code == 200


# -- update (JSON patch) ------------------------------------------------------------------------------


def test_patch_requires_content_type(c: httpx.Client) -> None:
    image = create_image(c)
    ops = [{"op": "replace", "path": "/name", "value": "n"}]
    resp = c.patch(f"/v2/images/{image['id']}", json=ops)
    assert resp.status_code == 415, resp.text
    resp = patch(c, image["id"], ops)
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "n"


def test_patch_add_replace_remove(c: httpx.Client) -> None:
    image = create_image(c, color="red")
    resp = patch(c, image["id"], [{"op": "add", "path": "/color", "value": "blue"}])
    assert resp.status_code == 200, resp.text
    assert resp.json()["color"] == "blue"
    resp = patch(
        c,
        image["id"],
        [
            {"op": "add", "path": "/shape", "value": "round"},
            {"op": "replace", "path": "/color", "value": "green"},
            {"op": "replace", "path": "/min_disk", "value": 3},
        ],
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["shape"], body["color"], body["min_disk"]) == ("round", "green", 3)
    resp = patch(c, image["id"], [{"op": "remove", "path": "/shape"}])
    assert resp.status_code == 200, resp.text
    assert "shape" not in resp.json()
    assert "shape" not in show(c, image["id"])
    # Removing or replacing what is not there is a conflict.
    assert patch(c, image["id"], [{"op": "remove", "path": "/shape"}]).status_code == 409
    assert (
        patch(c, image["id"], [{"op": "replace", "path": "/nothing", "value": "x"}]).status_code
        == 409
    )


def test_patch_is_atomic(c: httpx.Client) -> None:
    image = create_image(c, name="before")
    resp = patch(
        c,
        image["id"],
        [
            {"op": "replace", "path": "/name", "value": "after"},
            {"op": "replace", "path": "/size", "value": 1},
        ],
    )
    assert resp.status_code == 403
    assert show(c, image["id"])["name"] == "before"


@pytest.mark.parametrize("path", ["/a/b", "/", "", "name", "/name/"])
def test_patch_bad_path_400(c: httpx.Client, path: str) -> None:
    image = create_image(c)
    resp = patch(c, image["id"], [{"op": "add", "path": path, "value": "x"}])
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "move", "path": "/name", "from": "/x"}],
        [{"op": "add", "path": "/name"}],
        [{"path": "/name", "value": "x"}],
        {"op": "add", "path": "/name", "value": "x"},
        [{"op": "replace", "path": "/visibility", "value": "nope"}],
        [{"op": "add", "path": "/custom", "value": 3}],
    ],
)
def test_patch_bad_operations_400(c: httpx.Client, ops: object) -> None:
    image = create_image(c)
    resp = patch(c, image["id"], ops)  # type: ignore[arg-type]
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize(
    "path", ["/size", "/status", "/checksum", "/id", "/os_glance_x", "/created_at"]
)
def test_patch_read_only_403(c: httpx.Client, path: str) -> None:
    image = create_image(c)
    resp = patch(c, image["id"], [{"op": "replace", "path": path, "value": "1"}])
    assert resp.status_code == 403, resp.text


def test_patch_core_remove_403(c: httpx.Client) -> None:
    image = create_image(c)
    assert patch(c, image["id"], [{"op": "remove", "path": "/name"}]).status_code == 403


def test_patch_disk_format_only_while_queued(c: httpx.Client) -> None:
    image = active_image(c)
    resp = patch(c, image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert resp.status_code == 403
    assert show(c, image["id"])["disk_format"] == "raw"


def test_patch_tags(c: httpx.Client) -> None:
    image = create_image(c)
    resp = patch(c, image["id"], [{"op": "replace", "path": "/tags", "value": ["x", "y", "x"]}])
    assert resp.status_code == 200
    assert sorted(resp.json()["tags"]) == ["x", "y"]


def test_other_project_cannot_patch_or_delete(image_server: Server, c: httpx.Client) -> None:
    image = create_image(c, visibility="community")
    other = make_user(image_server)
    with other.client() as oc:
        assert show(oc, image["id"])["id"] == image["id"]
        resp = patch(oc, image["id"], [{"op": "replace", "path": "/name", "value": "x"}])
        assert resp.status_code in (403, 404), resp.text
        assert oc.delete(f"/v2/images/{image['id']}").status_code in (403, 404)
        assert oc.put(f"/v2/images/{image['id']}/tags/t").status_code in (403, 404)
        assert upload(oc, image["id"], b"x").status_code in (403, 404)
    assert show(c, image["id"])["status"] == "queued"


# -- protection, deactivation, delete ------------------------------------------------------------------


def test_protected_image_cannot_be_deleted(c: httpx.Client) -> None:
    image = create_image(c, protected=True)
    resp = c.delete(f"/v2/images/{image['id']}")
    assert resp.status_code == 403
    assert show(c, image["id"])["protected"] is True
    assert (
        patch(c, image["id"], [{"op": "replace", "path": "/protected", "value": False}]).status_code
        == 200
    )
    assert c.delete(f"/v2/images/{image['id']}").status_code == 204
    assert c.get(f"/v2/images/{image['id']}").status_code == 404
    assert c.delete(f"/v2/images/{image['id']}").status_code == 404


def test_deactivate_reactivate(c: httpx.Client, ac: httpx.Client) -> None:
    data = os.urandom(3000)
    image = active_image(c, data)
    image_id = image["id"]
    # The owner's members may deactivate and reactivate (Glance's defaults);
    # only an admin downloads a deactivated image.
    assert c.post(f"/v2/images/{image_id}/actions/deactivate").status_code == 204
    assert show(c, image_id)["status"] == "deactivated"
    assert c.get(f"/v2/images/{image_id}/file").status_code == 403
    resp = ac.get(f"/v2/images/{image_id}/file")
    assert resp.status_code == 200 and resp.content == data
    assert c.post(f"/v2/images/{image_id}/actions/reactivate").status_code == 204
    assert show(c, image_id)["status"] == "active"
    assert ac.post(f"/v2/images/{image_id}/actions/deactivate").status_code == 204
    assert ac.post(f"/v2/images/{image_id}/actions/reactivate").status_code == 204
    resp = c.get(f"/v2/images/{image_id}/file")
    assert resp.status_code == 200 and resp.content == data


def test_deactivate_queued_image_403(c: httpx.Client, ac: httpx.Client) -> None:
    image = create_image(c)
    assert ac.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 403
    assert ac.post(f"/v2/images/{image['id']}/actions/reactivate").status_code == 403


# -- tags -------------------------------------------------------------------------------------------------


def test_tags(c: httpx.Client) -> None:
    image = create_image(c)
    image_id = image["id"]
    assert c.put(f"/v2/images/{image_id}/tags/alpha").status_code == 204
    assert c.put(f"/v2/images/{image_id}/tags/alpha").status_code == 204
    assert c.put(f"/v2/images/{image_id}/tags/beta").status_code == 204
    assert sorted(show(c, image_id)["tags"]) == ["alpha", "beta"]
    assert c.delete(f"/v2/images/{image_id}/tags/alpha").status_code == 204
    assert show(c, image_id)["tags"] == ["beta"]
    assert c.delete(f"/v2/images/{image_id}/tags/alpha").status_code == 404
    assert c.put("/v2/images/00000000-0000-0000-0000-000000000000/tags/x").status_code == 404


# -- list ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listing(image_server: Server) -> tuple[User, str, list[dict[str, object]]]:
    """A fresh project with five images to filter and page through."""
    user = make_user(image_server)
    mark = unique("lst")
    made = []
    with user.client() as c:
        made.append(active_image(c, b"a" * 10, name=f"{mark}-c", flavor=mark, tags=["red"]))
        made.append(active_image(c, b"b" * 100, name=f"{mark}-a", tags=["red", "blue"]))
        made.append(active_image(c, b"c" * 1000, name=f"{mark}-e", disk_format="ami"))
        made.append(create_image(c, name=f"{mark}-b", visibility="private"))
        made.append(create_image(c, name=f"{mark}-d", flavor=mark))
    return user, mark, made


def _ids(resp: httpx.Response) -> set[str]:
    assert resp.status_code == 200, resp.text
    return {i["id"] for i in resp.json()["images"]}


def test_list_filters(listing: tuple[User, str, list[dict[str, object]]]) -> None:
    user, mark, made = listing
    ids = [str(i["id"]) for i in made]
    with user.client() as c:
        assert _ids(c.get("/v2/images", params={"owner": user.project_id})) == set(ids)
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "name": f"{mark}-a"})
        ) == {ids[1]}
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "name": f"in:{mark}-a,{mark}-e"})
        ) == {ids[1], ids[2]}
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "status": "active"})
        ) == set(ids[:3])
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "status": "queued"})
        ) == set(ids[3:])
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "visibility": "private"})
        ) == {ids[3]}
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "visibility": "shared"})
        ) == set(ids) - {ids[3]}
        assert _ids(c.get("/v2/images", params={"owner": user.project_id})) == set(ids)
        assert _ids(c.get("/v2/images", params={"owner": user.project_id, "tag": "red"})) == {
            ids[0],
            ids[1],
        }
        assert _ids(
            c.get(
                "/v2/images", params=[("owner", user.project_id), ("tag", "red"), ("tag", "blue")]
            )
        ) == {ids[1]}
        assert _ids(c.get("/v2/images", params={"owner": user.project_id, "size_min": 50})) == {
            ids[1],
            ids[2],
        }
        assert _ids(c.get("/v2/images", params={"owner": user.project_id, "size_max": 100})) == {
            ids[0],
            ids[1],
        }
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "size_min": 50, "size_max": 500})
        ) == {ids[1]}
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "id": f"in:{ids[0]},{ids[4]}"})
        ) == {ids[0], ids[4]}
        assert _ids(c.get("/v2/images", params={"owner": user.project_id, "id": ids[2]})) == {
            ids[2]
        }
        assert _ids(c.get("/v2/images", params={"owner": user.project_id, "flavor": mark})) == {
            ids[0],
            ids[4],
        }
        assert _ids(
            c.get("/v2/images", params={"owner": user.project_id, "disk_format": "ami"})
        ) == {ids[2]}
        assert _ids(
            c.get(
                "/v2/images", params={"owner": user.project_id, "flavor": mark, "status": "active"}
            )
        ) == {ids[0]}
        assert (
            _ids(c.get("/v2/images", params={"owner": user.project_id, "name": "no-such-name"}))
            == set()
        )


def test_list_bad_filters_400(c: httpx.Client) -> None:
    for params in (
        {"visibility": "everyone"},
        {"sort_key": "nope"},
        {"sort_dir": "up"},
        {"sort": "name:sideways"},
        {"limit": "-1"},
        {"limit": "x"},
        {"size_min": "big"},
        {"marker": "00000000-0000-0000-0000-000000000000"},
        {"created_at": "soon"},
    ):
        resp = c.get("/v2/images", params=params)
        assert resp.status_code == 400, (params, resp.status_code, resp.text)


def _names(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [i["name"] for i in resp.json()["images"]]


def test_list_sort(listing: tuple[User, str, list[dict[str, object]]]) -> None:
    user, mark, _ = listing
    want = [f"{mark}-{x}" for x in "abcde"]
    with user.client() as c:
        assert (
            _names(
                c.get(
                    "/v2/images",
                    params={"owner": user.project_id, "sort_key": "name", "sort_dir": "asc"},
                )
            )
            == want
        )
        assert (
            _names(
                c.get(
                    "/v2/images",
                    params={"owner": user.project_id, "sort_key": "name", "sort_dir": "desc"},
                )
            )
            == want[::-1]
        )
        assert (
            _names(c.get("/v2/images", params={"owner": user.project_id, "sort": "name:asc"}))
            == want
        )
        assert (
            _names(c.get("/v2/images", params={"owner": user.project_id, "sort": "name:desc"}))
            == want[::-1]
        )
        # Default: newest first.
        assert _names(c.get("/v2/images", params={"owner": user.project_id})) == [
            f"{mark}-{x}" for x in "dbeac"
        ]
        by_size = _names(
            c.get("/v2/images", params={"owner": user.project_id, "sort": "size:desc,name:asc"})
        )
        assert by_size[:3] == [f"{mark}-e", f"{mark}-a", f"{mark}-c"]


def _walk(c: httpx.Client, first: str, params: dict[str, object]) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    resp = c.get(first, params=params)
    pages = 0
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += body["images"]
        pages += 1
        assert pages < 20, "pagination does not end"
        if "next" not in body:
            return seen
        assert body["next"].startswith("/v2/images?"), body["next"]
        resp = c.get(urljoin(f"{c.base_url}/", body["next"].lstrip("/")))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort_key": "name", "sort_dir": "asc"},
        {"sort": "name:desc"},
        {"sort_key": "size", "sort_dir": "asc"},
        {"sort_key": "size", "sort_dir": "desc"},
        {"sort": "status:asc,size:desc"},
        {"sort_key": "created_at", "sort_dir": "asc"},
    ],
)
def test_pagination(
    listing: tuple[User, str, list[dict[str, object]]], params: dict[str, object]
) -> None:
    user, _, made = listing
    with user.client() as c:
        full = c.get("/v2/images", params={**params, "owner": user.project_id}).json()["images"]
        pages = _walk(c, "/v2/images", {**params, "owner": user.project_id, "limit": 2})
    ids = [i["id"] for i in pages]
    assert len(ids) == len(set(ids)), "duplicates across pages"
    assert set(ids) == {i["id"] for i in made}
    assert ids == [i["id"] for i in full]


def test_pagination_next_keeps_filters(listing: tuple[User, str, list[dict[str, object]]]) -> None:
    user, mark, made = listing
    with user.client() as c:
        pages = _walk(c, "/v2/images", {"status": "active", "owner": user.project_id, "limit": 1})
    assert {i["id"] for i in pages} == {i["id"] for i in made[:3]}


def test_get_by_name_is_404(listing: tuple[User, str, list[dict[str, object]]]) -> None:
    user, mark, _ = listing
    with user.client() as c:
        assert c.get(f"/v2/images/{mark}-a").status_code == 404


def test_list_hides_other_projects_private(
    listing: tuple[User, str, list[dict[str, object]]], c: httpx.Client, ac: httpx.Client
) -> None:
    user, mark, made = listing
    assert not _ids(c.get("/v2/images", params={"owner": user.project_id}))
    assert c.get(f"/v2/images/{made[3]['id']}").status_code == 404
    assert c.get(f"/v2/images/{made[0]['id']}").status_code == 404
    # The admin sees everything.
    assert _ids(ac.get("/v2/images", params={"owner": user.project_id, "limit": 100})) == {
        i["id"] for i in made
    }


def test_community_and_hidden(c: httpx.Client, image_server: Server) -> None:
    community = create_image(c, visibility="community")
    hidden = create_image(c, os_hidden=True)
    other = make_user(image_server)
    with other.client() as oc:
        assert community["id"] not in _ids(oc.get("/v2/images"))
        assert community["id"] in _ids(oc.get("/v2/images", params={"visibility": "community"}))
        assert show(oc, community["id"])["visibility"] == "community"
    assert hidden["id"] not in _ids(c.get("/v2/images"))
    assert hidden["id"] in _ids(c.get("/v2/images", params={"os_hidden": "true"}))


# -- data ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blob(image_server: Server, member: User) -> tuple[str, bytes]:
    data = os.urandom(100_000)
    with member.client() as c:
        return str(active_image(c, data)["id"]), data


def test_download_full_has_content_md5(c: httpx.Client, blob: tuple[str, bytes]) -> None:
    image_id, data = blob
    resp = c.get(f"/v2/images/{image_id}/file")
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["content-md5"] == md5(data) == show(c, image_id)["checksum"]
    assert resp.headers["content-type"] == OCTET
    assert int(resp.headers["content-length"]) == len(data)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 99_999),
        ("bytes=-5", 99_995, 99_999),
        ("bytes=99990-200000", 99_990, 99_999),
        ("bytes=-200000", 0, 99_999),
    ],
)
def test_download_range(
    c: httpx.Client, blob: tuple[str, bytes], header: str, start: int, end: int
) -> None:
    image_id, data = blob
    resp = c.get(f"/v2/images/{image_id}/file", headers={"Range": header})
    assert resp.status_code == 206, resp.text
    assert resp.content == data[start : end + 1]
    assert resp.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"


@pytest.mark.parametrize("header", ["bytes=100000-", "bytes=200000-200010"])
def test_download_range_not_satisfiable(
    c: httpx.Client, blob: tuple[str, bytes], header: str
) -> None:
    image_id, data = blob
    resp = c.get(f"/v2/images/{image_id}/file", headers={"Range": header})
    assert resp.status_code == 416
    assert resp.headers.get("content-range") == f"bytes */{len(data)}"


def test_download_without_data_204(c: httpx.Client) -> None:
    image = create_image(c)
    resp = c.get(f"/v2/images/{image['id']}/file")
    assert resp.status_code == 204
    assert resp.content == b""


def test_upload_to_active_409(c: httpx.Client, blob: tuple[str, bytes]) -> None:
    image_id, data = blob
    resp = upload(c, image_id, b"other data")
    assert resp.status_code == 409
    assert c.get(f"/v2/images/{image_id}/file").content == data


def test_upload_without_disk_format_400(c: httpx.Client) -> None:
    resp = c.post("/v2/images", json={"name": "nofmt"})
    image_id = resp.json()["id"]
    assert upload(c, image_id, b"data").status_code == 400
    assert show(c, image_id)["status"] == "queued"
    # Once the formats are set, the upload works.
    resp = patch(
        c,
        image_id,
        [
            {"op": "add", "path": "/disk_format", "value": "raw"},
            {"op": "add", "path": "/container_format", "value": "bare"},
        ],
    )
    assert resp.status_code == 200, resp.text
    assert upload(c, image_id, b"data").status_code == 204
    assert show(c, image_id)["status"] == "active"


def test_upload_wrong_content_type_415(c: httpx.Client) -> None:
    image = create_image(c)
    resp = c.put(
        f"/v2/images/{image['id']}/file", content=b"x", headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 415
    assert show(c, image["id"])["status"] == "queued"


def put_chunked(c: httpx.Client, image_id: str, data: bytes, step: int) -> httpx.Response:
    """Upload ``data`` with chunked transfer encoding, ``step`` bytes a chunk."""

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), step):
            yield data[i : i + step]

    return c.put(f"/v2/images/{image_id}/file", content=chunks(), headers={"Content-Type": OCTET})


def test_upload_chunked(c: httpx.Client) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)
    image = create_image(c)
    resp = put_chunked(c, image["id"], data, 65536)
    assert resp.status_code == 204, resp.text
    got = show(c, image["id"])
    assert (got["status"], got["size"], got["checksum"]) == ("active", len(data), md5(data))
    assert got["virtual_size"] == len(data)
    assert c.get(f"/v2/images/{image['id']}/file").content == data


def test_big_upload_and_ranges(c: httpx.Client) -> None:
    """Several pieces of the upload path and an O_DIRECT download: every byte
    and both digests right, and ranges at odd offsets across read chunks."""
    data = os.urandom(21 * 1024 * 1024 + 4099)
    image = create_image(c)
    resp = put_chunked(c, image["id"], data, 1_000_003)
    assert resp.status_code == 204, resp.text
    got = show(c, image["id"])
    assert (got["status"], got["size"], got["checksum"]) == ("active", len(data), md5(data))
    assert (got["os_hash_algo"], got["os_hash_value"]) == ("sha512", sha512(data))
    assert c.get(f"/v2/images/{image['id']}/file").content == data
    mib = 1024 * 1024
    for start, end in [
        (4 * mib - 3, 4 * mib + 2),
        (1, 9 * mib + 1),
        (len(data) - 5000, len(data) - 1),
    ]:
        resp = c.get(f"/v2/images/{image['id']}/file", headers={"Range": f"bytes={start}-{end}"})
        assert resp.status_code == 206
        assert resp.content == data[start : end + 1]


def test_empty_upload(c: httpx.Client) -> None:
    image = create_image(c)
    assert upload(c, image["id"], b"").status_code == 204
    got = show(c, image["id"])
    assert (got["status"], got["size"], got["checksum"]) == ("active", 0, md5(b""))
    resp = c.get(f"/v2/images/{image['id']}/file")
    assert resp.status_code == 200 and resp.content == b""


def test_upload_unknown_image_404(c: httpx.Client) -> None:
    assert upload(c, "00000000-0000-0000-0000-000000000000", b"x").status_code == 404


def test_stage_then_upload_conflicts(c: httpx.Client) -> None:
    image = create_image(c)
    resp = c.put(f"/v2/images/{image['id']}/stage", content=b"abc", headers={"Content-Type": OCTET})
    assert resp.status_code == 204
    assert show(c, image["id"])["status"] == "uploading"
    assert upload(c, image["id"], b"abc").status_code == 409


def test_delete_image_with_data_removes_file(image_server: Server, c: httpx.Client) -> None:
    image = active_image(c, b"to be deleted")
    path = image_server.data_dir / "images" / image["id"]
    assert path.read_bytes() == b"to be deleted"
    assert c.delete(f"/v2/images/{image['id']}").status_code == 204
    assert not path.exists()
    assert c.get(f"/v2/images/{image['id']}/file").status_code == 404


# -- members over HTTP ---------------------------------------------------------------------------------------


def test_members_need_shared_visibility(c: httpx.Client, image_server: Server) -> None:
    other = make_user(image_server)
    image = create_image(c, visibility="private")
    resp = c.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id})
    assert resp.status_code == 403
    assert (
        patch(
            c, image["id"], [{"op": "replace", "path": "/visibility", "value": "shared"}]
        ).status_code
        == 200
    )
    resp = c.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "pending"
    assert (
        c.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id}).status_code
        == 409
    )
    resp = c.get(f"/v2/images/{image['id']}/members/{other.project_id}")
    assert resp.status_code == 200 and resp.json()["member_id"] == other.project_id
    with other.client() as oc:
        # A pending member may look the image up by id, but does not list it.
        assert show(oc, image["id"])["id"] == image["id"]
        assert image["id"] not in _ids(oc.get("/v2/images"))
        assert image["id"] in _ids(oc.get("/v2/images", params={"member_status": "pending"}))
        resp = oc.put(
            f"/v2/images/{image['id']}/members/{other.project_id}", json={"status": "bogus"}
        )
        assert resp.status_code == 400
        resp = oc.put(
            f"/v2/images/{image['id']}/members/{other.project_id}", json={"status": "rejected"}
        )
        assert resp.status_code == 200
        assert image["id"] not in _ids(oc.get("/v2/images"))


def test_member_update_accepts_member_field(c: httpx.Client, image_server: Server) -> None:
    """openstacksdk sends {"member": ..., "status": ...} to update a membership;
    Glance reads the status and ignores the rest."""
    other = make_user(image_server)
    image = create_image(c)
    assert (
        c.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id}).status_code
        == 200
    )
    with other.client() as oc:
        resp = oc.put(
            f"/v2/images/{image['id']}/members/{other.project_id}",
            json={"member": other.project_id, "status": "accepted"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "accepted"


# -- cross-cutting ---------------------------------------------------------------------------------------------


def test_errors_are_html_and_carry_request_id(c: httpx.Client) -> None:
    resp = c.get("/v2/images/00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "404 Not Found" in resp.text
    assert resp.headers["x-openstack-request-id"].startswith("req-")


def test_unknown_route_and_method(c: httpx.Client) -> None:
    assert c.get("/v2/nothing").status_code == 404
    assert c.request("PUT", "/v2/images").status_code == 405


def test_tasks_listing(c: httpx.Client, ac: httpx.Client) -> None:
    assert c.get("/v2/tasks").status_code == 403
    assert ac.get("/v2/tasks").status_code == 200
    assert c.get("/v2/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.fixture(autouse=True)
def _every_response_has_request_id_and_no_500(c: httpx.Client, ac: httpx.Client) -> Iterator[None]:
    """Every response seen by the clients above has a request id and is not a 5xx."""
    seen: list[httpx.Response] = []
    for client in (c, ac):
        client.event_hooks["response"].append(seen.append)
    yield
    for resp in seen:
        assert resp.headers.get("x-openstack-request-id"), resp.request.url
        assert resp.status_code < 500, (
            f"{resp.request.method} {resp.request.url}: {resp.status_code}"
        )


# -- limits, deletion, id reuse -------------------------------------------------------------------


def test_too_many_properties_413(c: httpx.Client) -> None:
    """Glance answers 413 when an image passes its property or tag limit."""
    props = {f"p{i}": "v" for i in range(129)}
    resp = c.post("/v2/images", json=props)
    assert resp.status_code == 413, resp.status_code
    resp = c.post("/v2/images", json={"tags": [f"t{i}" for i in range(129)]})
    assert resp.status_code == 413, resp.status_code


def test_delete_image_with_import_task(c: httpx.Client) -> None:
    from tests.functional.image.conftest import wait_task

    image = create_image(c)
    resp = c.put(
        f"/v2/images/{image['id']}/stage", content=b"staged", headers={"Content-Type": OCTET}
    )
    assert resp.status_code == 204
    assert (
        c.post(
            f"/v2/images/{image['id']}/import", json={"method": {"name": "glance-direct"}}
        ).status_code
        == 202
    )
    wait_task(c, image["id"])
    assert c.delete(f"/v2/images/{image['id']}").status_code == 204
    assert c.get(f"/v2/images/{image['id']}").status_code == 404


def test_deleted_image_id_cannot_be_reused(
    c: httpx.Client, ac: httpx.Client, image_server: Server
) -> None:
    """Glance keeps deleted image records so that an id is never reused
    (OSSN-0075): another project must not take over a deleted image's id,
    nor inherit its members."""
    trusting = make_user(image_server)
    image = create_image(c)
    image_id = image["id"]
    assert (
        c.post(f"/v2/images/{image_id}/members", json={"member": trusting.project_id}).status_code
        == 200
    )
    with trusting.client() as tc:
        assert (
            tc.put(
                f"/v2/images/{image_id}/members/{trusting.project_id}", json={"status": "accepted"}
            ).status_code
            == 200
        )
    assert c.delete(f"/v2/images/{image_id}").status_code == 204
    attacker = make_user(image_server)
    with attacker.client() as xc:
        resp = xc.post(
            "/v2/images",
            json={"id": image_id, "name": "evil", "disk_format": "raw", "container_format": "bare"},
        )
        assert resp.status_code == 409, resp.text


def test_deleted_image_members_are_gone(
    c: httpx.Client, ac: httpx.Client, image_server: Server
) -> None:
    """Even where an id is reused (by the admin), the old members do not carry over."""
    trusting = make_user(image_server)
    image = create_image(c)
    image_id = image["id"]
    assert (
        c.post(f"/v2/images/{image_id}/members", json={"member": trusting.project_id}).status_code
        == 200
    )
    with trusting.client() as tc:
        assert (
            tc.put(
                f"/v2/images/{image_id}/members/{trusting.project_id}", json={"status": "accepted"}
            ).status_code
            == 200
        )
    assert c.delete(f"/v2/images/{image_id}").status_code == 204
    resp = ac.post("/v2/images", json={"id": image_id, "name": "reused"})
    if resp.status_code == 409:
        return
    assert resp.status_code == 201
    with trusting.client() as tc:
        assert tc.get(f"/v2/images/{image_id}").status_code == 404
        assert image_id not in _ids(tc.get("/v2/images"))


def test_non_admin_cannot_change_owner(c: httpx.Client, image_server: Server) -> None:
    other = make_user(image_server)
    image = create_image(c)
    resp = patch(c, image["id"], [{"op": "replace", "path": "/owner", "value": other.project_id}])
    assert resp.status_code == 403
    assert show(c, image["id"])["owner"] != other.project_id


def test_members_of_public_image_403(ac: httpx.Client, image_server: Server) -> None:
    other = make_user(image_server)
    image = create_image(ac, visibility="public")
    resp = ac.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id})
    assert resp.status_code == 403


def test_stage_twice_409(c: httpx.Client) -> None:
    image = create_image(c)
    assert (
        c.put(
            f"/v2/images/{image['id']}/stage", content=b"a", headers={"Content-Type": OCTET}
        ).status_code
        == 204
    )
    assert (
        c.put(
            f"/v2/images/{image['id']}/stage", content=b"b", headers={"Content-Type": OCTET}
        ).status_code
        == 409
    )


def test_upload_to_deactivated_409(c: httpx.Client, ac: httpx.Client) -> None:
    image = active_image(c)
    assert ac.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    assert upload(c, image["id"], b"x").status_code == 409
    assert ac.post(f"/v2/images/{image['id']}/actions/reactivate").status_code == 204


def test_shared_member_cannot_download_deactivated(
    c: httpx.Client, ac: httpx.Client, image_server: Server
) -> None:
    other = make_user(image_server)
    image = active_image(c, b"shared data")
    assert (
        c.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id}).status_code
        == 200
    )
    with other.client() as oc:
        assert (
            oc.put(
                f"/v2/images/{image['id']}/members/{other.project_id}", json={"status": "accepted"}
            ).status_code
            == 200
        )
        assert oc.get(f"/v2/images/{image['id']}/file").content == b"shared data"
        assert ac.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
        assert oc.get(f"/v2/images/{image['id']}/file").status_code == 403


def test_list_member_status_all(c: httpx.Client, image_server: Server) -> None:
    other = make_user(image_server)
    image = create_image(c)
    assert (
        c.post(f"/v2/images/{image['id']}/members", json={"member": other.project_id}).status_code
        == 200
    )
    with other.client() as oc:
        assert image["id"] in _ids(oc.get("/v2/images", params={"member_status": "all"}))
        assert image["id"] not in _ids(oc.get("/v2/images", params={"member_status": "accepted"}))
        assert oc.get("/v2/images", params={"member_status": "maybe"}).status_code == 400


def test_pagination_with_null_names(c: httpx.Client, image_server: Server) -> None:
    user = make_user(image_server)
    with user.client() as uc:
        made = {create_image(uc, name=None)["id"] for _ in range(3)}
        made |= {create_image(uc, name=n)["id"] for n in ("x", "y")}
        for direction in ("asc", "desc"):
            pages = _walk(
                uc,
                "/v2/images",
                {"owner": user.project_id, "sort_key": "name", "sort_dir": direction, "limit": 2},
            )
            ids = [i["id"] for i in pages]
            assert len(ids) == len(set(ids)) == 5 and set(ids) == made, direction


def test_client_disconnect_mid_upload(c: httpx.Client, member: User) -> None:
    """A client that goes away mid-upload leaves no active image, and the
    image does not stay stuck in saving."""
    import socket
    import time
    from urllib.parse import urlsplit

    from tests.functional.image.conftest import wait_status

    image = create_image(c)
    parts = urlsplit(str(c.base_url))
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PUT /image/v2/images/{image['id']}/file HTTP/1.1\r\n"
            f"Host: {parts.hostname}:{parts.port}\r\n"
            f"X-Auth-Token: {member.token}\r\n"
            f"Content-Type: {OCTET}\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * 100_000)
        time.sleep(0.5)
    got = wait_status(c, image["id"], ("queued", "killed", "active"), timeout=10)
    assert got["status"] in ("queued", "killed"), got
    assert c.get(f"/v2/images/{image['id']}/file").status_code == 204


# -- metadata definitions (/v2/metadefs) -----------------------------------------------------

MD = "/v2/metadefs/namespaces"


def _glance_error(resp: httpx.Response, status: int) -> None:
    """Glance's error body: webob's HTML page with the status line."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert f"<title>{status} " in resp.text


@pytest.fixture()
def namespace(ac: httpx.Client) -> Iterator[str]:
    name = unique("OS::Test")
    resp = ac.post(MD, json={"namespace": name, "display_name": "Test", "visibility": "public"})
    assert resp.status_code == 201, resp.text
    yield name
    ac.delete(f"{MD}/{name}")


def test_metadef_namespace_lifecycle(ac: httpx.Client, c: httpx.Client) -> None:
    name = unique("OS::Compute::Thing")
    resp = ac.post(
        MD,
        json={
            "namespace": name,
            "display_name": "Things",
            "description": "Hardware things",
            "visibility": "private",
            "protected": True,
        },
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"].endswith(f"/v2/metadefs/namespaces/{name}")
    ns = resp.json()
    assert ns["namespace"] == name
    assert ns["display_name"] == "Things"
    assert ns["description"] == "Hardware things"
    assert ns["visibility"] == "private"
    assert ns["protected"] is True
    assert ns["self"] == f"/v2/metadefs/namespaces/{name}"
    assert ns["created_at"].endswith("Z")
    # The same name again: 409.
    _glance_error(ac.post(MD, json={"namespace": name}), 409)
    # Private: its owner's project (the admin's) sees it, a member of another does not.
    assert ac.get(f"{MD}/{name}").json()["owner"] == ns["owner"]
    _glance_error(c.get(f"{MD}/{name}"), 404)
    assert name not in [
        n["namespace"] for n in c.get(MD, params={"limit": 1000}).json()["namespaces"]
    ]
    assert name in [n["namespace"] for n in ac.get(MD, params={"limit": 1000}).json()["namespaces"]]
    # Protected: no delete.
    _glance_error(ac.delete(f"{MD}/{name}"), 403)
    # Update is a PUT: unprotect and publish it.
    resp = ac.put(
        f"{MD}/{name}",
        json={"namespace": name, "display_name": "Things 2", "visibility": "public"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["protected"] is False
    assert resp.json()["display_name"] == "Things 2"
    assert "description" not in resp.json()
    assert c.get(f"{MD}/{name}").json()["visibility"] == "public"
    # A member may read it now but not change it (Glance: admins only).
    _glance_error(c.put(f"{MD}/{name}", json={"namespace": name}), 403)
    _glance_error(c.delete(f"{MD}/{name}"), 403)
    assert ac.delete(f"{MD}/{name}").status_code == 204
    _glance_error(ac.get(f"{MD}/{name}"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"namespace": ""},
        {"namespace": "x" * 81},
        {"namespace": "n", "visibility": "shared"},
        {"namespace": "n", "protected": "yes"},
        {"namespace": "n", "unknown": 1},
        {"namespace": "n", "properties": {"p": {"type": "string"}}},
    ],
)
def test_metadef_namespace_bad_input_400(ac: httpx.Client, body: dict[str, object]) -> None:
    _glance_error(ac.post(MD, json=body), 400)


def test_metadef_namespace_list_filters_and_paging(ac: httpx.Client) -> None:
    names = [unique("OS::Page") for _ in range(3)]
    for i, name in enumerate(names):
        vis = "public" if i < 2 else "private"
        assert ac.post(MD, json={"namespace": name, "visibility": vis}).status_code == 201
    rt = unique("OS::Test::Kind")
    resp = ac.post(f"{MD}/{names[0]}/resource_types", json={"name": rt, "prefix": "p_"})
    assert resp.status_code == 201, resp.text
    try:
        got = ac.get(MD, params={"resource_types": rt}).json()["namespaces"]
        assert [n["namespace"] for n in got] == [names[0]]
        assert [(a["name"], a["prefix"]) for a in got[0]["resource_type_associations"]] == [
            (rt, "p_")
        ]
        private = ac.get(MD, params={"visibility": "private", "limit": 1000}).json()
        assert names[2] in [n["namespace"] for n in private["namespaces"]]
        assert names[0] not in [n["namespace"] for n in private["namespaces"]]
        # Paging by name, ascending: each page follows the last.
        seen: list[str] = []
        url: str | None = f"{MD}?sort_key=namespace&sort_dir=asc&limit=2"
        while url:
            body = ac.get(url).json()
            assert len(body["namespaces"]) <= 2
            seen += [n["namespace"] for n in body["namespaces"]]
            url = body.get("next")
        assert seen == sorted(seen)
        assert set(names) <= set(seen)
        _glance_error(ac.get(MD, params={"sort_key": "nope"}), 400)
        _glance_error(ac.get(MD, params={"sort_dir": "up"}), 400)
        _glance_error(ac.get(MD, params={"marker": unique("gone")}), 404)
        # The resource type is listed, with Glance's own.
        types = [t["name"] for t in ac.get("/v2/metadefs/resource_types").json()["resource_types"]]
        assert rt in types and "OS::Glance::Image" in types
    finally:
        for name in names:
            ac.delete(f"{MD}/{name}")


def test_metadef_resource_type_associations(ac: httpx.Client, namespace: str) -> None:
    url = f"{MD}/{namespace}/resource_types"
    resp = ac.post(
        url, json={"name": "OS::Nova::Flavor", "prefix": "hw:", "properties_target": "x"}
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["prefix"] == "hw:"
    _glance_error(ac.post(url, json={"name": "OS::Nova::Flavor"}), 409)
    _glance_error(ac.post(url, json={"prefix": "hw:"}), 400)
    got = ac.get(url).json()["resource_type_associations"]
    assert [(a["name"], a["prefix"], a["properties_target"]) for a in got] == [
        ("OS::Nova::Flavor", "hw:", "x")
    ]
    shown = ac.get(f"{MD}/{namespace}").json()
    assert shown["resource_type_associations"][0]["name"] == "OS::Nova::Flavor"
    # Shown for a resource type, property names carry its prefix.
    prop = {"name": "cpu_policy", "title": "CPU policy", "type": "string"}
    assert ac.post(f"{MD}/{namespace}/properties", json=prop).status_code == 201
    flavor = ac.get(f"{MD}/{namespace}", params={"resource_type": "OS::Nova::Flavor"}).json()
    assert list(flavor["properties"]) == ["hw:cpu_policy"]
    assert list(ac.get(f"{MD}/{namespace}").json()["properties"]) == ["cpu_policy"]
    assert ac.delete(f"{url}/OS::Nova::Flavor").status_code == 204
    _glance_error(ac.delete(f"{url}/OS::Nova::Flavor"), 404)
    assert ac.get(url).json()["resource_type_associations"] == []


def test_metadef_objects(ac: httpx.Client, c: httpx.Client, namespace: str) -> None:
    url = f"{MD}/{namespace}/objects"
    cpu = {"title": "CPU", "type": "string", "enum": ["x86_64", "aarch64"]}
    resp = ac.post(
        url,
        json={
            "name": "Hardware",
            "description": "d",
            "required": ["cpu"],
            "properties": {"cpu": cpu},
        },
    )
    assert resp.status_code == 201, resp.text
    obj = resp.json()
    assert obj["properties"] == {"cpu": cpu}
    assert obj["required"] == ["cpu"]
    assert obj["self"] == f"{url}/Hardware"
    _glance_error(ac.post(url, json={"name": "Hardware"}), 409)
    _glance_error(
        ac.post(url, json={"name": "Bad", "properties": {"p": {"type": "weird", "title": "t"}}}),
        400,
    )
    # A member reads a public namespace's objects, cannot add one.
    assert [o["name"] for o in c.get(url).json()["objects"]] == ["Hardware"]
    _glance_error(c.post(url, json={"name": "Mine"}), 403)
    resp = ac.put(f"{url}/Hardware", json={**obj, "name": "Hw", "description": "new"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["description"] == "new"
    _glance_error(ac.get(f"{url}/Hardware"), 404)
    assert ac.get(f"{url}/Hw").json()["properties"]["cpu"]["enum"] == ["x86_64", "aarch64"]
    assert [o["name"] for o in ac.get(f"{MD}/{namespace}").json()["objects"]] == ["Hw"]
    assert ac.delete(f"{url}/Hw").status_code == 204
    _glance_error(ac.delete(f"{url}/Hw"), 404)
    ac.post(url, json={"name": "A"})
    ac.post(url, json={"name": "B"})
    assert ac.delete(url).status_code == 204
    assert ac.get(url).json()["objects"] == []


def test_metadef_properties(ac: httpx.Client, namespace: str) -> None:
    url = f"{MD}/{namespace}/properties"
    body = {
        "name": "hw_rng",
        "title": "Random",
        "type": "integer",
        "description": "d",
        "minimum": 0,
        "maximum": 8,
    }
    resp = ac.post(url, json=body)
    assert resp.status_code == 201, resp.text
    assert resp.json() == body
    _glance_error(ac.post(url, json=body), 409)
    for bad in (
        {"name": "p", "type": "string"},  # no title
        {"name": "p", "title": "t"},  # no type
        {"name": "p", "title": "t", "type": "text"},
        {"name": "p", "title": "t", "type": "string", "enum": "a,b"},
        {"name": "p", "title": "t", "type": "string", "pattern": "(["},
        {"name": "p", "title": "t", "type": "string", "minLength": -1},
        {"name": "p", "title": "t", "type": "string", "readonly": "no"},
        {"name": "p", "title": "t", "type": "string", "colour": "red"},
    ):
        _glance_error(ac.post(url, json=bad), 400)
    for raw in ('{"name": "p", "title": "t", "type": "number", "minimum": 1e400}',
                '{"name": "p", "title": "t", "type": "number", "default": NaN}'):  # fmt: skip
        _glance_error(ac.post(url, content=raw, headers={"Content-Type": "application/json"}), 400)
    assert ac.get(url).json()["properties"] == {
        "hw_rng": {k: v for k, v in body.items() if k != "name"}
    }
    assert ac.get(f"{url}/hw_rng").json() == body
    changed = {"name": "hw_rng", "title": "RNG", "type": "string", "enum": ["a", "b"]}
    resp = ac.put(f"{url}/hw_rng", json=changed)
    assert resp.status_code == 200, resp.text
    assert ac.get(f"{url}/hw_rng").json() == changed
    assert ac.get(f"{MD}/{namespace}").json()["properties"]["hw_rng"]["enum"] == ["a", "b"]
    _glance_error(ac.get(f"{url}/nope"), 404)
    assert ac.delete(f"{url}/hw_rng").status_code == 204
    assert ac.get(url).json()["properties"] == {}


def test_metadef_tags(ac: httpx.Client, namespace: str) -> None:
    url = f"{MD}/{namespace}/tags"
    resp = ac.post(f"{url}/red")
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "red"
    _glance_error(ac.post(f"{url}/red"), 409)
    _glance_error(ac.post(f"{url}/{'x' * 256}"), 400)
    # Many at once replace the old ones.
    resp = ac.post(url, json={"tags": [{"name": "blue"}, {"name": "green"}]})
    assert resp.status_code == 201, resp.text
    assert [t["name"] for t in ac.get(url).json()["tags"]] == ["blue", "green"]
    # ...or add to them when asked to.
    resp = ac.post(url, json={"tags": [{"name": "cyan"}]}, headers={"X-Openstack-Append": "True"})
    assert resp.status_code == 201, resp.text
    assert [t["name"] for t in ac.get(url).json()["tags"]] == ["blue", "cyan", "green"]
    _glance_error(ac.post(url, json={"tags": [{"name": "a"}, {"name": "a"}]}), 409)
    _glance_error(ac.post(url, json={"tags": ["a"]}), 400)
    resp = ac.put(f"{url}/blue", json={"name": "navy"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "navy"
    _glance_error(ac.put(f"{url}/navy", json={"name": "green"}), 409)
    assert ac.get(f"{url}/navy").json()["name"] == "navy"
    _glance_error(ac.get(f"{url}/blue"), 404)
    assert ac.delete(f"{url}/navy").status_code == 204
    assert [t["name"] for t in ac.get(f"{MD}/{namespace}").json()["tags"]] == ["cyan", "green"]
    assert ac.delete(url).status_code == 204
    assert ac.get(url).json()["tags"] == []


def test_metadef_protected_namespace_keeps_its_contents(ac: httpx.Client) -> None:
    name = unique("OS::Kept")
    resp = ac.post(
        MD,
        json={
            "namespace": name,
            "protected": True,
            "tags": [{"name": "t"}],
            "properties": {"p": {"title": "P", "type": "boolean"}},
            "objects": [{"name": "o"}],
        },
    )
    assert resp.status_code == 201, resp.text
    shown = ac.get(f"{MD}/{name}").json()
    assert shown["properties"] == {"p": {"title": "P", "type": "boolean"}}
    assert [o["name"] for o in shown["objects"]] == ["o"]
    assert shown["tags"] == [{"name": "t"}]
    _glance_error(ac.delete(f"{MD}/{name}/tags/t"), 403)
    _glance_error(ac.delete(f"{MD}/{name}/properties/p"), 403)
    _glance_error(ac.delete(f"{MD}/{name}/objects/o"), 403)
    ac.put(f"{MD}/{name}", json={"namespace": name, "protected": False})
    assert ac.delete(f"{MD}/{name}").status_code == 204


def test_metadef_schemas(c: httpx.Client) -> None:
    for name in (
        "namespace", "namespaces", "object", "objects", "property", "properties",
        "tag", "tags", "resource_type", "resource_types",
    ):  # fmt: skip
        resp = c.get(f"/v2/schemas/metadefs/{name}")
        assert resp.status_code == 200, (name, resp.text)
        assert resp.json()["name"] in (
            name,
            "resource_type_association",
            "resource_type_associations",
        )
    prop = c.get("/v2/schemas/metadefs/property").json()
    assert set(prop["required"]) == {"name", "title", "type"}
    assert "string" in prop["properties"]["type"]["enum"]
    _glance_error(c.get("/v2/schemas/metadefs/nope"), 404)


def test_no_server_errors_in_log(image_server: Server, request: pytest.FixtureRequest) -> None:
    """Runs last in this module: nothing above made the server fail."""
    text = image_server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
    assert " 500 " not in text
