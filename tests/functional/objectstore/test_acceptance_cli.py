"""Acceptance with the real clients: python-swiftclient's ``swift`` and the
``openstack`` CLI, as a project member, against the all-in-one's object store
(found through the catalog)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server
from tests.functional.objectstore.conftest import Account, md5, project_account, run_cli, unique


def swift(
    acct: Account, *args: str, check: bool = True, cwd: Path | None = None, timeout: float = 60
):
    return run_cli("swift", acct.env(), *args, check=check, cwd=cwd, timeout=timeout)


def openstack(acct: Account, *args: str, check: bool = True, cwd: Path | None = None):
    return run_cli("openstack", acct.env(), *args, check=check, cwd=cwd)


def openstack_json(acct: Account, *args: str):
    return json.loads(openstack(acct, *args, "-f", "json").stdout)


def fields(output: str) -> dict[str, str]:
    """``swift stat``'s ``Name: value`` lines."""
    out = {}
    for line in output.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def user(store: Server) -> Account:
    return project_account(store, "member")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with nested files (and a non-ASCII name) to upload."""
    root = tmp_path / "src"
    files = {
        "top.txt": b"top level\n",
        "tree/a.json": b'{"a": 1}\n',
        "tree/sub/b.bin": os.urandom(200_000),
        "tree/sub/deeper/c.txt": b"c" * 10,
        "tree/ünï.txt": "unicode ☃\n".encode(),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_swift_stat_and_account_metadata(user: Account) -> None:
    out = fields(swift(user, "stat").stdout)
    assert out["Account"] == user.name
    assert out["Containers"] == "0"
    assert out["Objects"] == "0"
    assert out["Bytes"] == "0"

    swift(user, "post", "-m", "color:blue")
    out = fields(swift(user, "stat").stdout)
    assert out["Meta Color"] == "blue"
    swift(user, "post", "-m", "color:")  # an empty value removes it
    assert "Meta Color" not in fields(swift(user, "stat").stdout)


def test_swift_capabilities(user: Account) -> None:
    out = swift(user, "capabilities", "--json").stdout
    caps = json.loads(out)
    assert caps["swift"]["max_file_size"] == 5 * 1024**3


def test_swift_post_container_and_public_read(user: Account, store: Server) -> None:
    c = unique("cli")
    swift(user, "post", c)
    out = fields(swift(user, "stat", c).stdout)
    assert out["Container"] == c
    assert out["Objects"] == "0"
    assert out.get("Read ACL", "") == ""

    swift(user, "post", "-r", ".r:*", c)
    assert fields(swift(user, "stat", c).stdout)["Read ACL"] == ".r:*"
    swift(user, "post", "-m", "purpose:test", c)
    assert fields(swift(user, "stat", c).stdout)["Meta Purpose"] == "test"

    url = f"{user.url}/{c}/public.txt"
    assert (
        httpx.put(url, content=b"public", headers={"X-Auth-Token": user.token}).status_code == 201
    )
    anon = httpx.get(url)  # no token: the read ACL lets anyone in
    assert anon.status_code == 200 and anon.content == b"public"
    assert httpx.get(f"{user.url}/{c}").status_code == 401  # no .rlistings

    # A static web site (staticweb): an index, and listings of folders without one.
    headers = {"X-Auth-Token": user.token}
    httpx.put(f"{url[: -len('public.txt')]}index.html", content=b"<p>home</p>", headers=headers)
    web = ("-m", "web-index:index.html", "-m", "web-listings:true", "-m", "web-error:.html")
    swift(user, "post", "-r", ".r:*,.rlistings", *web, c)
    home = httpx.get(f"{user.url}/{c}/")
    assert home.status_code == 200 and home.content == b"<p>home</p>"
    assert httpx.get(f"{user.url}/{c}").headers["location"].endswith(f"/{c}/")
    httpx.put(f"{user.url}/{c}/docs/a.txt", content=b"a", headers=headers)
    page = httpx.get(f"{user.url}/{c}/docs/")
    assert page.status_code == 200 and '<a href="a.txt">a.txt</a>' in page.text
    httpx.put(f"{user.url}/{c}/404.html", content=b"<p>lost</p>", headers=headers)
    lost = httpx.get(f"{user.url}/{c}/nowhere")
    assert lost.status_code == 404 and lost.content == b"<p>lost</p>"


def test_swift_upload_list_download_delete(user: Account, tree: Path, tmp_path: Path) -> None:
    c = unique("up")
    out = swift(user, "upload", c, "top.txt", "tree", cwd=tree).stdout
    uploaded = sorted(lines(out))
    expected = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    assert uploaded == expected

    listed = lines(swift(user, "list", c, timeout=30).stdout)
    assert listed == sorted(expected, key=lambda n: n.encode())

    out = lines(swift(user, "list", c, "--prefix", "tree/sub/", timeout=30).stdout)
    assert out == ["tree/sub/b.bin", "tree/sub/deeper/c.txt"]
    # a delimited listing pages with the subdir as marker: it must end
    out = lines(swift(user, "list", c, "--delimiter", "/", timeout=30).stdout)
    assert out == ["top.txt", "tree/"]
    out = lines(swift(user, "list", c, "--prefix", "tree/", "--delimiter", "/", timeout=30).stdout)
    assert out == ["tree/a.json", "tree/sub/", "tree/ünï.txt"]

    out = lines(swift(user, "list", timeout=30).stdout)
    assert c in out

    stat = fields(swift(user, "stat", c, "tree/a.json").stdout)
    assert stat["Content Type"] == "application/json"
    assert stat["Content Length"] == str(len((tree / "tree/a.json").read_bytes()))
    assert stat["ETag"] == md5((tree / "tree/a.json").read_bytes())
    assert "Meta Mtime" in stat  # swift upload records the file's mtime
    stat = fields(swift(user, "stat", c).stdout)
    assert stat["Objects"] == "5"
    assert stat["Bytes"] == str(sum(p.stat().st_size for p in tree.rglob("*") if p.is_file()))

    # download everything: the CLI checks each body against its ETag
    dest = tmp_path / "dest"
    swift(user, "download", c, "-D", str(dest))
    for name in expected:
        assert (dest / name).read_bytes() == (tree / name).read_bytes(), name
    one = clirun.run(
        [str(BIN / "swift"), "download", c, "tree/sub/b.bin", "-o", "-"],
        env=user.env(),
        capture_output=True,
        timeout=60,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    assert one == (tree / "tree/sub/b.bin").read_bytes()

    # --skip-identical compares the local md5 with the ETag and does not upload
    api = httpx.Client(base_url=user.url, headers={"X-Auth-Token": user.token})
    before = api.head(f"/{c}/top.txt").headers["x-timestamp"]
    swift(user, "upload", "--skip-identical", c, "top.txt", cwd=tree)
    assert api.head(f"/{c}/top.txt").headers["x-timestamp"] == before

    swift(user, "delete", c, "top.txt")
    assert api.head(f"/{c}/top.txt").status_code == 404
    assert "top.txt" not in api.get(f"/{c}").text
    swift(user, "delete", c)  # the objects, then the container
    assert api.head(f"/{c}").status_code == 404
    api.close()


def test_swift_download_detects_corruption_of_etag(user: Account, tmp_path: Path) -> None:
    """The CLI compares the body's md5 with the ETag; a correct server passes
    this for every object (an object stored with a wrong ETag is refused)."""
    c = unique("md5")
    swift(user, "post", c)
    data = os.urandom(100_000)
    resp = httpx.put(
        f"{user.url}/{c}/o", content=data, headers={"X-Auth-Token": user.token, "ETag": md5(b"x")}
    )
    assert resp.status_code == 422
    assert (
        httpx.put(
            f"{user.url}/{c}/o", content=data, headers={"X-Auth-Token": user.token}
        ).status_code
        == 201
    )
    out = swift(user, "download", c, "o", "-o", str(tmp_path / "o"))
    assert (tmp_path / "o").read_bytes() == data, out.stdout


def test_swift_upload_of_many_objects_lists_all(user: Account, tmp_path: Path) -> None:
    c = unique("many")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"f{i:03d}").write_bytes(str(i).encode())
    swift(user, "upload", c, "many", cwd=tmp_path)
    listed = lines(swift(user, "list", c, timeout=30).stdout)
    assert listed == [f"many/f{i:03d}" for i in range(60)]
    out = lines(swift(user, "list", c, "--prefix", "many/f05", timeout=30).stdout)
    assert out == [f"many/f05{i}" for i in range(10)]


def test_swift_delete_all(store: Server, tmp_path: Path) -> None:
    acct = project_account(store, "member")
    (tmp_path / "x").write_bytes(b"x")
    for c in ("one", "two"):
        swift(acct, "upload", c, "x", cwd=tmp_path)
    assert lines(swift(acct, "list", timeout=30).stdout) == ["one", "two"]
    swift(acct, "delete", "--all")
    assert lines(swift(acct, "list", timeout=30).stdout) == []


# -- the openstack CLI -----------------------------------------------------------------------------


def test_openstack_containers_and_objects(user: Account, tmp_path: Path) -> None:
    c = unique("osc")
    created = openstack_json(user, "container", "create", c)
    assert created[0]["container"] == c
    openstack(user, "container", "set", "--property", "team=blue", c)

    data = os.urandom(50_000)
    (tmp_path / "blob.bin").write_bytes(data)
    made = json.loads(
        run_cli(
            "openstack", user.env(), "object", "create", c, "blob.bin", "-f", "json", cwd=tmp_path
        ).stdout
    )
    assert made[0]["object"] == "blob.bin"
    assert made[0]["etag"] == md5(data)

    assert openstack(user, "container", "delete", c, check=False).returncode != 0  # not empty: 409
    shown = openstack_json(user, "container", "show", c)
    assert shown["container"] == c
    assert str(shown["object_count"]) == "1"
    assert str(shown["bytes_used"]) == str(len(data))
    assert "team" in str(shown.get("properties", ""))

    listed = openstack_json(user, "object", "list", "--long", c)
    assert [e["Name"] for e in listed] == ["blob.bin"]
    assert listed[0]["Bytes"] == len(data)
    assert listed[0]["Hash"] == md5(data)

    shown = openstack_json(user, "object", "show", c, "blob.bin")
    assert shown["etag"] == md5(data)
    assert str(shown["content-length"]) == str(len(data))

    out = tmp_path / "saved.bin"
    openstack(user, "object", "save", c, "blob.bin", "--file", str(out))
    assert hashlib.md5(out.read_bytes(), usedforsecurity=False).hexdigest() == md5(data)

    openstack(user, "object", "delete", c, "blob.bin")
    openstack(user, "container", "delete", c)
    assert c not in [e["Name"] for e in openstack_json(user, "container", "list")]


def test_openstack_object_store_account(user: Account) -> None:
    openstack(user, "object", "store", "account", "set", "--property", "owner=team")
    shown = openstack_json(user, "object", "store", "account", "show")
    assert shown["Account"] == user.name
    assert "owner" in str(shown.get("properties", ""))
    assert "Containers" in shown and "Objects" in shown and "Bytes" in shown
