"""TempURL: object requests signed with an account's or container's key, no
token needed, as Swift's ``tempurl`` middleware.

The signature is an HMAC (SHA-1, SHA-256 or SHA-512; hex, or
``<digest>:<base64>``) over ``METHOD\\nEXPIRES\\nPATH``, where PATH is the
object's path (``/v1/AUTH_a/c/o``) or ``prefix:/v1/AUTH_a/c/<prefix>`` for a
``temp_url_prefix`` URL; PATH may also be the whole path the client used,
mount point included (``/object-store/v1/AUTH_a/c/o``): the storage URL's.  The keys are X-Account-Meta-Temp-URL-Key(-2) and
X-Container-Meta-Temp-URL-Key(-2).  A HEAD is allowed by a GET, PUT or POST
signature.  Anything wrong is Swift's 401 ``Temp URL invalid``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from calendar import timegm
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from stratus.objectstore.errors import Unauthorized
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    ObjectStore,
    Reply,
)

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
ACCOUNT_KEYS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")
CONTAINER_KEYS = ("x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2")
INVALID = "401 Unauthorized: Temp URL invalid\n"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Response headers a TempURL user does not see (Swift's outgoing_remove_headers),
# unless allowed (outgoing_allow_headers).
OUTGOING_REMOVE = "x-object-meta-"
OUTGOING_ALLOW = "x-object-meta-public-"


@dataclass(frozen=True)
class Grant:
    """What a valid TempURL lets through: one account, for one request."""

    account: str
    filename: str | None
    inline: bool


def invalid(account: str) -> Unauthorized:
    return Unauthorized(INVALID, headers={"www-authenticate": f'Swift realm="{account}"'})


def parse_expires(value: str) -> int | None:
    """Unix seconds, or ISO 8601 UTC (``2030-01-01T00:00:00Z``)."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return timegm(time.strptime(value, ISO_FORMAT))
    except ValueError:
        return None


