"""Object versioning, the newer mode of Swift's ``versioned_writes``
(``object_versioning``), on the same design: static links.

- ``X-Versions-Enabled: true`` on a container's PUT or POST turns it on (400
  with the legacy X-Versions-Location or X-History-Location); ``false``
  turns it off, keeping the versions.  The versions live in a hidden
  container (``\\x00versions\\x00<container>``: no client can name it, and
  account listings leave it out) as ``<object>\\x00<inverted timestamp>``.
- A PUT writes the data there and a symlink to it (with the version's size,
  ETag and type in the listing) in the container; the answer carries
  ``X-Object-Version-Id``.  An object written before versioning was on (the
  ``null`` version) is moved into the versions first.
- A DELETE writes a zero-byte delete marker
  (``application/x-deleted;swift_versions_deleted=1``) among the versions and
  removes the symlink.
- ``?version-id=<id>`` reads (GET, HEAD) or deletes one version (a delete
  marker reads as 404); deleting the current version removes the symlink
  too.  PUT and POST refuse it.
- ``GET <container>?versions`` lists every version, newest first by name,
  with ``version_id`` and ``is_latest``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import BadRequest, Conflict, NotFound, for_status
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.layers.symlink import (
    LINK_ITSELF,
    SYS_TARGET,
    VERSIONS_LINK,
    link_headers,
)
from stratus.objectstore.layers.version_listing import (
    ID_PARAM,
    SYS_ENABLED,
    show_state,
    strip_id,
    version_name,
    version_of,
    versions_listing,
    versions_of,
)
from stratus.objectstore.layers.versioning import DELETE_MARKER, HISTORY, STACK
from stratus.objectstore.service.interface import Body, Caller, Headers, Listing, Names, Reply
from stratus.objectstore.service.quorum import close_body

ENABLED = "x-versions-enabled"
SYNC_TO = "x-container-sync-to"
VERSION_ID = "x-object-version-id"
OVERRIDE = "x-backend-container-update-override-"
STORED_OVERRIDE = "x-object-sysmeta-container-update-override-"
LINK = {LINK_ITSELF: "true"}
NONE: dict[str, str] = {}


def _truth(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise BadRequest(f"Invalid {ENABLED}: {value}")


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


class ObjectVersioningLayer(Layer):
    """Versions kept by id, the current one reached through a static link."""

    # -- containers --------------------------------------------------------------------------

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply:
        headers = await self._enabling(account, container, headers)
        return await self.app.put_container(caller, account, container, headers)

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        headers = await self._enabling(account, container, headers)
        return await self.app.post_container(caller, account, container, headers, params, body)

    async def _enabling(self, account: str, container: str, headers: Headers) -> Headers:
        if ENABLED not in headers:
            state = await self._state(account, container) if _versions_matter(headers) else None
            if state is not None and (headers.get(STACK) or headers.get(HISTORY)):
                raise BadRequest("Cannot set legacy versioning on a versioned container")
            if state is True and headers.get(SYNC_TO):
                # Swift's rule: the versions live in a hidden container no sync sends.
                raise BadRequest(
                    "Cannot configure container sync on a container with object "
                    "versioning configured."
                )
            return headers
        on = _truth(headers[ENABLED])
        if on:
            info = await self.app.info(account, container)
            legacy = {**info.headers, **headers} if info.status < 300 else dict(headers)
            if legacy.get(STACK) or legacy.get(HISTORY):
                raise BadRequest(
                    "Cannot enable object versioning on a container that is already "
                    "using the legacy versioned writes feature."
                )
            if legacy.get(SYNC_TO):
                raise BadRequest(
                    "Cannot enable object versioning on a container configured as "
                    "source of container syncing."
                )
            made = await self.app.put_container(Caller(""), account, versions_of(container), {})
            if made.status >= 300:
                return await self._fail(made)
        out = {k: v for k, v in headers.items() if k != ENABLED}
        out[SYS_ENABLED] = "true" if on else "false"
        return out

    async def _fail(self, resp: Reply) -> Headers:
        raise for_status(resp.status)

    async def head_container(self, caller: Caller, account: str, container: str) -> Reply:
        resp = await self.app.head_container(caller, account, container)
        show_state(resp.headers)
        return resp

    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing:
        state = await self._state(account, container)
        if "versions" in caller.params and state is not None:
            return await versions_listing(self.app, caller, (account, container), query)
        result = await self.app.list_container(caller, account, container, query)
        show_state(result.headers)
        for entry in result.entries if state is not None else []:
            strip_id(entry)  # only a once-versioned container holds versioning links
        return result

    async def list_account(self, caller: Caller, account: str, query: Headers) -> Listing:
        result = await self.app.list_account(caller, account, query)
        result.entries = [
            e for e in result.entries if not str(e.get("name", "")).startswith("\x00")
        ]
        return result

    async def delete_container(self, caller: Caller, account: str, container: str) -> Reply:
        if await self._state(account, container) is None:
            return await self.app.delete_container(caller, account, container)
        hidden = versions_of(container)
        listing = await self.app.list_container(caller, account, hidden, {"limit": "1"})
        if listing.status < 300 and listing.entries:
            raise Conflict()
        resp = await self.app.delete_container(caller, account, container)
        if resp.status < 300:
            await self.app.delete_container(caller, account, hidden)
        return resp

    async def _state(self, account: str, container: str) -> bool | None:
        """Versioning on (True), off after having been on (False), or never (None)."""
        info = await self.app.info(account, container)
        value = info.headers.get(SYS_ENABLED) if info.status < 300 else None
        return None if value is None else value == "true"

    # -- objects -----------------------------------------------------------------------------

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        if "version-id" in params:
            raise BadRequest("version-id is only allowed on GET, HEAD, COPY and DELETE")
        if not await self._state(names[0], names[1]):
            return await self.app.put_object(caller, names, headers, params, body)
        account, container, obj = names
        await self._keep_null(caller, names)
        version = Timestamp.now().normal
        kept = versions_of(container), version_name(obj, version)
        stored = {k: v for k, v in headers.items() if k not in ("x-delete-at", "x-delete-after")}
        resp = await self.app.put_object(caller, (account, *kept), stored, params, body)
        if resp.status >= 300:
            return resp
        await self._link(caller, names, kept[1], version)
        return Reply(resp.status, {**resp.headers, VERSION_ID: version})

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        wanted = caller.params.get("version-id")
        if wanted is not None and wanted != "null":
            source = (source[0], versions_of(source[1]), version_name(source[2], wanted))
        if not await self._state(dest[0], dest[1]):
            return await self.app.copy_object(caller, source, dest, headers)
        await self._keep_null(caller, dest)
        version = Timestamp.now().normal
        kept = versions_of(dest[1]), version_name(dest[2], version)
        resp = await self.app.copy_object(caller, source, (dest[0], *kept), headers)
        if resp.status >= 300:
            return resp
        await self._link(caller, dest, kept[1], version)
        return Reply(resp.status, {**resp.headers, VERSION_ID: version})

    async def _link(self, caller: Caller, names: Names, kept: str, version: str) -> None:
        """The container's object: a link to the version just written, listed
        with the version's size, ETag and type (and id)."""
        account, container, obj = names
        target = (account, versions_of(container), kept)
        head = await self.app.get_object(caller, target, NONE, NONE, head=True)
        await close_body(head)
        ctype = head.headers.get("content-type", "application/octet-stream")
        listed = {
            "etag": head.headers.get("etag", "").strip('"'),
            "size": head.headers.get("content-length", "0"),
            "content-type": f"{ctype}{ID_PARAM}{version}",
        }
        link = {
            "content-type": ctype,
            "content-length": "0",
            VERSIONS_LINK: "true",
            **link_headers(target, account),
            **{OVERRIDE + k: v for k, v in listed.items()},
            **{STORED_OVERRIDE + k: v for k, v in listed.items()},
        }
        made = await self.app.put_object(caller, names, link, NONE, _empty())
        if made.status >= 300:
            raise for_status(made.status)

    async def _current(self, caller: Caller, names: Names) -> Reply:
        """The container's object as stored (a link is not followed)."""
        resp = await self.app.get_object(caller, names, LINK, NONE, head=True)
        await close_body(resp)
        return resp

    async def _keep_null(self, caller: Caller, names: Names) -> None:
        """An object written while versioning was off, moved among the
        versions (with its own time as its id) before it is replaced."""
        current = await self._current(caller, names)
        if current.status >= 300 or SYS_TARGET in current.headers:
            return
        stamp = Timestamp(current.headers.get("x-timestamp") or Timestamp.now().internal)
        kept = (names[0], versions_of(names[1]), version_name(names[2], stamp.normal))
        await self.app.copy_object(caller, names, kept, LINK)

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        wanted = params.get("version-id")
        if wanted is None:
            resp = await self.app.get_object(caller, names, headers, params, head=head)
            _show_version(resp)
            return resp
        if await self._state(names[0], names[1]) is None:
            raise BadRequest("version-id needs a versioned container")
        if wanted == "null":
            current = await self._current(caller, names)
            if current.status >= 300 or SYS_TARGET in current.headers:
                raise NotFound()
            resp = await self.app.get_object(caller, names, headers, NONE, head=head)
            if resp.status < 300:
                resp.headers[VERSION_ID] = "null"
            return resp
        kept = (names[0], versions_of(names[1]), version_name(names[2], wanted))
        resp = await self.app.get_object(caller, kept, headers, NONE, head=head)
        if resp.status < 300 and resp.headers.get("content-type") == DELETE_MARKER:
            await close_body(resp)
            raise NotFound()
        if resp.status < 300 or resp.status == 206:
            resp.headers[VERSION_ID] = wanted
        return resp

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        if "version-id" in params:
            raise BadRequest("version-id is only allowed on GET, HEAD, COPY and DELETE")
        if await self._state(names[0], names[1]) is not None:
            current = await self._current(caller, names)
            if VERSIONS_LINK in current.headers:
                # The metadata goes to the current version's data.
                names = (names[0], versions_of(names[1]), _kept_name(current.headers))
        return await self.app.post_object(caller, names, headers, params, body)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        wanted = params.get("version-id")
        state = await self._state(names[0], names[1])
        if wanted is not None:
            if state is None:
                raise BadRequest("version-id needs a versioned container")
            return await self._delete_version(caller, names, wanted)
        if not state:
            return await self.app.delete_object(caller, names, headers, params)
        await self._keep_null(caller, names)
        marker = Timestamp.now().normal
        kept = (names[0], versions_of(names[1]), version_name(names[2], marker))
        stored = {"content-type": DELETE_MARKER, "content-length": "0"}
        await self.app.put_object(caller, kept, stored, NONE, _empty())
        await self.app.delete_object(caller, names, NONE, NONE)
        return Reply(204, {VERSION_ID: marker})

    async def _delete_version(self, caller: Caller, names: Names, wanted: str) -> Reply:
        current = await self._current(caller, names)
        is_link = SYS_TARGET in current.headers
        if wanted == "null":
            if current.status >= 300 or is_link:
                return Reply(404)
            resp = await self.app.delete_object(caller, names, NONE, NONE)
            return Reply(resp.status, {VERSION_ID: "null"})
        name = version_name(names[2], wanted)
        if is_link and _kept_name(current.headers) == name:
            await self.app.delete_object(caller, names, NONE, NONE)
        kept = (names[0], versions_of(names[1]), name)
        resp = await self.app.delete_object(caller, kept, NONE, NONE)
        return Reply(resp.status, {VERSION_ID: wanted} if resp.status < 300 else {})


def _kept_name(headers: Headers) -> str:
    """The versions-container name a versioning link points at."""
    return unquote(headers.get(SYS_TARGET, "")).partition("/")[2]


def _show_version(resp: Reply) -> None:
    """A read through a versioning link says which version it read."""
    location = resp.headers.get("content-location")
    if resp.status >= 300 or not location:
        return
    parts = unquote(location).split("/", 4)  # "", "v1", account, container, object
    if len(parts) == 5:
        version = version_of(parts[3], parts[4])
        if version is not None:
            resp.headers[VERSION_ID] = version
            del resp.headers["content-location"]


def _versions_matter(headers: Headers) -> bool:
    """Whether a container write without X-Versions-Enabled sets what a
    versioned container refuses (legacy versioning, container sync)."""
    return bool(headers.get(STACK) or headers.get(HISTORY) or headers.get(SYNC_TO))
