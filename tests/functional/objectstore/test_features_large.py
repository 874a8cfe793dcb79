"""Large objects against a real all-in-one: ``swift upload --segment-size``
as SLO and DLO, downloaded with checksums verified, ranges across segments,
and deleted with their segments."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.functional.objectstore.conftest import Account, Swift, run_cli, unique

SIZE = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = os.urandom(1024 * 1024)
    with path.open("wb") as f:
        for i in range(SIZE // len(block)):
            f.write(bytes([i]) + block[1:])
    return path


@pytest.mark.parametrize("slo", [True, False], ids=["slo", "dlo"])
def test_swift_segmented_upload_download_delete(
    owner: Account, api: Swift, big_file: Path, tmp_path: Path, slo: bool
) -> None:
    env = owner.env()
    container = unique("large")
    args = ["upload", "--segment-size", "10M", "--object-name", "big.bin"]
    args.append("--use-slo" if slo else "--use-dlo")  # swiftclient picks SLO when /info has it
    run_cli("swift", env, *args, container, str(big_file), timeout=300)
    head = api.head(f"/{container}/big.bin")
    assert head.status_code == 200 and head.headers["content-length"] == str(SIZE)
    if slo:
        assert head.headers["x-static-large-object"] == "True"
    else:
        assert head.headers["x-object-manifest"].startswith(f"{container}_segments/")
    assert head.headers["etag"].startswith('"')
    segments = api.get(f"/{container}_segments", params={"format": "json"}).json()
    assert len(segments) == 5
    inner = "".join(s["hash"] for s in segments).encode()
    assert head.headers["etag"] == '"' + hashlib.md5(inner).hexdigest() + '"'
    listing = api.get(f"/{container}", params={"format": "json"}).json()
    if slo:  # a DLO's manifest is listed as what it is: an empty object
        assert listing[0]["bytes"] == SIZE
        assert listing[0]["slo_etag"] == head.headers["etag"]
    else:
        assert listing[0]["bytes"] == 0
    out = tmp_path / "out.bin"
    run_cli("swift", env, "download", container, "big.bin", "-o", str(out), timeout=300)
    data = big_file.read_bytes()
    assert hashlib.md5(out.read_bytes()).digest() == hashlib.md5(data).digest()
    start = 10 * 1024 * 1024 - 5
    r = api.get(f"/{container}/big.bin", headers={"Range": f"bytes={start}-{start + 9}"})
    assert r.status_code == 206 and r.content == data[start : start + 10]
    run_cli("swift", env, "delete", container, "big.bin", timeout=300)
    assert api.head(f"/{container}/big.bin").status_code == 404
    left = api.get(f"/{container}_segments", params={"format": "json"})
    assert left.status_code == 404 or left.json() == []


def test_slo_manifest_errors(api: Swift, container: str) -> None:
    api.put(f"/{container}/seg", content=b"x" * 10)
    bad = [{"path": f"/{container}/seg", "etag": "0" * 32, "size_bytes": 10}]
    r = api.put(f"/{container}/m", params={"multipart-manifest": "put"}, json=bad)
    assert r.status_code == 400 and "Etag Mismatch" in r.text
    r = api.put(f"/{container}/m", params={"multipart-manifest": "put"}, content=b"{")
    assert r.status_code == 400
    assert api.head(f"/{container}/m").status_code == 404
