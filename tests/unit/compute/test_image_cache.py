"""The compute host's image cache at start: partial downloads and bases no
server uses go; what a disk backs onto stays."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from stratus.common.service_auth import ServiceSession
from stratus.compute.agent.images import ImageCache, backed_images, backing_file


def cache(root: Path) -> ImageCache:
    session = ServiceSession("http://127.0.0.1:9/identity", "nobody", "x", "service")
    return ImageCache(root, "http://127.0.0.1:9/image", session, httpx.AsyncClient())


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_backing_file_is_read_from_the_qcow2_header(tmp_path: Path) -> None:
    base = tmp_path / "base"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "1M"], check=True)
    overlay = tmp_path / "disk.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay)],
        check=True,
    )
    assert backing_file(overlay) == str(base)
    assert backing_file(base) is None  # a qcow2 without one
    raw = tmp_path / "raw"
    raw.write_bytes(b"\0" * 4096)
    assert backing_file(raw) is None
    assert backing_file(tmp_path / "missing") is None

    # the server folders' disks name the bases they need
    folder = tmp_path / "instances" / "a-server"
    folder.mkdir(parents=True)
    overlay.rename(folder / "disk.qcow2")
    (folder / "config.iso").write_bytes(b"not a disk")
    assert backed_images([tmp_path / "instances", tmp_path / "moves"]) == {"base"}


async def test_sweep_removes_partials_and_unused_bases(tmp_path: Path) -> None:
    images = cache(tmp_path / "images")
    for name in ("used", "backing", "unused", ".half.partial"):
        (images.root / name).write_bytes(b"x")
    try:
        gone = images.sweep({"used", "backing", "not-cached"})
    finally:
        await images.close()
    assert sorted(p.name for p in gone) == [".half.partial", "unused"]
    assert sorted(p.name for p in images.root.iterdir()) == ["backing", "used"]
