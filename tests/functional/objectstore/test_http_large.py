"""A 64 MiB object streamed in (chunked, from a generator, and with a
Content-Length) and out, intact, while the server's resident memory stays
flat: the object store must stream, not buffer."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.functional.objectstore.conftest import Swift

MIB = 1024 * 1024
SIZE = 64 * MIB
CHUNK = 256 * 1024
GROWTH_LIMIT = 64 * MIB


def rss(pid: int) -> int:
    """Resident set size in bytes (VmRSS), of the process and its children."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            pass
    return total


class Watch:
    """Samples the server's RSS every 20 ms in a thread; ``peak`` is the most."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = rss(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.base

    def __str__(self) -> str:
        return f"RSS {self.base / MIB:.0f} MiB -> peak {self.peak / MIB:.0f} MiB (+{self.growth / MIB:.1f} MiB)"


def pattern(size: int = SIZE, chunk: int = CHUNK) -> Iterator[bytes]:
    """Deterministic, non-repeating-per-chunk data, generated as it goes."""
    block = bytes(range(256)) * (chunk // 256)
    for i in range(size // chunk):
        yield i.to_bytes(8, "big") + block[8:]


def expected_md5() -> str:
    h = hashlib.md5(usedforsecurity=False)
    for part in pattern():
        h.update(part)
    return h.hexdigest()


@pytest.fixture(scope="module")
def digest() -> str:
    return expected_md5()


def download_md5(api: Swift, path: str) -> tuple[str, int, dict[str, str]]:
    h = hashlib.md5(usedforsecurity=False)
    size = 0
    with api.stream("GET", path) as resp:
        assert resp.status_code == 200, resp.read()
        for part in resp.iter_raw(CHUNK):
            h.update(part)
            size += len(part)
        headers = dict(resp.headers)
    return h.hexdigest(), size, headers


def warm_up(api: Swift, container: str) -> None:
    """A small upload and download first, so that the baseline includes what
    any first request allocates."""
    assert api.put(f"/{container}/warm", content=b"w" * MIB).status_code == 201
    assert len(api.get(f"/{container}/warm").content) == MIB


def test_64mib_chunked_upload_and_download(
    store: Server, api: Swift, container: str, digest: str
) -> None:
    warm_up(api, container)
    path = f"/{container}/big-chunked"
    with Watch(store.process.pid) as up:
        resp = api.put(path, content=pattern())
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert resp.status_code == 201, resp.text
    assert resp.headers["etag"].strip('"') == digest

    with Watch(store.process.pid) as down:
        got, size, headers = download_md5(api, path)
    assert size == SIZE
    assert got == digest
    assert headers["content-length"] == str(SIZE)
    assert headers["etag"].strip('"') == digest
    print(f"chunked upload: {up}; download: {down}")
    assert up.growth < GROWTH_LIMIT, f"upload: {up}"
    assert down.growth < GROWTH_LIMIT, f"download: {down}"

    entry = api.get(f"/{container}", params={"format": "json", "prefix": "big-"}).json()[0]
    assert entry["bytes"] == SIZE and entry["hash"] == digest


def test_64mib_upload_with_content_length(
    store: Server, api: Swift, container: str, digest: str
) -> None:
    warm_up(api, container)
    path = f"/{container}/big-sized"
    with Watch(store.process.pid) as up:
        resp = api.put(
            path, content=pattern(), headers={"Content-Length": str(SIZE), "ETag": digest}
        )
    assert "transfer-encoding" not in resp.request.headers
    assert resp.status_code == 201, resp.text
    print(f"sized upload: {up}")
    assert up.growth < GROWTH_LIMIT, f"upload: {up}"

    # a range near the end streams only what it needs to the client
    with Watch(store.process.pid) as ranged:
        resp = api.get(path, headers={"Range": f"bytes={SIZE - 10}-"})
    assert resp.status_code == 206
    assert resp.content == bytes(range(246, 256))
    assert resp.headers["content-range"] == f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}"
    print(f"ranged read: {ranged}")
    assert ranged.growth < GROWTH_LIMIT, f"ranged read: {ranged}"

    # a copy on the server side streams too
    with Watch(store.process.pid) as copied:
        resp = api.request("COPY", path, headers={"Destination": f"{container}/big-copy"})
    assert resp.status_code == 201, resp.text
    print(f"copy: {copied}")
    assert copied.growth < GROWTH_LIMIT, f"copy: {copied}"
    got, size, _headers = download_md5(api, f"/{container}/big-copy")
    assert (got, size) == (digest, SIZE)


def test_slow_reader_does_not_make_the_server_buffer(
    store: Server, api: Swift, container: str, digest: str
) -> None:
    """A client that reads slowly: the server must not read the whole object
    ahead into memory."""
    path = f"/{container}/big-slow"
    assert api.put(path, content=pattern()).status_code == 201
    with Watch(store.process.pid) as w:
        with api.stream("GET", path) as resp:
            parts = resp.iter_raw(CHUNK)
            first = next(parts)
            time.sleep(1.5)  # the server keeps writing until the socket buffers are full
            rest = sum(len(p) for p in parts)
    assert len(first) + rest == SIZE
    assert w.growth < GROWTH_LIMIT, f"slow reader: {w}"
    print(f"slow reader: {w}")
