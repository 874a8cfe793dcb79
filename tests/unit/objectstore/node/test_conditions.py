"""Ranges and preconditions, as functions."""

from __future__ import annotations

from stratus.objectstore.node.conditions import etag_list, evaluate, parse_range


def test_parse_range() -> None:
    assert parse_range("bytes=0-9", 100) == [(0, 10)]
    assert parse_range("bytes=90-", 100) == [(90, 100)]
    assert parse_range("bytes=-10", 100) == [(90, 100)]
    assert parse_range("bytes=-1000", 100) == [(0, 100)]
    assert parse_range("bytes=95-200", 100) == [(95, 100)]
    assert parse_range("bytes=0-0, 5-6", 100) == [(0, 1), (5, 7)]
    assert parse_range("bytes=100-", 100) == []
    assert parse_range("bytes=-0", 100) == []
    assert parse_range("bytes=0-", 0) == []
    assert parse_range("bytes=100-,0-1", 100) == [(0, 2)]
    for ignored in ("bytes=5-2", "bytes=a-b", "items=0-1", "bytes", "bytes=-", "bytes=1-2-3"):
        assert parse_range(ignored, 100) is None, ignored
    assert parse_range("bytes=" + ",".join(["0-1"] * 51), 100) is None


def test_evaluate() -> None:
    now = 1_700_000_000
    date = "Tue, 14 Nov 2023 22:13:20 GMT"  # == now
    assert evaluate({}, "e", now) == 0
    assert evaluate({"if-match": '"e", "f"'}, "e", now) == 0
    assert evaluate({"if-match": "f"}, "e", now) == 412
    assert evaluate({"if-match": "*"}, "e", now, exists=False) == 412
    assert evaluate({"if-none-match": 'W/"e"'}, "e", now) == 304
    assert evaluate({"if-modified-since": date}, "e", now) == 304
    assert evaluate({"if-modified-since": date}, "e", now + 1) == 0
    assert evaluate({"if-unmodified-since": date}, "e", now + 1) == 412
    # If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
    assert evaluate({"if-match": "e", "if-unmodified-since": date}, "e", now + 1) == 0
    assert evaluate({"if-none-match": "x", "if-modified-since": date}, "e", now) == 0
    assert etag_list(' "a" , W/"b",*') == ["a", "b", "*"]