def parse_signature(sig: str) -> tuple[str, bytes] | None:
    """(digest name, raw signature) of a hex or ``digest:base64`` signature."""
    if ":" in sig:
        name, _, encoded = sig.partition(":")
        if name not in DIGESTS:
            return None
        padded = encoded + "=" * (-len(encoded) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            return None
        return name, raw
    digest = HEX_LENGTHS.get(len(sig))
    if digest is None:
        return None
    try:
        return digest, bytes.fromhex(sig)
    except ValueError:
        return None


def signature(key: str, method: str, expires: int, path: str, digest: str = "sha256") -> str:
    """The hex signature a client computes (for tests and tools)."""
    body = f"{method}\n{expires}\n{path}".encode()
    return hmac.new(key.encode(), body, DIGESTS[digest]).hexdigest()


def _keys(headers: Mapping[str, str], names: tuple[str, ...]) -> list[str]:
    return [headers[n] for n in names if headers.get(n)]


async def check(
    app: ObjectStore,
    method: str,
    paths: tuple[str, ...],
    account: str,
    container: str,
    obj: str,
    query: Mapping[str, str],
) -> Grant:
    """The grant of a TempURL request, or 401.  ``paths`` are the decoded
    request paths a signature may cover (``/v1/<account>/<container>/<object>``,
    and the same with the mount point in front)."""
    sig = query.get("temp_url_sig", "")
    expires = parse_expires(query.get("temp_url_expires", ""))
    parsed = parse_signature(sig)
    if method not in METHODS or parsed is None or expires is None or expires < time.time():
        raise invalid(account)
    digest, raw = parsed
    prefix = query.get("temp_url_prefix")
    if prefix is not None:
        if not obj.startswith(prefix):
            raise invalid(account)
        covered = [f"prefix:{_container_path(path, container, obj)}{prefix}" for path in paths]
    else:
        covered = list(paths)
    keys = []
    acct = await app.info(account)
    if acct.status < 300:
        keys += _keys(acct.headers, ACCOUNT_KEYS)
    cont = await app.info(account, container)
    if cont.status < 300:
        keys += _keys(cont.headers, CONTAINER_KEYS)
    methods = [method] if method != "HEAD" else ["HEAD", "GET", "PUT", "POST"]
    for key in keys:
        for signed_method in methods:
            for signed in covered:
                body = f"{signed_method}\n{expires}\n{signed}".encode()
                expected = hmac.new(key.encode(), body, DIGESTS[digest]).digest()
                if hmac.compare_digest(expected, raw):
                    return Grant(account, query.get("filename"), "inline" in query)
    raise invalid(account)


def _container_path(path: str, container: str, obj: str) -> str:
    """``/v1/<account>/<container>/`` of an object's path."""
    return path[: len(path) - len(obj)]


def finish(reply: Reply, grant: Grant, method: str, obj: str) -> Reply:
    """The answer as a TempURL user gets it: metadata hidden, and a
    Content-Disposition on a successful GET (``filename``, ``inline``)."""
    headers = reply.headers
    for name in [n for n in headers if n.startswith(OUTGOING_REMOVE)]:
        if not name.startswith(OUTGOING_ALLOW):
            del headers[name]
    if method != "GET" or reply.status >= 300:
        return reply
    if grant.inline:
        value = "inline" + (_filename(grant.filename) if grant.filename else "")
    elif grant.filename:
        value = "attachment" + _filename(grant.filename)
    elif "content-disposition" in headers:
        return reply
    else:
        value = "attachment" + _filename(obj.rsplit("/", 1)[-1])
    headers["content-disposition"] = value
    return reply


def _filename(name: str) -> str:
    escaped = name.replace('"', '\\"')
    return f"; filename=\"{escaped}\"; filename*=UTF-8''{quote(name)}"


def signed(params: Mapping[str, str]) -> bool:
    return "temp_url_sig" in params or "temp_url_expires" in params


# Account and container requests: never signed (a signature there is invalid).
_UNSIGNED = (
    "head_account",
    "list_account",
    "post_account",
    "put_container",
    "head_container",
    "list_container",
    "post_container",
    "delete_container",
)


class TempUrlLayer(Layer):
    """Opens the object a valid signature names for this one request (no
    token needed; any token is ignored)."""

    def __init__(self, app: ObjectStore) -> None:
        super().__init__(app)
        for name in _UNSIGNED:
            setattr(self, name, _refuse_signed(getattr(app, name)))

    async def _open(self, caller: Caller, method: str, names: Names) -> Grant | None:
        if not signed(caller.params):
            return None
        grant = await check(self.app, method, caller.addressed, *names, caller.params)
        caller.preauth = names[0]
        caller.token = None  # a signed request is anonymous
        return grant

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        method = "HEAD" if head else "GET"
        grant = await self._open(caller, method, names)
        reply = await self.app.get_object(caller, names, headers, params, head=head)
        return reply if grant is None else finish(reply, grant, method, names[2])

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        grant = await self._open(caller, "PUT", names)
        reply = await self.app.put_object(caller, names, headers, params, body)
        return reply if grant is None else finish(reply, grant, "PUT", names[2])

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        await self._open(caller, "COPY", source)  # not a method a signature covers
        return await self.app.copy_object(caller, source, dest, headers)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        grant = await self._open(caller, "POST", names)
        reply = await self.app.post_object(caller, names, headers, params, body)
        return reply if grant is None else finish(reply, grant, "POST", names[2])

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        grant = await self._open(caller, "DELETE", names)
        reply = await self.app.delete_object(caller, names, headers, params)
        return reply if grant is None else finish(reply, grant, "DELETE", names[2])


def _refuse_signed(op: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def unsigned(caller: Caller, account: str, *args: Any) -> Any:
        if signed(caller.params):
            raise invalid(account)
        return await op(caller, account, *args)

    return unsigned
