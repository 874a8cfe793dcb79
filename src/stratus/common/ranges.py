"""HTTP byte ranges (RFC 9110, section 14): one parser of the ``Range``
header for every service that serves data (images, objects).

``parse_ranges`` turns the header into ``ByteRange`` values without knowing
the size of what is asked for; ``ByteRange.span`` places one in data of a
given size.  What a service does with a header that does not parse, with
several ranges or with an unsatisfiable one is its own rule (Swift ignores
a bad header and answers several ranges as multipart; Glance refuses both).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RANGES = 50


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``first-last``, ``first-`` (``last`` None) or the suffix ``-last``
    (``first`` None: the last ``last`` bytes)."""

    first: int | None
    last: int | None

    def span(self, size: int) -> tuple[int, int] | None:
        """The inclusive ``(first, last)`` byte positions in data of ``size``
        bytes; None when no byte of it is in the range (416)."""
        if self.first is None:
            length = self.last or 0
            if length <= 0 or size <= 0:
                return None
            return max(size - length, 0), size - 1
        if self.first >= size:
            return None
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, last


def parse_ranges(header: str, max_ranges: int = MAX_RANGES) -> list[ByteRange] | None:
    """The ranges of a ``bytes=`` header, in order; None when the header is
    not one (another unit, bad syntax, a range whose last byte comes before
    its first, more than ``max_ranges``)."""
    unit, eq, spec = header.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    items = [item.strip() for item in spec.split(",")]
    if len(items) > max_ranges:
        return None
    out: list[ByteRange] = []
    for item in items:
        first, dash, last = (part.strip() for part in item.partition("-"))
        if not dash or not (_number(first) or not first) or not (_number(last) or not last):
            return None
        if not first:
            if not last:
                return None
            out.append(ByteRange(None, int(last)))
            continue
        start = int(first)
        end = int(last) if last else None
        if end is not None and end < start:
            return None
        out.append(ByteRange(start, end))
    return out


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()
