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

from stratus.objectstore.errors import REASONS, SwiftError, TooLarge
from stratus.objectstore.layers.base import Layer
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
from stratus.objectstore.service.headers import delete_at_of
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    ObjectStore,
    Reply,
)
from stratus.objectstore.service.quorum import iterate

FIELD_LIMIT = 8192
ATTRIBUTES = ("redirect", "max_file_size", "max_file_count", "expires", "signature")


class FormInvalid(Exception):
    """A 400 for the form (redirected, when the form asks for it)."""


class FormUnauthorized(Exception):
    """A 401 (never redirected)."""


def is_form(headers: Headers) -> bool:
    return boundary_of(headers.get("content-type", "")) is not None


def form_signature(key: str, path: str, redirect: str, size: int, count: int, expires: int) -> str:
    """The hex SHA-256 signature a form carries (for tests and tools)."""
    body = f"{path}\n{redirect}\n{size}\n{count}\n{expires}".encode()
    return hmac.new(key.encode(), body, DIGESTS["sha256"]).hexdigest()


async def handle(
    app: ObjectStore, caller: Caller, names: Names, headers: Headers, body: Body | None
) -> Reply:
    """A form's answer: 201 (or the form's redirect with the status), 400
    for a bad form, 401 for a bad signature."""
    boundary = boundary_of(headers.get("content-type", ""))
    assert boundary is not None
    fields: dict[str, str] = {}
    try:
        status, message = await _process(app, caller, names, body or iterate(b""), boundary, fields)
    except FormUnauthorized as exc:
        return _page(401, f"FormPost: {exc}".encode(), "text/plain; charset=UTF-8")
    except (FormInvalid, MalformedForm) as exc:
        status, message = 400, str(exc)
    redirect = fields.get("redirect", "")
    reason = REASONS.get(status, ("", ""))[0]
    if redirect:
        sep = "&" if "?" in redirect else "?"
        location = f"{redirect}{sep}status={status}&message={quote(message)}"
        link = f'<html><body><p><a href="{escape(location)}">Click to continue...</a></p></body></html>'
        reply = _page(303, link.encode(), "text/html")
        reply.headers["location"] = location
        return reply
    text = f"<html><body><h1>{status} {reason}</h1><p>FormPost: {escape(message)}</p></body></html>"
    return _page(status, text.encode(), "text/html")


def _page(status: int, body: bytes, media: str) -> Reply:
    headers = {"content-type": media, "content-length": str(len(body))}
    return Reply(status, headers, iterate(body))


async def _process(
    app: ObjectStore,
    caller: Caller,
    names: Names,
    body: Body,
    boundary: str,
    fields: dict[str, str],
) -> tuple[int, str]:
    reader = FormReader(body, boundary)
    checked = False
    stored = 0
    async for headers in reader.parts():
        _kind, params = _disposition(headers)
        if "filename" not in params:
            value = await reader.read(FIELD_LIMIT)
            fields[params.get("name", "")] = value.decode("utf-8", "replace")
            continue
        if not checked:
            await _check(app, caller, names, fields)
            checked = True
        if not params["filename"]:
            continue  # an empty file input
        if stored >= _int(fields, "max_file_count"):
            raise FormInvalid("max file count exceeded")
        stored += 1
        await _store(app, caller, names, headers, params["filename"], reader, fields)
    if not checked:
        await _check(app, caller, names, fields)
    return 201, ""


async def _check(app: ObjectStore, caller: Caller, names: Names, fields: dict[str, str]) -> None:
    """The form's signature, by the account's or the container's key; the
    account is then open to this request (the caller's token is ignored)."""
    account, container, _prefix = names
    expires = _int(fields, "expires")
    if expires < time.time():
        raise FormUnauthorized("Form Expired")
    parsed = parse_signature(fields.get("signature", ""))
    if parsed is None:
        raise FormUnauthorized("Invalid Signature")
    digest, raw = parsed
    keys: list[str] = []
    acct = await app.info(account)
    if acct.status < 300:
        keys += [acct.headers[k] for k in ACCOUNT_KEYS if acct.headers.get(k)]
    cont = await app.info(account, container)
    if cont.status < 300:
        keys += [cont.headers[k] for k in CONTAINER_KEYS if cont.headers.get(k)]
    attributes = [fields.get(name, "") for name in ATTRIBUTES[:4]]
    for key in keys:
        for path in caller.addressed:
            signed = "\n".join([path, *attributes]).encode()
            if hmac.compare_digest(hmac.new(key.encode(), signed, DIGESTS[digest]).digest(), raw):
                caller.preauth = account
                caller.token = None
                return
    raise FormUnauthorized("Invalid Signature")


async def _store(
    app: ObjectStore,
    caller: Caller,
    names: Names,
    headers: dict[str, str],
    filename: str,
    reader: FormReader,
    fields: dict[str, str],
) -> None:
    account, container, prefix = names
    meta: dict[str, str] = {
        "content-type": headers.get("content-type") or "application/octet-stream",
        "transfer-encoding": "chunked",
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
        resp = await app.put_object(
            caller, (account, container, prefix + filename), meta, {}, _capped(reader.data(), limit)
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


class FormPostLayer(Layer):
    """A POST of ``multipart/form-data`` to a container (or an object name,
    the prefix of the files' names) is a FormPost; any other POST passes."""

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        if not is_form(headers):
            return await self.app.post_container(caller, account, container, headers, params, body)
        return await handle(self.app, caller, (account, container, ""), headers, body)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        if not is_form(headers):
            return await self.app.post_object(caller, names, headers, params, body)
        return await handle(self.app, caller, names, headers, body)
