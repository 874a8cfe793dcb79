"""O_DIRECT helpers: which buffers can go straight to the disk, and aligned
reads that return exactly the asked-for bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stratus.common import directio


def test_buffers_are_aligned_and_their_slices_only_at_block_boundaries() -> None:
    view = memoryview(directio.buffer(4 * directio.ALIGN))
    assert directio.aligned(view)
    assert directio.aligned(view[directio.ALIGN :])
    assert not directio.aligned(view[1 : 1 + directio.ALIGN])  # the address is off
    assert not directio.aligned(view[: directio.ALIGN + 1])  # the length is off
    assert not directio.aligned(view[:0])


def test_read_only_bytes_count_as_unaligned() -> None:
    assert not directio.aligned(memoryview(bytes(directio.ALIGN)))


def _direct(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as exc:
        pytest.skip(f"no O_DIRECT on {path.parent}: {exc}")


@pytest.mark.parametrize(
    ("pos", "length"),
    [(0, 4096), (1, 10), (4095, 2), (5000, 70_000), (99_990, 10), (99_990, 100), (100_000, 5), (0, 200_000)],
)
def test_pread_returns_the_asked_bytes_at_any_offset(tmp_path: Path, pos: int, length: int) -> None:
    data = os.urandom(100_000)
    path = tmp_path / "f"
    path.write_bytes(data)
    fd = _direct(path)
    try:
        assert directio.pread(fd, pos, length) == data[pos : pos + length]
    finally:
        os.close(fd)
