"""Where the object store differed from Swift for the interop guideline's
tests and for Swift's own tools: signatures over the storage URL's path,
account quotas, and DLO manifests made by a POST."""

from __future__ import annotations

import email.utils
import time

import httpx

from stratus.objectstore.layers.formpost import form_signature
from tests.functional.objectstore.conftest import (
    Account,
    Swift,
    run_cli,
    unique,
    wait_until,
)


def storage_path(account: Account) -> str:
    """The path of the storage URL the catalog gives (mount point included)."""
    return httpx.URL(account.url).path


def test_tempurl_signed_over_the_catalog_urls_path(
    owner: Account, api: Swift, container: str
) -> None:
    """``swift tempurl`` on the path of the catalog's storage URL, as
    Tempest and most tools sign it, fetched with no token."""
    key = unique("key")
    assert api.post("", headers={"X-Account-Meta-Temp-URL-Key": key}).status_code == 204
    data = b"signed over the whole path " * 40
    assert api.put(f"/{container}/doc.txt", content=data).status_code == 201
    path = f"{storage_path(owner)}/{container}/doc.txt"
    assert path.startswith("/object-store/v1/AUTH_")
    env = owner.env()
    out = run_cli("swift", env, "tempurl", "GET", "3600", path, key).stdout.strip()
    assert out.startswith(path + "?temp_url_sig="), out
    resp = httpx.get(f"{owner.server.url}{out}", timeout=30)
    assert resp.status_code == 200 and resp.content == data
    assert httpx.head(f"{owner.server.url}{out}", timeout=30).status_code == 200
    # A PUT signature over the same path uploads; a GET one does not.
    resp = httpx.put(f"{owner.server.url}{out}", content=b"nope", timeout=30)
    assert resp.status_code == 401
    out = run_cli("swift", env, "tempurl", "PUT", "3600", path, key).stdout.strip()
    resp = httpx.put(f"{owner.server.url}{out}", content=b"replaced", timeout=30)
    assert resp.status_code == 201
    assert api.get(f"/{container}/doc.txt").content == b"replaced"
    # Signed for another object: refused.
    other = out.replace("/doc.txt?", "/other.txt?")
    assert httpx.put(f"{owner.server.url}{other}", content=b"x", timeout=30).status_code == 401


def test_formpost_signed_over_the_catalog_urls_path(
    owner: Account, api: Swift, container: str
) -> None:
    key = unique("fkey")
    assert api.post("", headers={"X-Account-Meta-Temp-URL-Key": key}).status_code == 204
    path = f"{storage_path(owner)}/{container}/in/"
    expires = int(time.time()) + 300
    fields = {
        "redirect": "",
        "max_file_size": "1000",
        "max_file_count": "1",
        "expires": str(expires),
        "signature": form_signature(key, path, "", 1000, 1, expires),
    }
    files = [("file", ("note.txt", b"posted", "text/plain"))]
    resp = httpx.post(f"{owner.server.url}{path}", data=fields, files=files, timeout=30)
    assert resp.status_code == 201, resp.text
    assert api.get(f"/{container}/in/note.txt").content == b"posted"


