"""Symlinks, as Swift's ``symlink`` middleware.

- ``PUT`` with ``X-Symlink-Target: <container>/<object>`` (and optionally
  ``X-Symlink-Target-Account``) and an empty body makes a symlink: a
  zero-byte object (``application/symlink`` unless another type is given)
  whose target is kept in its sysmeta.
- ``GET``/``HEAD`` of a symlink answer with its target (``Content-Location``
  names it), following at most ``SYMLOOP_MAX`` links; the caller must be
  able to read the target's container.  ``?symlink=get`` answers the symlink
  itself, with ``X-Symlink-Target`` (and ``-Account``).
- ``POST`` to a symlink sets the symlink's metadata and answers ``307``
  with the target in ``Location``.
- A **static link** (``X-Symlink-Target-Etag`` on the PUT) names the ETag
  its target must have: the PUT checks it (409 when the target is missing
  or differs) and keeps the target's size and type; a GET through it is 409
  when the target has changed since.  ``?symlink=get`` shows
  ``X-Symlink-Target-Etag`` and ``-Bytes``.
- Container listings name a link's target (``symlink_path``, and
  ``symlink_etag``/``symlink_bytes`` for a static one), carried in the
  listing row's ETag parameters, as Swift does.
- ``COPY`` (or ``X-Copy-From``) of a symlink copies its target; with
  ``?symlink=get`` it copies the symlink.  Layers above that copy objects
  for themselves (versioning) ask for the symlink with ``LINK_ITSELF``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

from stratus.objectstore.errors import (
    BadRequest,
    Conflict,
    PreconditionFailed,
    SwiftError,
    for_status,
)
from stratus.objectstore.layers.access import READ_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.headers import declared_length
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Listing,
    Names,
    Reply,
)
from stratus.objectstore.service.names import decode, split_target
from stratus.objectstore.service.quorum import close_body

SYMLOOP_MAX = 2
TARGET = "x-symlink-target"
TARGET_ACCOUNT = "x-symlink-target-account"
SYS_TARGET = "x-object-sysmeta-symlink-target"
SYS_ACCOUNT = "x-object-sysmeta-symlink-target-account"
TARGET_ETAG = "x-symlink-target-etag"
TARGET_BYTES = "x-symlink-target-bytes"
SYS_ETAG = "x-object-sysmeta-symlink-target-etag"
SYS_BYTES = "x-object-sysmeta-symlink-target-bytes"
OVERRIDE = "x-backend-container-update-override-etag"
STORED_OVERRIDE = "x-object-sysmeta-container-update-override-etag"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
VERSIONS_LINK = "x-object-sysmeta-versions-symlink"  # object versioning's own links
LINK_ITSELF = "x-backend-symlink-get"  # a layer's copy of the symlink, not its target
NONE: dict[str, str] = {}


def _wants_link(caller: Caller, headers: Headers) -> bool:
    return caller.params.get("symlink") == "get" or LINK_ITSELF in headers


def target_of(headers: Headers, account: str) -> Names | None:
    """The target a stored symlink names, or None for another object."""
    value = headers.get(SYS_TARGET)
    if not value:
        return None
    container, _, obj = unquote(value).partition("/")
    target_account = headers.get(SYS_ACCOUNT)
    return (unquote(target_account) if target_account else account, container, obj)


def link_headers(target: Names, account: str) -> dict[str, str]:
    """The sysmeta that makes an object a symlink to ``target`` (quoted, as
    Swift stores it: any name fits in a header)."""
    out = {SYS_TARGET: quote(f"{target[1]}/{target[2]}")}
    if target[0] != account:
        out[SYS_ACCOUNT] = quote(target[0])
    return out


def _location(target: Names) -> str:
    return "/v1/" + "/".join(quote(part) for part in target)


class SymlinkLayer(Layer):
    """Objects that point at other objects."""

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        if TARGET not in headers:
            if TARGET_ACCOUNT in headers:
                raise PreconditionFailed("X-Symlink-Target-Account requires X-Symlink-Target")
            return await self.app.put_object(caller, names, headers, params, body)
        if declared_length(headers) or "x-copy-from" in headers:
            raise BadRequest("Symlink requests require a zero byte body", plain=True)
        try:
            container, obj = split_target(headers[TARGET], self.limits)
        except PreconditionFailed as exc:
            raise PreconditionFailed(
                "X-Symlink-Target header must be of the form <container name>/<object name>",
                plain=True,
            ) from exc
        account = names[0]
        if TARGET_ACCOUNT in headers:
            account = decode(headers[TARGET_ACCOUNT].encode("latin-1"))
            if "/" in account or not account:
                raise PreconditionFailed("Account name cannot contain slashes")
        if (account, container, obj) == names:
            raise BadRequest("Symlink cannot target itself", plain=True)
        target = (account, container, obj)
        etag = _normalized(headers.get(TARGET_ETAG))
        if etag and any(c in etag for c in ';"\\'):
            raise BadRequest("Bad X-Symlink-Target-Etag format", plain=True)
        own = (TARGET, TARGET_ACCOUNT, TARGET_ETAG, TARGET_BYTES)
        stored = {k: v for k, v in headers.items() if k not in own}
        stored.update(link_headers(target, names[0]))
        listed = [EMPTY_MD5, f"symlink_target={stored[SYS_TARGET]}"]
        if SYS_ACCOUNT in stored:
            listed.append(f"symlink_target_account={stored[SYS_ACCOUNT]}")
        given = headers.get(TARGET_BYTES, "")
        if etag and caller.synced and given.isdigit():
            # A container sync's copy of a static link: taken as the source
            # checked it (its target may come later), as Swift's override.
            size = given
            stored.update({SYS_ETAG: etag, SYS_BYTES: size})
            listed += [f"symlink_target_etag={etag}", f"symlink_target_bytes={size}"]
        elif etag:
            found = await self._check_static(caller, target, etag)
            size = found.headers.get("x-object-sysmeta-slo-size") or found.headers.get(
                "content-length", "0"
            )
            stored.update({SYS_ETAG: etag, SYS_BYTES: size})
            stored.setdefault("content-type", found.headers.get("content-type", ""))
            listed += [f"symlink_target_etag={etag}", f"symlink_target_bytes={size}"]
        if not stored.get("content-type"):
            stored["content-type"] = "application/symlink"
        stored[OVERRIDE] = stored[STORED_OVERRIDE] = "; ".join(listed)
        return await self.app.put_object(caller, names, stored, params, body)

    async def _check_static(self, caller: Caller, target: Names, etag: str) -> Reply:
        """The target of a new static link, checked: it exists and has
        ``etag`` (409 otherwise), through static links but not dynamic ones."""
        # Swift's count starts at the target here, not at a link read before.
        resp, last = await self._walk(
            caller, target, NONE, NONE, True, expect=etag, soft=False, reads=SYMLOOP_MAX + 1
        )
        await close_body(resp)
        if resp.status == 404:
            raise Conflict(
                "X-Symlink-Target does not exist",
                headers={"content-location": _location(last)},
                plain=True,
            )
        if resp.status >= 300:
            raise for_status(resp.status)
        return resp

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        resp = await self.app.get_object(caller, names, headers, params, head=head)
        if resp.status == 416:
            # A Range over the zero bytes of a symlink: ask again without it.
            probe = await self._stored(caller, names)
            if target_of(probe.headers, names[0]) is None:
                return resp
            await close_body(resp)
            resp = probe
        target = target_of(resp.headers, names[0]) if resp.status < 300 else None
        if target is None:
            return resp
        if _wants_link(caller, headers):
            resp.headers[TARGET] = quote(f"{target[1]}/{target[2]}")
            if SYS_ACCOUNT in resp.headers:
                resp.headers[TARGET_ACCOUNT] = quote(target[0])
            if SYS_ETAG in resp.headers:
                resp.headers[TARGET_ETAG] = resp.headers[SYS_ETAG]
                resp.headers[TARGET_BYTES] = resp.headers.get(SYS_BYTES, "0")
            return resp
        await close_body(resp)
        trusted = VERSIONS_LINK in resp.headers  # its versions are readable with it
        expect = resp.headers.get(SYS_ETAG)
        return await self._follow(caller, target, headers, params, head, trusted, expect)

    async def _stored(self, caller: Caller, names: Names) -> Reply:
        resp = await self.app.get_object(caller, names, NONE, NONE, head=True)
        await close_body(resp)
        return resp

    async def _follow(
        self,
        caller: Caller,
        target: Names,
        headers: Headers,
        params: Headers,
        head: bool,
        trusted: bool = False,
        expect: str | None = None,
    ) -> Reply:
        """The object at the end of the links from ``target`` (the ETag a
        static link expects of it checked)."""
        resp, last = await self._walk(caller, target, headers, params, head, trusted, expect)
        if resp.status < 300 or resp.status in (304, 412):
            resp.headers["content-location"] = _location(last)
        return resp

    async def _walk(
        self,
        caller: Caller,
        target: Names,
        headers: Headers,
        params: Headers,
        head: bool,
        trusted: bool = False,
        expect: str | None = None,
        *,
        soft: bool = True,
        reads: int = SYMLOOP_MAX,
    ) -> tuple[Reply, Names]:
        """Swift's ``_recursive_get_head``: read ``target``, going on through
        the links found there (``reads`` objects at most; the first one's
        dynamic link followed only when ``soft``), each static link's ETag
        checked against what it names."""
        for hop in range(reads):
            if hop or not trusted:
                await caller.check("object_store:get_object", target[0], target[1], acl=READ_ACL)
            resp = await self.app.get_object(caller, target, headers, params, head=head)
            if resp.status == 416:
                probe = await self._stored(caller, target)
                if target_of(probe.headers, target[0]) is None:
                    return resp, target
                await close_body(resp)
                resp = probe
            following = target_of(resp.headers, target[0]) if resp.status < 300 else None
            static = resp.headers.get(SYS_ETAG) if following is not None else None
            if following is None or not (static or soft or hop):
                found = _normalized(resp.headers.get("etag")) if resp.status < 300 else None
                if expect and found and found != expect:
                    await close_body(resp)
                    raise _mismatch(
                        f"Object Etag {found!r} does not match "
                        f"X-Symlink-Target-Etag header {expect!r}",
                        target,
                    )
                return resp, target
            await close_body(resp)
            if expect and expect != (static or _normalized(resp.headers.get("etag"))):
                raise _mismatch("X-Symlink-Target-Etag headers do not match", target)
            if hop == reads - 1:
                break
            expect, target = static, following
        raise Conflict(
            f"Too many levels of symbolic links, maximum allowed is {SYMLOOP_MAX}", plain=True
        )

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        if TARGET in headers or TARGET_ACCOUNT in headers:
            raise BadRequest("A PUT request is required to set a symlink target", plain=True)
        resp = await self.app.post_object(caller, names, headers, params, body)
        if resp.status >= 300 or resp.body is not None:
            return resp
        link = await self._stored(caller, names)
        target = target_of(link.headers, names[0])
        if target is None:
            return resp
        location = _location(target)
        page = (
            f"<html><h1>Temporary Redirect</h1><p>The resource has moved to {location}.</p></html>"
        )
        data = page.encode()
        out = {
            "location": location,
            "content-type": "text/html; charset=UTF-8",
            "content-length": str(len(data)),
        }
        if SYS_ETAG in link.headers:
            out[TARGET_ETAG] = link.headers[SYS_ETAG]
        return Reply(307, out, _once(data))

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        stored = await self._stored(caller, source)
        target = target_of(stored.headers, source[0]) if stored.status < 300 else None
        own = {k: v for k, v in headers.items() if k != LINK_ITSELF}
        if target is None:
            return await self.app.copy_object(caller, source, dest, own)
        if _wants_link(caller, headers):
            for name in (SYS_TARGET, SYS_ACCOUNT, SYS_ETAG, SYS_BYTES, STORED_OVERRIDE):
                if name in stored.headers:
                    own[name] = stored.headers[name]
            return await self.app.copy_object(caller, source, dest, own)
        if VERSIONS_LINK not in stored.headers:
            await caller.check("object_store:get_object", target[0], target[1], acl=READ_ACL)
        return await self.app.copy_object(caller, await self._resolve(caller, target), dest, own)

    async def _resolve(self, caller: Caller, target: Names) -> Names:
        """The last object of a chain of links (its reads allowed)."""
        for _hop in range(SYMLOOP_MAX):
            stored = await self._stored(caller, target)
            following = target_of(stored.headers, target[0]) if stored.status < 300 else None
            if following is None:
                return target
            await caller.check("object_store:get_object", following[0], following[1], acl=READ_ACL)
            target = following
        raise Conflict(f"Too many levels of symbolic links, maximum allowed is {SYMLOOP_MAX}")


    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing:
        listing = await self.app.list_container(caller, account, container, query)
        for entry in listing.entries:
            if "; symlink_target=" in str(entry.get("hash", "")):
                _symlink_entry(entry, account)
        return listing


def _symlink_entry(entry: dict[str, object], account: str) -> None:
    """A listing row of a link: its ETag parameters become ``symlink_path``
    (and ``symlink_etag``/``symlink_bytes``), as Swift's listing shows them."""
    value, *params = str(entry["hash"]).split(";")
    kept = []
    target = None
    for param in params:
        key, _, val = param.strip().partition("=")
        if key == "symlink_target":
            target = val
        elif key == "symlink_target_account":
            account = val
        elif key == "symlink_target_etag":
            entry["symlink_etag"] = val
        elif key == "symlink_target_bytes":
            entry["symlink_bytes"] = int(val) if val.isdigit() else 0
        else:
            kept.append(f"; {key}={val}")
    entry["hash"] = value.strip() + "".join(kept)
    if target:
        entry["symlink_path"] = f"/v1/{account}/{target}"


def _normalized(etag: str | None) -> str | None:
    """An ETag without its quotes (Swift's ``normalize_etag``)."""
    if etag and len(etag) > 1 and etag.startswith('"') and etag.endswith('"'):
        return etag[1:-1]
    return etag


def _mismatch(message: str, target: Names) -> SwiftError:
    return Conflict(message, headers={"content-location": _location(target)}, plain=True)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
