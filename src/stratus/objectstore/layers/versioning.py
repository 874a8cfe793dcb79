"""Object versioning, as Swift's ``versioned_writes`` (the container-header
modes):

- ``X-Versions-Location: <archive>`` (stack): an overwrite first copies the
  previous version into the archive container as
  ``<len(name):03x><name>/<timestamp>``; a DELETE restores the latest
  archived version (and removes it from the archive), or deletes when there
  is none.
- ``X-History-Location: <archive>`` (history): overwrites are archived the
  same way; a DELETE archives the current version, writes a zero-byte delete
  marker (``application/x-deleted;swift_versions_deleted=1``) and deletes
  the object, so that every version stays in the archive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import BadRequest, PreconditionFailed
from stratus.objectstore.layers.access import WRITE_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.layers.symlink import LINK_ITSELF
from stratus.objectstore.service.interface import Body, Caller, Headers, Names, Reply
from stratus.objectstore.service.names import header_text, header_value
from stratus.objectstore.service.quorum import close_body

STACK = "x-versions-location"
HISTORY = "x-history-location"
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
BOTH = "Only one of X-Versions-Location or X-History-Location may be specified"
NONE: dict[str, str] = {}
LINK = {LINK_ITSELF: "true"}  # a symlink is archived (and restored) as the symlink


def check_headers(headers: Headers) -> Headers:
    """A container PUT's or POST's versioning headers, checked; setting one
    mode clears the other.  The headers as they go on."""
    stack, history = (headers.get(STACK) or "").strip(), (headers.get(HISTORY) or "").strip()
    if not stack and not history:
        return headers
    if stack and history:
        raise BadRequest(BOTH)
    out = dict(headers)
    for name, value in ((STACK, stack), (HISTORY, history)):
        if value:
            archive = unquote(header_text(value))
            if "/" in archive.strip("/") or not archive.strip("/"):
                raise PreconditionFailed(f"{name} must be a container name")
            out[name] = header_value(archive.strip("/"))
    out[HISTORY if stack else STACK] = ""
    return out


def prefix_of(obj: str) -> str:
    return f"{len(obj.encode()):03x}{obj}/"


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


class VersioningLayer(Layer):
    """Archives what an overwrite or a delete would lose."""

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply:
        return await self.app.put_container(caller, account, container, check_headers(headers))

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        headers = check_headers(headers)
        return await self.app.post_container(caller, account, container, headers, params, body)

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        await self._before_write(caller, names)
        return await self.app.put_object(caller, names, headers, params, body)

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        await self._before_write(caller, dest)
        return await self.app.copy_object(caller, source, dest, headers)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        account, container, obj = names
        mode, archive = await self._mode_of(account, container)
        if not mode:
            return await self.app.delete_object(caller, names, headers, params)
        await caller.check("object_store:put_object", account, archive, acl=WRITE_ACL)
        if mode == HISTORY:
            await self._archive_current(caller, names, archive)
            marker = prefix_of(obj) + Timestamp.now().internal
            stored = {"content-type": DELETE_MARKER, "content-length": "0"}
            await self.app.put_object(caller, (account, archive, marker), stored, NONE, _empty())
            return await self.app.delete_object(caller, names, NONE, NONE)
        return await self._restore(caller, names, archive)

    # -- the archive -----------------------------------------------------------------------

    async def _mode_of(self, account: str, container: str) -> tuple[str, str]:
        """(mode header, archive container) of a container, or ("", "")."""
        info = await self.app.info(account, container)
        if info.status >= 300:
            return "", ""
        for name in (STACK, HISTORY):
            if info.headers.get(name):
                return name, unquote(header_text(info.headers[name]))
        return "", ""

    async def _before_write(self, caller: Caller, names: Names) -> None:
        mode, archive = await self._mode_of(names[0], names[1])
        if mode:
            await caller.check("object_store:put_object", names[0], archive, acl=WRITE_ACL)
            await self._archive_current(caller, names, archive)

    async def _archive_current(self, caller: Caller, names: Names, archive: str) -> bool:
        """Copy the current version into the archive; False when there is none."""
        head = await self.app.get_object(caller, names, LINK, NONE, head=True)
        if head.status == 404:
            return False
        if head.status >= 300:
            raise PreconditionFailed()
        stamp = Timestamp(head.headers.get("x-timestamp") or Timestamp.now().internal)
        name = prefix_of(names[2]) + stamp.internal
        resp = await self.app.copy_object(caller, names, (names[0], archive, name), LINK)
        if resp.status >= 300:
            raise PreconditionFailed()
        return True

    async def _restore(self, caller: Caller, names: Names, archive: str) -> Reply:
        account, container, obj = names
        query = {"prefix": prefix_of(obj), "reverse": "true", "limit": "100"}
        listing = await self.app.list_container(caller, account, archive, query)
        versions = [e for e in listing.entries if "name" in e] if listing.status < 300 else []
        for entry in versions:
            version = (account, archive, str(entry["name"]))
            if entry.get("content_type") == DELETE_MARKER:
                await self.app.delete_object(caller, version, NONE, NONE)
                continue
            src = await self.app.get_object(caller, version, LINK, NONE, head=True)
            await close_body(src)
            if src.status == 404:
                continue
            resp = await self.app.copy_object(caller, version, names, LINK)
            if resp.status >= 300:
                return Reply(resp.status)
            await self.app.delete_object(caller, version, NONE, NONE)
            return Reply(204)
        return await self.app.delete_object(caller, names, NONE, NONE)
