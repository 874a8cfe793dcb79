"""Swift's ``bulk`` middleware: bulk delete and archive extraction.

- ``POST`` or ``DELETE /v1/<account>?bulk-delete`` with a newline-separated
  list of URL-encoded ``/container[/object]`` paths: one DELETE each.
- ``PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=tar|tar.gz|tar.bz2``:
  every file of the archive becomes an object (``layers/archive.py``).

Both answer 200 with the outcome in the body (json, xml or plain text, by
Accept): the counts, Response Status, Response Body and Errors (``[path,
status]`` pairs).  The SLO's ``multipart-manifest=delete`` answers in the
same shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

import orjson

from stratus.objectstore.errors import (
    BadRequest,
    LengthRequired,
    NotAcceptable,
    SwiftError,
    TooLarge,
    body_of,
    for_status,
    status_line,
)
from stratus.objectstore.layers import archive
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.interface import Body, Caller, Headers, Reply
from stratus.objectstore.service.quorum import close_body, iterate

MAX_DELETES = 10000
MAX_FAILED = 1000
MAX_PATH_BYTES = 1024 * 2 + 256 + 10  # container + object + separators, generously
FORMATS = ("text/plain", "application/json", "application/xml", "text/xml")

__all__ = ["BulkLayer", "Outcome", "reply", "run", "status_line"]


class Result(Protocol):
    """What a bulk answer reports: its counts and the failed paths."""

    errors: list[list[str]]

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class Outcome:
    deleted: int = 0
    not_found: int = 0
    errors: list[list[str]] = field(default_factory=list)
    status: int = 200
    body: str = ""
    failed_status: int = 400

    def add(self, path: str, status: int) -> None:
        if status < 300:
            self.deleted += 1
        elif status == 404:
            self.not_found += 1
        else:
            self.errors.append([quote(path, safe="/"), status_line(status)])
            if status >= 500:
                self.failed_status = 502

    def finish(self) -> None:
        if self.errors:
            self.status = self.failed_status
        elif not (self.deleted or self.not_found):
            self.status, self.body = 400, "Invalid bulk delete."

    def fail(self, exc: SwiftError) -> None:
        """The whole request failed: its status and body, as Swift reports them."""
        self.status = exc.status
        self.body = body_of(exc.status, exc.message if exc.explicit else None).decode()

    def as_dict(self) -> dict[str, Any]:
        return {
            "Number Deleted": self.deleted,
            "Number Not Found": self.not_found,
            "Response Body": self.body,
            "Response Status": status_line(self.status),
        }


def media_of(accept: str) -> str | None:
    """Swift's best match of Accept among the formats it answers (text/plain
    without an Accept; None when nothing acceptable is offered)."""
    if not accept.strip():
        return "text/plain"
    best, weight = None, 0.0
    for item in accept.split(","):
        kind, *params = [p.strip().lower() for p in item.split(";")]
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        for fmt in FORMATS:
            if kind in (fmt, "*/*", fmt.split("/")[0] + "/*") and q > weight:
                best, weight = fmt, q
                break
    return best


def _xml(root: str, data: dict[str, Any], errors: list[list[str]]) -> bytes:
    items = "".join(
        f"<{k.lower().replace(' ', '_')}>{escape(str(data[k]))}</{k.lower().replace(' ', '_')}>\n"
        for k in sorted(data)
    )
    errs = "".join(
        f"<object><name>{escape(n)}</name><status>{escape(s)}</status></object>\n"
        for n, s in errors
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n{items}<errors>\n{errs}</errors>\n</{root}>\n'
    ).encode()


def reply(result: Result, accept: str, root: str = "delete") -> Reply:
    """200 with ``result`` in the format Accept asks for (406 in the body
    when it asks for none that Swift answers)."""
    media = media_of(accept)
    data = result.as_dict()
    if media is None:
        media = "text/plain"
        data["Response Status"] = status_line(406)
        data["Response Body"] = body_of(406).decode()
    if media == "application/json":
        body = orjson.dumps({**data, "Errors": result.errors})
    elif media.endswith("/xml"):
        body = _xml(root, data, result.errors)
    else:
        text = "".join(f"{k}: {data[k]}\n" for k in sorted(data))
        text += "Errors:\n" + "".join(f"{n}, {s}\n" for n, s in result.errors)
        body = text.encode()
    headers = {"content-type": media, "content-length": str(len(body))}
    return Reply(200, headers, iterate(body))


Deleter = Callable[[str, str | None], Awaitable[int]]  # (container, object) -> status


async def run(paths: list[str], delete: Deleter) -> Outcome:
    """Delete ``/container[/object]`` paths one by one, objects before containers
    as listed."""
    outcome = Outcome()
    try:
        for path in paths:
            if len(outcome.errors) >= MAX_FAILED:
                raise BadRequest("Max delete failures exceeded")
            container, _, obj = path.lstrip("/").partition("/")
            if not container:
                outcome.add(path, 400)
                continue
            try:
                status = await delete(container, obj or None)
            except SwiftError as exc:
                status = exc.status
            outcome.add(path, status)
        outcome.finish()
    except SwiftError as exc:
        outcome.fail(exc)
    return outcome


def _has_length(headers: Headers) -> bool:
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    return chunked or "content-length" in headers


async def read_paths(headers: Headers, body: Body | None) -> list[str]:
    """The request body's paths, decoded (413 past the limit)."""
    if not _has_length(headers):
        raise LengthRequired()
    data = bytearray()
    limit = MAX_DELETES * (MAX_PATH_BYTES * 3 + 1)
    async for chunk in body or iterate(b""):
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"Maximum Bulk Deletes: {MAX_DELETES} per request")
    paths = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            paths.append(unquote(line))
    if len(paths) > MAX_DELETES:
        raise TooLarge(f"Maximum Bulk Deletes: {MAX_DELETES} per request")
    return paths


