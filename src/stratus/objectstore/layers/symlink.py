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
- ``COPY`` (or ``X-Copy-From``) of a symlink copies its target; with
  ``?symlink=get`` it copies the symlink.  Layers above that copy objects
  for themselves (versioning) ask for the symlink with ``LINK_ITSELF``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

from stratus.objectstore.errors import BadRequest, Conflict, PreconditionFailed
from stratus.objectstore.layers.access import READ_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.headers import declared_length
from stratus.objectstore.service.interface import Body, Caller, Headers, Names, Reply
from stratus.objectstore.service.names import decode, split_target
from stratus.objectstore.service.quorum import close_body

SYMLOOP_MAX = 2
TARGET = "x-symlink-target"
TARGET_ACCOUNT = "x-symlink-target-account"
SYS_TARGET = "x-object-sysmeta-symlink-target"
SYS_ACCOUNT = "x-object-sysmeta-symlink-target-account"
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
            raise BadRequest("Symlink requests require a zero byte body")
        try:
            container, obj = split_target(headers[TARGET], self.limits)
        except PreconditionFailed as exc:
            raise PreconditionFailed(
                "X-Symlink-Target header must be of the form <container name>/<object name>"
            ) from exc
        account = names[0]
        if TARGET_ACCOUNT in headers:
            account = decode(headers[TARGET_ACCOUNT].encode("latin-1"))
            if "/" in account or not account:
                raise PreconditionFailed("Account name cannot contain slashes")
        if (account, container, obj) == names:
            raise BadRequest("Symlink cannot target itself")
        stored = {k: v for k, v in headers.items() if k not in (TARGET, TARGET_ACCOUNT)}
        stored.setdefault("content-type", "application/symlink")
        stored.update(link_headers((account, container, obj), names[0]))
        return await self.app.put_object(caller, names, stored, params, body)

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
            return resp
        await close_body(resp)
        trusted = VERSIONS_LINK in resp.headers  # its versions are readable with it
        return await self._follow(caller, target, headers, params, head, trusted)

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
    ) -> Reply:
        """The object at the end of the links from ``target``."""
        for hop in range(SYMLOOP_MAX):
            if hop or not trusted:
                await caller.check("object_store:get_object", target[0], target[1], acl=READ_ACL)
            resp = await self.app.get_object(caller, target, headers, params, head=head)
            if resp.status == 416:
                probe = await self._stored(caller, target)
                if target_of(probe.headers, target[0]) is None:
                    return resp
                await close_body(resp)
                resp = probe
            following = target_of(resp.headers, target[0]) if resp.status < 300 else None
            if following is None:
                if resp.status < 300 or resp.status in (304, 412):
                    resp.headers["content-location"] = _location(target)
                return resp
            await close_body(resp)
            target = following
        raise Conflict(f"Too many levels of symbolic links, maximum allowed is {SYMLOOP_MAX}")

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        if TARGET in headers or TARGET_ACCOUNT in headers:
            raise BadRequest("A PUT request is required to set a symlink target")
        resp = await self.app.post_object(caller, names, headers, params, body)
        if resp.status >= 300 or resp.body is not None:
            return resp
        target = target_of((await self._stored(caller, names)).headers, names[0])
        if target is None:
            return resp
        location = _location(target)
        page = (
            f"<html><h1>Temporary Redirect</h1><p>The resource has moved to {location}.</p></html>"
        )
        data = page.encode()
        return Reply(
            307,
            {
                "location": location,
                "content-type": "text/html; charset=UTF-8",
                "content-length": str(len(data)),
            },
            _once(data),
        )

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        stored = await self._stored(caller, source)
        target = target_of(stored.headers, source[0]) if stored.status < 300 else None
        own = {k: v for k, v in headers.items() if k != LINK_ITSELF}
        if target is None:
            return await self.app.copy_object(caller, source, dest, own)
        if _wants_link(caller, headers):
            for name in (SYS_TARGET, SYS_ACCOUNT):
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


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
