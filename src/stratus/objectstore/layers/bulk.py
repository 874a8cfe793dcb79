"""Bulk delete: ``POST /v1/<account>?bulk-delete`` with a newline-separated
list of URL-encoded ``/container[/object]`` paths, as Swift's ``bulk``
middleware.  The answer is 200 with the outcome in the body (json, xml or
plain text, by Accept): Number Deleted, Number Not Found, Response Status,
Response Body and Errors (``[path, status]`` pairs).  The SLO's
``multipart-manifest=delete`` answers in the same shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

import orjson

from stratus.objectstore.errors import REASONS, SwiftError, TooLarge
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.interface import Body, Caller, Headers, Reply
from stratus.objectstore.service.quorum import iterate

MAX_DELETES = 10000
MAX_FAILED = 1000
MAX_PATH_BYTES = 1024 * 2 + 256 + 10  # container + object + separators, generously
FORMATS = ("text/plain", "application/json", "application/xml", "text/xml")


_OTHER = {200: "OK", 201: "Created", 204: "No Content", 502: "Bad Gateway"}


def status_line(status: int) -> str:
    reason = _OTHER.get(status) or REASONS.get(status, ("", ""))[0]
    return f"{status} {reason}".strip()


@dataclass
class Outcome:
    deleted: int = 0
    not_found: int = 0
    errors: list[list[str]] = field(default_factory=list)
    status: int = 200
    body: str = ""

    def add(self, path: str, status: int) -> None:
        if status < 300:
            self.deleted += 1
        elif status == 404:
            self.not_found += 1
        else:
            self.errors.append([path, status_line(status)])
            self.status = 502 if status >= 500 else status

    def as_dict(self) -> dict[str, Any]:
        return {
            "Number Deleted": self.deleted,
            "Number Not Found": self.not_found,
            "Response Body": self.body,
            "Response Status": status_line(self.status),
        }


def media_of(accept: str) -> str:
    """Swift's best match of Accept among the formats it answers."""
    best, weight = "text/plain", -1.0
    for item in accept.split(","):
        kind, *params = [p.strip() for p in item.split(";")]
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


def reply(outcome: Outcome, accept: str) -> Reply:
    media = media_of(accept)
    data = outcome.as_dict()
    if media == "application/json":
        body = orjson.dumps({**data, "Errors": outcome.errors})
    elif media.endswith("/xml"):
        items = "".join(
            f"<{k.lower().replace(' ', '_')}>{escape(str(v))}</{k.lower().replace(' ', '_')}>"
            for k, v in data.items()
        )
        errs = "".join(
            f"<object><name>{escape(n)}</name><status>{escape(s)}</status></object>"
            for n, s in outcome.errors
        )
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<delete>{items}<errors>{errs}</errors></delete>'
        ).encode()
    else:
        text = "".join(f"{k}: {data[k]}\n" for k in sorted(data))
        text += "Errors:\n" + "\n".join(f"{n}, {s}" for n, s in outcome.errors)
        body = text.encode()
    headers = {"content-type": media, "content-length": str(len(body))}
    return Reply(200, headers, iterate(body))


Deleter = Callable[[str, str | None], Awaitable[int]]  # (container, object) -> status


async def run(paths: list[str], delete: Deleter) -> Outcome:
    """Delete ``/container[/object]`` paths one by one, objects before containers
    as listed."""
    outcome = Outcome()
    for path in paths:
        container, _, obj = path.lstrip("/").partition("/")
        if not container:
            outcome.add(path, 400)
            continue
        try:
            status = await delete(container, obj or None)
        except SwiftError as exc:
            status = exc.status
        outcome.add(path, status)
        if len(outcome.errors) >= MAX_FAILED:
            break
    return outcome


async def read_paths(body: Body | None) -> list[str]:
    """The request body's paths, decoded (413 past the limit)."""
    data = b""
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
    """``POST /v1/<account>?bulk-delete``: each path deleted through the
    layers beneath, as its own DELETE would be (access checked for each)."""

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply:
        if "bulk-delete" not in params:
            return await self.app.post_account(caller, account, headers, params, body)
        paths = await read_paths(body)

        async def one(container: str, obj: str | None) -> int:
            if obj is None:
                return (await self.app.delete_container(caller, account, container)).status
            names = (account, container, obj)
            return (await self.app.delete_object(caller, names, {}, NO_PARAMS)).status

        outcome = await run(paths, one)
        return reply(outcome, headers.get("accept", ""))