NO_PARAMS: dict[str, str] = {}


class BulkLayer(Layer):
    """Bulk delete and archive extraction: each path deleted, each file
    PUT, through the layers beneath, as its own request would be (access
    checked for each)."""

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply:
        # DELETE /v1/<account>?bulk-delete comes here too (see api/accounts.py).
        if "bulk-delete" not in params:
            return await self.app.post_account(caller, account, headers, params, body)
        accept = headers.get("accept", "")
        outcome = Outcome()
        try:
            ctype = headers.get("content-type")
            if ctype and not ctype.startswith("text/plain"):
                raise NotAcceptable()
            paths = await read_paths(headers, body)
        except SwiftError as exc:
            outcome.fail(exc)
            return reply(outcome, accept)

        async def one(container: str, obj: str | None) -> int:
            refused = archive.name_status(container, obj, self.limits)
            if refused is not None:
                return refused  # e.g. a NUL would reach hidden containers
            if obj is None:
                return (await self.app.delete_container(caller, account, container)).status
            names = (account, container, obj)
            return (await self.app.delete_object(caller, names, {}, NO_PARAMS)).status

        return reply(await run(paths, one), accept)

    async def extract_archive(
        self, caller: Caller, account: str, base: str, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        mode = archive.mode_of(params.get("extract-archive", ""))
        if mode is None:
            raise BadRequest("Unsupported archive format")
        accept = headers.get("accept", "")
        extractor = archive.Extractor(
            account,
            base.rstrip("/"),
            self.limits,
            self._ensure(caller, account),
            self._put(caller, account, headers),
        )
        if not _has_length(headers):
            extractor.out.fail(LengthRequired())
            return reply(extractor.out, accept, "extract")
        return reply(await extractor.run(body, mode), accept, "extract")

    def _ensure(self, caller: Caller, account: str) -> archive.EnsureContainer:
        async def ensure(container: str) -> bool:
            head = await self.app.head_container(caller, account, container)
            await close_body(head)
            if head.status < 300:
                return False
            if head.status == 404:
                made = await self.app.put_container(caller, account, container, {})
                if made.status < 300:
                    return True
                head = made
            raise for_status(head.status)

        return ensure

    def _put(self, caller: Caller, account: str, headers: Headers) -> archive.PutFile:
        # What the archive's request gives every file: expiry and user metadata.
        extra = {
            k: v
            for k, v in headers.items()
            if k in ("x-delete-at", "x-delete-after") or k.startswith("x-object-meta-")
        }

        async def put(container: str, obj: str, data: AsyncIterator[bytes], size: int) -> int:
            sent = {**extra, "content-length": str(size)}
            try:
                resp = await self.app.put_object(
                    caller, (account, container, obj), sent, NO_PARAMS, data
                )
            except SwiftError as exc:
                return exc.status
            await close_body(resp)
            return resp.status

        return put
