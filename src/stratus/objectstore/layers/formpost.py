"""FormPost: browsers upload files straight into a container with an HTML
form signed by the account's or container's TempURL key, as Swift's
``formpost`` middleware.

The form's fields (before its files) are ``redirect``, ``max_file_size``,
``max_file_count``, ``expires`` and ``signature``: an HMAC (as TempURL's)
over ``path\\nredirect\\nmax_file_size\\nmax_file_count\\nexpires``.  Each file
is stored as ``<path's object prefix><filename>``.  The answer is a 303 to
``redirect?status=<code>&message=<text>``, or without a redirect that status
with a short HTML body.  A bad signature or an expired form is 401.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from html import escape
from urllib.parse import quote

from starlette.requests import ClientDisconnect as StarletteDisconnect
from starlette.requests import Request
from starlette.responses import Response

from stratus.objectstore.api.headers import delete_at_of
from stratus.objectstore.api.request import SwiftPath, decode, raw_path_of
from stratus.objectstore.errors import REASONS, ClientDisconnect, SwiftError, TooLarge
from stratus.objectstore.layers.multipart import (
    FormReader,
    MalformedForm,
    boundary_of,
    parse_header,
)
from stratus.objectstore.layers.tempurl import (
    ACCOUNT_KEYS,
    CONTAINER_KEYS,
    DIGESTS,
    parse_signature,
)
from stratus.objectstore.service import ObjectStoreService

FIELD_LIMIT = 8192
ATTRIBUTES = ("redirect", "max_file_size", "max_file_count", "expires", "signature")


class FormInvalid(Exception):
    """A 400 for the form (redirected, when the form asks for it)."""


class FormUnauthorized(Exception):
    """A 401 (never redirected)."""


def is_form(request: Request) -> bool:
    return boundary_of(request.headers.get("content-type", "")) is not None


def form_signature(key: str, path: str, redirect: str, size: int, count: int, expires: int) -> str:
    """The hex SHA-256 signature a form carries (for tests and tools)."""
    body = f"{path}\n{redirect}\n{size}\n{count}\n{expires}".encode()
    return hmac.new(key.encode(), body, DIGESTS["sha256"]).hexdigest()


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except StarletteDisconnect as exc:
        raise ClientDisconnect() from exc


async def handle(service: ObjectStoreService, path: SwiftPath, request: Request) -> Response:
    boundary = boundary_of(request.headers.get("content-type", ""))
    assert boundary is not None and path.account and path.container
    fields: dict[str, str] = {}
    try:
        status, message = await _process(service, path, request, boundary, fields)
    except FormUnauthorized as exc:
        return Response(f"FormPost: {exc}".encode(), 401, media_type="text/plain; charset=UTF-8")
    except (FormInvalid, MalformedForm) as exc:
        status, message = 400, str(exc)
    redirect = fields.get("redirect", "")
    reason = REASONS.get(status, ("", ""))[0]
    if redirect:
        sep = "&" if "?" in redirect else "?"
        location = f"{redirect}{sep}status={status}&message={quote(message)}"
        link = f'<html><body><p><a href="{escape(location)}">Click to continue...</a></p></body></html>'
        return Response(link.encode(), 303, headers={"location": location}, media_type="text/html")
    page = f"<html><body><h1>{status} {reason}</h1><p>FormPost: {escape(message)}</p></body></html>"
    return Response(page.encode(), status, media_type="text/html")


async def _process(
    service: ObjectStoreService,
    path: SwiftPath,
    request: Request,
    boundary: str,
    fields: dict[str, str],
) -> tuple[int, str]:
    assert path.account and path.container
    reader = FormReader(_body(request), boundary)
    checked = False
    stored = 0
    async for headers in reader.parts():
        _kind, params = _disposition(headers)
        if "filename" not in params:
            value = await reader.read(FIELD_LIMIT)
            fields[params.get("name", "")] = value.decode("utf-8", "replace")
            continue
        if not checked:
            await _check(service, path, request, fields)
            checked = True
        if not params["filename"]:
            continue  # an empty file input
        if stored >= _int(fields, "max_file_count"):
            raise FormInvalid("max file count exceeded")
        stored += 1
        await _store(service, path, headers, params["filename"], reader, fields)
    if not checked:
        await _check(service, path, request, fields)
    return 201, ""


async def _check(
    service: ObjectStoreService, path: SwiftPath, request: Request, fields: dict[str, str]
) -> None:
    assert path.account and path.container
    expires = _int(fields, "expires")
    if expires < time.time():
        raise FormUnauthorized("Form Expired")
    parsed = parse_signature(fields.get("signature", ""))
    if parsed is None:
        raise FormUnauthorized("Invalid Signature")
    digest, raw = parsed
    keys: list[str] = []
    acct = await service.proxy.info(path.account)
    if acct.status < 300:
        keys += [acct.headers[k] for k in ACCOUNT_KEYS if acct.headers.get(k)]
    cont = await service.proxy.info(path.account, path.container)
    if cont.status < 300:
        keys += [cont.headers[k] for k in CONTAINER_KEYS if cont.headers.get(k)]
    signed = "\n".join(
        [decode(raw_path_of(request.scope))] + [fields.get(name, "") for name in ATTRIBUTES[:4]]
    ).encode()
    for key in keys:
        if hmac.compare_digest(hmac.new(key.encode(), signed, DIGESTS[digest]).digest(), raw):
            return
    raise FormUnauthorized("Invalid Signature")


async def _store(
    service: ObjectStoreService,
    path: SwiftPath,
    headers: dict[str, str],
    filename: str,
    reader: FormReader,
    fields: dict[str, str],
) -> None:
    assert path.account and path.container
    name = (path.obj or "") + filename
    meta: dict[str, str] = {
        "content-type": headers.get("content-type") or "application/octet-stream"
    }
    lifetime = {
        k.replace("_", "-"): fields[k] for k in ("x_delete_at", "x_delete_after") if k in fields
    }
    try:
        delete_at = delete_at_of(lifetime)
    except SwiftError as exc:
        raise FormInvalid(str(exc)) from exc
    if delete_at is not None:
        meta["x-delete-at"] = str(delete_at)
    limit = _int(fields, "max_file_size")
    try:
        resp = await service.objects.put(
            path.account, path.container, name, meta, _capped(reader.data(), limit), None
        )
    except TooLarge as exc:
        raise FormInvalid("max_file_size exceeded") from exc
    except SwiftError as exc:
        raise FormInvalid(f"{exc.status} {REASONS.get(exc.status, ('', ''))[0]}") from exc
    if resp.status >= 300:
        raise FormInvalid(f"{resp.status} {REASONS.get(resp.status, ('', ''))[0]}")


async def _capped(data: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in data:
        total += len(chunk)
        if total > limit:
            raise TooLarge()
        yield chunk


def _disposition(headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    return parse_header(headers.get("content-disposition", ""))


def _int(fields: dict[str, str], name: str) -> int:
    try:
        return int(fields.get(name, ""))
    except ValueError as exc:
        if name == "expires":
            raise FormUnauthorized("Form Expired") from exc
        raise FormInvalid(f"{name} invalid") from exc