def test_account_quotas_only_a_reseller_sets(owner: Account, admin: Account, api: Swift) -> None:
    info = httpx.get(f"{owner.server.url}/object-store/info", timeout=30).json()
    assert "account_quotas" in info
    # The account's own member may neither set nor remove them.
    for headers in (
        {"X-Account-Meta-Quota-Bytes": "100"},
        {"X-Account-Meta-Quota-Count": "5"},
        {"X-Remove-Account-Meta-Quota-Bytes": "x"},
        {"X-Account-Meta-Quota-Bytes": ""},
    ):
        assert api.post("", headers=headers).status_code == 403, headers
    assert "x-account-meta-quota-bytes" not in api.head("").headers
    # Other metadata is still the member's to set.
    assert api.post("", headers={"X-Account-Meta-Colour": "blue"}).status_code == 204
    with admin.client(account=owner.name) as reseller:
        resp = reseller.post("", headers={"X-Account-Meta-Quota-Bytes": "ten"})
        assert resp.status_code == 400
        resp = reseller.post("", headers={"X-Account-Meta-Quota-Bytes": "100"})
        assert resp.status_code == 204
        reseller.checks.assert_clean()
    assert api.head("").headers["x-account-meta-quota-bytes"] == "100"
    container = unique("quota")
    assert api.put(f"/{container}").status_code == 201
    # Past the quota in one request, with a length or chunked: 413, nothing stored.
    resp = api.put(f"/{container}/big", content=b"x" * 150)
    assert resp.status_code == 413 and "Upload exceeds quota." in resp.text

    def chunks() -> object:
        for _ in range(15):
            yield b"y" * 10

    resp = api.put(f"/{container}/streamed", content=chunks())  # type: ignore[arg-type]
    assert resp.status_code == 413
    assert api.head(f"/{container}/big").status_code == 404
    assert api.head(f"/{container}/streamed").status_code == 404
    assert api.put(f"/{container}/small", content=b"z" * 60).status_code == 201
    # Once the account's usage counts the 60 bytes, 60 more do not fit; a copy neither.
    assert wait_until(lambda: api.put(f"/{container}/more", content=b"w" * 60).status_code == 413)
    resp = api.request("COPY", f"/{container}/small", headers={"Destination": f"{container}/c"})
    assert resp.status_code == 413
    with admin.client(account=owner.name) as reseller:
        resp = reseller.post("", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"})
        assert resp.status_code == 204
    assert "x-account-meta-quota-bytes" not in api.head("").headers
    assert wait_until(lambda: api.put(f"/{container}/more", content=b"w" * 60).status_code == 201)


def test_a_post_makes_and_unmakes_a_dlo_manifest(api: Swift, container: str) -> None:
    """As Tempest's upload in segments: the manifest header set by POST."""
    for i in range(3):
        assert api.put(f"/{container}/seg/{i}", content=f"part{i}".encode()).status_code == 201
    assert api.put(f"/{container}/whole", content=b"").status_code == 201
    manifest = f"{container}/seg/"
    resp = api.post(f"/{container}/whole", headers={"X-Object-Manifest": manifest})
    assert resp.status_code == 202
    head = api.head(f"/{container}/whole")
    assert head.headers["x-object-manifest"] == manifest
    etag = head.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert api.get(f"/{container}/whole").content == b"part0part1part2"
    assert (
        api.post(f"/{container}/whole", headers={"X-Object-Manifest": "no-slash"}).status_code
        == 400
    )
    # A POST without the header makes it a plain (empty) object again, as in Swift.
    assert api.post(f"/{container}/whole", headers={"X-Object-Meta-A": "b"}).status_code == 202
    head = api.head(f"/{container}/whole")
    assert "x-object-manifest" not in head.headers
    assert api.get(f"/{container}/whole").content == b""


def test_the_catalog_gives_v1_and_swift_works_there(owner: Account, container: str) -> None:
    """Swift's tools take the storage URL's path to be /v1/<account>; the
    catalog gives that, and /object-store/v1 keeps working."""
    server = owner.server
    catalog = httpx.get(
        f"{server.auth_url}/auth/catalog", headers={"X-Auth-Token": owner.token}, timeout=30
    ).json()["catalog"]
    (store,) = [s for s in catalog if s["type"] == "object-store"]
    urls = {e["interface"]: e["url"] for e in store["endpoints"]}
    assert urls["public"] == f"{server.url}/v1/{owner.name}"
    env = owner.env()
    out = run_cli("swift", env, "stat", "-v").stdout
    assert f"StorageURL: {server.url}/v1/{owner.name}" in out
    run_cli("swift", env, "upload", "--object-name", "via-cli", container, __file__)
    listing = run_cli("swift", env, "list", container).stdout.split()
    assert listing == ["via-cli"]
    with Swift(f"{server.url}/v1/{owner.name}", owner.token) as v1:
        assert v1.head(f"/{container}/via-cli").status_code == 200
        v1.checks.assert_clean()
    with owner.client() as old:
        assert old.get(f"/{container}/via-cli").content == open(__file__, "rb").read()
    # /info at the root, as swiftclient's capabilities look for it.
    out = run_cli("swift", env, "capabilities").stdout
    assert "tempurl" in out and "account_quotas" in out
    assert httpx.get(f"{server.url}/info", timeout=30).json()["swift"]["version"]


def test_container_and_account_stats_headers(api: Swift, container: str) -> None:
    """Swift's HEAD of an empty account or container: 204 with
    Content-Length: 0; a container's has Last-Modified (its creation)."""
    for path in ("", f"/{container}"):
        resp = api.head(path)
        assert resp.status_code == 204 and resp.headers["content-length"] == "0", path
    head = api.head(f"/{container}")
    listing = api.get(f"/{container}")
    assert listing.status_code == 204 and listing.headers["content-length"] == "0"
    put = float(head.headers["x-put-timestamp"])
    stamp = email.utils.parsedate_to_datetime(head.headers["last-modified"]).timestamp()
    assert put <= stamp < put + 1
    assert listing.headers["last-modified"] == head.headers["last-modified"]
    api.put(f"/{container}/o", content=b"x")
    assert api.get(f"/{container}", params={"format": "json"}).headers["last-modified"]


def test_removing_object_metadata_removes_the_key(api: Swift, container: str) -> None:
    headers = {"X-Object-Meta-Foo": "bar", "X-Object-Meta-Keep": "k", "X-Object-Meta-Gone": "g"}
    assert api.put(f"/{container}/o", content=b"data", headers=headers).status_code == 201
    resp = api.post(
        f"/{container}/o",
        headers={
            "X-Remove-Object-Meta-Foo": "x",
            "X-Object-Meta-Gone": "",
            "X-Object-Meta-Keep": "k",
        },
    )
    assert resp.status_code == 202
    meta = {k.lower() for k in api.head(f"/{container}/o").headers if "-meta-" in k.lower()}
    assert meta == {"x-object-meta-keep"}
    api.put(f"/{container}/p", content=b"", headers={"X-Object-Meta-Empty": ""})
    assert "x-object-meta-empty" not in api.head(f"/{container}/p").headers


def test_x_if_delete_at(api: Swift, container: str) -> None:
    at = int(time.time()) + 3600
    assert (
        api.put(f"/{container}/o", content=b"x", headers={"X-Delete-At": str(at)}).status_code
        == 201
    )
    resp = api.delete(f"/{container}/o", headers={"X-If-Delete-At": "soon"})
    assert resp.status_code == 400 and "X-If-Delete-At" in resp.text
    assert api.delete(f"/{container}/o", headers={"X-If-Delete-At": str(at + 1)}).status_code == 412
    assert api.head(f"/{container}/o").status_code == 200
    assert api.delete(f"/{container}/o", headers={"X-If-Delete-At": str(at)}).status_code == 204
    assert api.head(f"/{container}/o").status_code == 404


def test_unknown_paths_and_s3_clients_at_the_root(owner: Account) -> None:
    """Everywhere: a path no service serves says so, in Keystone's format; a
    service that is off says it is off; an S3 client gets S3's error."""
    server = owner.server
    resp = httpx.get(f"{server.url}/network/v2.0/networks", timeout=30)
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "The network service is not enabled in this cloud."
    resp = httpx.get(f"{server.url}/no-such-thing", timeout=30)
    assert resp.status_code == 404
    message = resp.json()["error"]["message"]
    assert message.startswith("No service at /no-such-thing") and "/object-store" in message
    s3 = {"Authorization": "AWS4-HMAC-SHA256 Credential=abc/20260101/us-east-1/s3/aws4_request"}
    for method, path in (("GET", "/"), ("PUT", "/bucket"), ("GET", "/bucket/key")):
        resp = httpx.request(method, f"{server.url}{path}", headers=s3, timeout=30)
        assert resp.status_code == 501, (method, path)
        assert resp.headers["content-type"] == "application/xml"
        assert "<Code>NotImplemented</Code>" in resp.text
    assert httpx.get(f"{server.url}/", timeout=30).json()["services"]


def test_utf8_names_in_headers_pass_through(api: Swift) -> None:
    """A container named in UTF-8 beyond latin-1 in X-History-Location,
    X-Copy-From and X-Object-Manifest: its bytes pass through, as Swift's, and
    no later GET, HEAD or COPY fails (``api`` fails the test on any 5xx)."""
    archive = unique("版本-ü")
    data = unique("데이터")
    quoted_archive = httpx.URL(f"/{archive}").raw_path.decode()[1:]
    assert api.put(f"/{archive}").status_code == 201
    assert api.put(f"/{data}").status_code == 201
    resp = api.put(f"/{data}", headers={"X-History-Location": archive.encode()})
    assert resp.status_code in (201, 202)
    head = api.head(f"/{data}")
    assert head.headers.raw and head.status_code == 204
    raw = dict(head.headers.raw)
    assert raw[b"x-history-location"] == archive.encode()
    assert api.put(f"/{data}/doc", content=b"one").status_code == 201
    assert api.put(f"/{data}/doc", content=b"two").status_code == 201
    assert api.get(f"/{data}/doc").content == b"two"
    versions = api.get(f"/{archive}", params={"format": "json"}).json()
    assert len(versions) == 1
    assert api.get(f"/{archive}/{versions[0]['name']}").content == b"one"
    # A copy from the UTF-8 container: X-Copied-From quoted, as Swift's.
    resp = api.put(f"/{archive}/copy", headers={"X-Copy-From": f"{data}/doc".encode()}, content=b"")
    assert resp.status_code == 201
    assert resp.headers["x-copied-from"] == httpx.URL(f"/{data}/doc").raw_path.decode()[1:]
    resp = api.request("COPY", f"/{archive}/copy", headers={"Destination": f"{data}/back".encode()})
    assert resp.status_code == 201
    assert resp.headers["x-copied-from"] == f"{quoted_archive}/copy"
    assert api.get(f"/{data}/back").content == b"two"
    # A DLO whose segments live in the UTF-8 container.
    assert api.put(f"/{archive}/seg/1", content=b"ab").status_code == 201
    assert api.put(f"/{archive}/seg/2", content=b"cd").status_code == 201
    manifest = f"{archive}/seg/".encode()
    resp = api.put(f"/{data}/dlo", content=b"", headers={"X-Object-Manifest": manifest})
    assert resp.status_code == 201
    assert dict(api.head(f"/{data}/dlo").headers.raw)[b"x-object-manifest"] == manifest
    assert api.get(f"/{data}/dlo").content == b"abcd"
