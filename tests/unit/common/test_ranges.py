"""The one Range parser: what it reads, what it ignores, where a range falls."""

from __future__ import annotations

import pytest

from stratus.common.ranges import ByteRange, parse_ranges


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        ("bytes=0-9", [ByteRange(0, 9)]),
        ("bytes=10-", [ByteRange(10, None)]),
        ("bytes=-5", [ByteRange(None, 5)]),
        (" Bytes = 1-2 , 4-5", [ByteRange(1, 2), ByteRange(4, 5)]),
    ],
)
def test_parsed(header: str, ranges: list[ByteRange]) -> None:
    assert parse_ranges(header) == ranges


@pytest.mark.parametrize(
    "header", ["items=0-1", "bytes=", "bytes=5-2", "bytes=--1", "bytes=1-2-3", "bytes=²-3", "x"]
)
def test_not_a_range_header(header: str) -> None:
    assert parse_ranges(header) is None


def test_too_many_ranges() -> None:
    assert parse_ranges("bytes=" + ",".join(["0-0"] * 51)) is None


@pytest.mark.parametrize(
    ("byte_range", "size", "span"),
    [
        (ByteRange(2, 5), 10, (2, 5)),
        (ByteRange(8, 100), 10, (8, 9)),
        (ByteRange(7, None), 10, (7, 9)),
        (ByteRange(None, 3), 10, (7, 9)),
        (ByteRange(None, 30), 10, (0, 9)),
        (ByteRange(10, None), 10, None),
        (ByteRange(None, 0), 10, None),
        (ByteRange(0, None), 0, None),
        (ByteRange(None, 5), 0, None),
    ],
)
def test_span(byte_range: ByteRange, size: int, span: tuple[int, int] | None) -> None:
    assert byte_range.span(size) == span
