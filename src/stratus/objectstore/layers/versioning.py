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

from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import BadRequest, PreconditionFailed
from stratus.objectstore.layers.large import empty
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import close_body

STACK = "x-versions-location"
HISTORY = "x-history-location"
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
BOTH = "Only one of X-Versions-Location or X-History-Location may be specified"
Check = Callable[[str], Awaitable[None]]  # raises unless the caller may write there


def check_headers(headers: dict[str, str]) -> None:
    """A container PUT's or POST's versioning headers, checked; setting one
    mode clears the other."""
    stack, history = headers.get(STACK), headers.get(HISTORY)
    if stack and history:
        raise BadRequest(BOTH)
    for name, value in ((STACK, stack), (HISTORY, history)):
        if value:
            archive = unquote(value)
            if "/" in archive.strip("/") or not archive.strip("/"):
                raise PreconditionFailed(f"{name} must be a container name")
            headers[name] = archive.strip("/")
    if stack:
        headers[HISTORY] = ""
    if history:
        headers[STACK] = ""


def prefix_of(obj: str) -> str:
    return f"{len(obj.encode()):03x}{obj}/"


async def mode_of(service: ObjectStoreService, account: str, container: str) -> tuple[str, str]:
    """(mode header, archive container) of a container, or ("", "")."""
    info = await service.proxy.info(account, container)
    if info.status >= 300:
        return "", ""
    for name in (STACK, HISTORY):
        if info.headers.get(name):
            return name, unquote(info.headers[name])
    return "", ""


async def archive_current(
    service: ObjectStoreService, account: str, container: str, obj: str, archive: str
) -> bool:
    """Copy the current version into the archive; False when there is none."""
    head = await service.objects.read("HEAD", account, container, obj)
    if head.status == 404:
        return False
    if head.status >= 300:
        raise PreconditionFailed()
    stamp = Timestamp(head.headers.get("x-timestamp") or Timestamp.now().internal)
    name = prefix_of(obj) + stamp.internal
    resp = await service.objects.copy((account, container, obj), (account, archive, name), {})
    if resp.status >= 300:
        raise PreconditionFailed()
    return True


async def before_put(
    service: ObjectStoreService, account: str, container: str, obj: str, may_write: Check
) -> None:
    mode, archive = await mode_of(service, account, container)
    if mode:
        await may_write(archive)
        await archive_current(service, account, container, obj, archive)


async def delete(
    service: ObjectStoreService, account: str, container: str, obj: str, may_write: Check
) -> NodeResponse | None:
    """The DELETE of a versioned object (None: the container keeps no versions)."""
    mode, archive = await mode_of(service, account, container)
    if not mode:
        return None
    await may_write(archive)
    if mode == HISTORY:
        await archive_current(service, account, container, obj, archive)
        marker = prefix_of(obj) + Timestamp.now().internal
        headers = {"content-type": DELETE_MARKER}
        await service.objects.put(account, archive, marker, headers, empty(), 0)
        return await service.objects.delete(account, container, obj)
    return await _restore(service, account, container, obj, archive)


async def _restore(
    service: ObjectStoreService, account: str, container: str, obj: str, archive: str
) -> NodeResponse:
    listing = await service.containers.get(
        account, archive, {"prefix": prefix_of(obj), "reverse": "true", "limit": "100"}
    )
    versions = [e for e in listing.entries if "name" in e] if listing.status < 300 else []
    for entry in versions:
        name = str(entry["name"])
        if entry.get("content_type") == DELETE_MARKER:
            await service.objects.delete(account, archive, name)
            continue
        src = await service.objects.read("HEAD", account, archive, name)
        await close_body(src)
        if src.status == 404:
            continue
        resp = await service.objects.copy((account, archive, name), (account, container, obj), {})
        if resp.status >= 300:
            return NodeResponse(resp.status)
        await service.objects.delete(account, archive, name)
        return NodeResponse(204)
    return await service.objects.delete(account, container, obj)
