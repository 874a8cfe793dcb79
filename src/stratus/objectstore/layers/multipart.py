"""A streaming multipart/form-data reader: parts one after another, each
part's data as a stream, in constant memory (FormPost's files go straight
to the proxy)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

MAX_HEADERS = 16 * 1024
_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MalformedForm(Exception):
    """The body is not the multipart document its Content-Type announces."""


def boundary_of(content_type: str) -> str | None:
    kind, params = parse_header(content_type)
    if kind != "multipart/form-data":
        return None
    return params.get("boundary") or None


def parse_header(value: str) -> tuple[str, dict[str, str]]:
    """``type; a=b; c="d"`` as ``("type", {"a": "b", "c": "d"})``."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        raw = match.group(2).strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[match.group(1).lower()] = raw
    return head.strip().lower(), params


class FormReader:
    """``async for headers in reader.parts()``, then drain ``reader.data()``
    (or not: the next part skips what was left)."""

    def __init__(self, body: AsyncIterator[bytes], boundary: str) -> None:
        self.body = body
        self.delim = b"\r\n--" + boundary.encode("latin-1")
        self.buf = b"\r\n"  # so that the first boundary matches the delimiter too
        self.eof = False
        self.in_part = False

    async def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = await anext(self.body)
        except StopAsyncIteration:
            self.eof = True
            return False
        self.buf += chunk
        return True

    async def _need(self, n: int) -> None:
        while len(self.buf) < n:
            if not await self._fill():
                raise MalformedForm("truncated form")

    async def parts(self) -> AsyncIterator[dict[str, str]]:
        # the preamble, up to the first delimiter
        while (idx := self.buf.find(self.delim)) < 0:
            self.buf = self.buf[-len(self.delim) :]
            if not await self._fill():
                raise MalformedForm("no boundary")
        self.buf = self.buf[idx + len(self.delim) :]
        while True:
            await self._need(2)
            if self.buf.startswith(b"--"):
                return
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                if len(self.buf) > MAX_HEADERS or not await self._fill():
                    raise MalformedForm("bad part headers")
            head, self.buf = self.buf[:end], self.buf[end + 4 :]
            headers: dict[str, str] = {}
            for line in head.decode("utf-8", "replace").split("\r\n"):
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            self.in_part = True
            yield headers
            async for _ in self.data():  # what the caller left
                pass

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's data, up to the next delimiter."""
        keep = len(self.delim) - 1
        while self.in_part:
            idx = self.buf.find(self.delim)
            if idx >= 0:
                out, self.buf = self.buf[:idx], self.buf[idx + len(self.delim) :]
                self.in_part = False
                if out:
                    yield out
                return
            if len(self.buf) > keep:
                out, self.buf = self.buf[:-keep], self.buf[-keep:]
                yield out
            if not await self._fill():
                raise MalformedForm("truncated form")

    async def read(self, limit: int) -> bytes:
        """The current part's data whole (a form field), at most ``limit`` bytes."""
        out = b""
        async for chunk in self.data():
            out += chunk
            if len(out) > limit:
                raise MalformedForm("form field too long")
        return out
