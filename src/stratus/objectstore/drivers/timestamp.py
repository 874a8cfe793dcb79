"""Swift-style timestamps: the version of every object, container and account.

A timestamp is a count of 10-microsecond ticks since the epoch plus an
*offset*, a small counter that orders several versions written at the same
instant (a POST over a PUT, an internal rewrite).  Its text forms:

- ``normal``: ``"%016.05f"`` of the seconds, e.g. ``"1700000000.12345"``;
  fixed width, so text order is time order.
- ``internal``: ``normal`` when the offset is 0, else
  ``normal + "_" + "%016x" % offset``; text order is still version order,
  because ``"."`` and ``"_"`` sort after the shorter name's end or its extension.

Stored as two ints, compared as a tuple: cheap to build, hash and sort.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

TICKS = 100_000  # per second
_MAX_TICKS = 10**10 * TICKS  # 10 integer digits in the normal form


class Timestamp:
    """A version: ticks of 10 µs since the epoch, and an offset."""

    __slots__ = ("ticks", "offset")

    ticks: int
    offset: int

    def __init__(self, value: float | int | str | Timestamp, offset: int = 0, delta: int = 0):
        if isinstance(value, Timestamp):
            ticks, base_offset = value.ticks, value.offset
        elif isinstance(value, str):
            ticks, base_offset = _parse(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            ticks, base_offset = round(value * TICKS), 0
        else:
            raise TypeError(f"cannot make a timestamp of {type(value).__name__}")
        ticks += delta
        offset += base_offset
        if not 0 <= ticks < _MAX_TICKS:
            raise ValueError(f"timestamp out of range: {value!r}")
        if offset < 0 or offset >= 1 << 64:
            raise ValueError(f"timestamp offset out of range: {offset}")
        self.ticks = ticks
        self.offset = offset

    @classmethod
    def now(cls, offset: int = 0) -> Timestamp:
        return cls(time.time(), offset)

    @property
    def normal(self) -> str:
        seconds, frac = divmod(self.ticks, TICKS)
        return f"{seconds:010d}.{frac:05d}"

    @property
    def internal(self) -> str:
        if self.offset:
            return f"{self.normal}_{self.offset:016x}"
        return self.normal

    @property
    def seconds(self) -> float:
        return self.ticks / TICKS

    @property
    def isoformat(self) -> str:
        """As Swift's listings show ``last_modified``: microseconds, no zone."""
        seconds, frac = divmod(self.ticks, TICKS)
        moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{moment}.{frac:05d}0"

    @property
    def http_date(self) -> str:
        """An RFC 7231 date, rounded up to the second as Swift's Last-Modified is."""
        seconds = -(-self.ticks // TICKS)
        return formatdate(seconds, usegmt=True)

    def __float__(self) -> float:
        return self.seconds

    def __str__(self) -> str:
        return self.internal

    def __repr__(self) -> str:
        return f"Timestamp({self.internal!r})"

    def __hash__(self) -> int:
        return hash((self.ticks, self.offset))

    def _key(self, other: Any) -> tuple[int, int] | None:
        if isinstance(other, Timestamp):
            return (other.ticks, other.offset)
        if other is None:
            return None
        try:
            other = Timestamp(other)
        except (TypeError, ValueError):
            return None
        return (other.ticks, other.offset)

    def __eq__(self, other: object) -> bool:
        key = self._key(other)
        return key is not None and (self.ticks, self.offset) == key

    def __lt__(self, other: Any) -> bool:
        key = self._key(other)
        if key is None:
            return NotImplemented
        return (self.ticks, self.offset) < key

    def __le__(self, other: Any) -> bool:
        key = self._key(other)
        if key is None:
            return NotImplemented
        return (self.ticks, self.offset) <= key

    def __gt__(self, other: Any) -> bool:
        key = self._key(other)
        if key is None:
            return NotImplemented
        return (self.ticks, self.offset) > key

    def __ge__(self, other: Any) -> bool:
        key = self._key(other)
        if key is None:
            return NotImplemented
        return (self.ticks, self.offset) >= key


def _parse(text: str) -> tuple[int, int]:
    """``"1700000000.12345"``, ``"1700000000.1"``, ``"17"``, with an optional
    ``"_<hex offset>"``.  Anything else is a ValueError."""
    body, sep, hex_offset = text.partition("_")
    offset = 0
    if sep:
        if not hex_offset or len(hex_offset) > 16:
            raise ValueError(f"bad timestamp offset: {text!r}")
        offset = int(hex_offset, 16)
    whole, dot, frac = body.partition(".")
    if not whole.isdigit() or not whole.isascii() or (dot and not frac):
        raise ValueError(f"bad timestamp: {text!r}")
    if frac:
        if not frac.isdigit() or not frac.isascii():
            raise ValueError(f"bad timestamp: {text!r}")
        if len(frac) > 5:
            # Round to the tick, as float formatting would.
            return round(float(f"{whole}.{frac}") * TICKS), offset
        return int(whole) * TICKS + int(frac.ljust(5, "0")), offset
    return int(whole) * TICKS, offset
