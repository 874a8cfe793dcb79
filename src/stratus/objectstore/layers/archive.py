"""Archive extraction, as Swift's ``bulk`` middleware does it: ``PUT
/v1/<account>[/<container>[/<prefix>]]?extract-archive=tar|tar.gz|tar.bz2``
makes an object of every regular file in the archive, below the path the
archive was sent to, creating the containers it names.

The archive is read as it arrives, in constant memory: Python's ``tarfile``
(its stream mode, which never seeks) runs in worker threads and reads the
request body through :class:`BodyFile`, which takes each chunk from the
event loop; each member's data is handed to the object PUT as a stream.
"""

from __future__ import annotations

import asyncio
import tarfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any, Literal, cast
from urllib.parse import quote

from stratus.objectstore.errors import BadRequest, SwiftError, Unauthorized, body_of, status_line
from stratus.objectstore.service.interface import Body
from stratus.objectstore.service.limits import Limits
from stratus.objectstore.service.names import check_object_name

MAX_CONTAINERS = 10000  # containers one archive may create
MAX_FAILED = 1000  # failed files before the extraction stops
CHUNK = 64 << 10
Mode = Literal["r|", "r|gz", "r|bz2"]
MODES: dict[str, Mode] = {"tar": "r|", "tar.gz": "r|gz", "tar.bz2": "r|bz2"}


def mode_of(value: str) -> Mode | None:
    """tarfile's stream mode for an ``extract-archive`` value, or None."""
    return MODES.get(value.lower().strip("."))


async def _next(body: Body) -> bytes | None:
    try:
        return await body.__anext__()
    except StopAsyncIteration:
        return None


class BodyFile:
    """The request body as a blocking file for ``tarfile``, read in a worker
    thread: each read waits for the event loop to hand over the next chunk."""

    def __init__(self, body: Body, loop: asyncio.AbstractEventLoop) -> None:
        self._body = body
        self._loop = loop
        self._buffer = bytearray()
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            chunk = asyncio.run_coroutine_threadsafe(_next(self._body), self._loop).result()
            if chunk is None:
                self._eof = True
            else:
                self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


class Archive:
    """A tar stream read by ``tarfile`` in worker threads, one call at a time."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self._tar = tar

    @classmethod
    async def open(cls, body: Body, mode: Mode) -> Archive:
        reader = BodyFile(body, asyncio.get_running_loop())
        fileobj = cast(IO[bytes], reader)
        tar = await asyncio.to_thread(lambda: tarfile.open(mode=mode, fileobj=fileobj))
        return cls(tar)

    async def members(self) -> AsyncIterator[tarfile.TarInfo]:
        while True:
            info = await asyncio.to_thread(self._tar.next)
            if info is None:
                return
            yield info

    async def data(self, info: tarfile.TarInfo) -> AsyncIterator[bytes]:
        """A member's data, as a stream (the next member skips what is left)."""
        stream = self._tar.extractfile(info)
        if stream is None:
            return
        while True:
            chunk = await asyncio.to_thread(stream.read, CHUNK)
            if not chunk:
                return
            yield chunk


# (path, body, size) -> the PUT's status; (container) -> True when it was created
PutFile = Callable[[str, str, AsyncIterator[bytes], int], Awaitable[int]]
EnsureContainer = Callable[[str], Awaitable[bool]]


@dataclass
class Extraction:
    """The outcome, in Swift's terms (its answer's body)."""

    created: int = 0
    errors: list[list[str]] = field(default_factory=list)
    status: int = 201
    body: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "Number Files Created": self.created,
            "Response Body": self.body,
            "Response Status": status_line(self.status),
        }

    def fail(self, exc: SwiftError) -> None:
        """The whole request failed: its status and body, as Swift reports them."""
        self.status = exc.status
        self.body = body_of(exc.status, exc.message if exc.explicit else None).decode()


def _quoted(path: str, limits: Limits) -> str:
    longest = limits.max_container_name_length + limits.max_object_name_length + 2
    return quote(path[:longest], safe="/")


def destination(name: str, base: str) -> str | None:
    """``container/object`` for a member's name, or None for a file at the
    account's top level (Swift ignores those)."""
    path = name[2:] if name.startswith("./") else name
    path = path.lstrip("/")
    if base:
        path = base + "/" + path
    return path if "/" in path else None


def name_status(container: str, obj: str | None, limits: Limits) -> int | None:
    """The status a request to ``container[/obj]`` would get for its names
    (412 for invalid UTF-8 or NUL, as Swift's ``check_utf8``), or None."""
    path = container if obj is None else f"{container}/{obj}"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return 412
    if "\x00" in path:
        return 412
    if not container or len(container.encode()) > limits.max_container_name_length:
        return 400
    if obj is None:
        return None
    try:
        check_object_name(obj, limits)
    except SwiftError as exc:
        return exc.status
    return None


def _name_status(path: str, size: int, limits: Limits) -> int | None:
    """The status a file's PUT would get for its name or size, or None."""
    container, obj = path.split("/", 1)
    refused = name_status(container, obj, limits)
    if refused is None and size > limits.max_file_size:
        return 413
    return refused


class Extractor:
    """Every regular file of an archive PUT below ``base``, with Swift's
    rules for what is skipped, what fails and when it all stops."""

    def __init__(
        self, account: str, base: str, limits: Limits, ensure: EnsureContainer, put: PutFile
    ) -> None:
        self.account = account
        self.base = base
        self.limits = limits
        self.ensure = ensure
        self.put = put
        self.out = Extraction()
        self.failed_status = 400
        self.seen: set[str] = set()
        self.made = 0

    async def run(self, body: Body, mode: Mode) -> Extraction:
        """The outcome; an error of the whole request (a broken archive,
        401, too many containers) is its Response Status, as Swift's."""
        out = self.out
        try:
            archive = await Archive.open(body, mode)
            async for info in archive.members():
                if len(out.errors) >= MAX_FAILED:
                    break
                if info.isfile():
                    await self._one(archive, info)
            if out.errors:
                out.status = self.failed_status
            elif not out.created:
                out.status, out.body = 400, "Invalid Tar File: No Valid Files"
        except (tarfile.TarError, zlib.error, EOFError) as exc:
            out.status, out.body = 400, f"Invalid Tar File: {exc}"
        except SwiftError as exc:
            out.fail(exc)
        return out

    def _fail(self, path: str, status: int) -> None:
        self.out.errors.append([_quoted(path, self.limits), status_line(status)])

    async def _one(self, archive: Archive, info: tarfile.TarInfo) -> None:
        path = destination(info.name, self.base)
        if path is None:
            return
        refused = _name_status(path, info.size, self.limits)
        if refused is not None:
            self._fail(path, refused)
            return
        container, obj = path.split("/", 1)
        container_failure = None
        if container not in self.seen:
            container_failure = await self._container(container)
        status = await self.put(container, obj, archive.data(info), info.size)
        self.seen.add(container)
        if status < 300:
            self.out.created += 1
            return
        if container_failure is not None:
            self._fail(f"/v1/{self.account}/{container}", container_failure)
        self._fail(path, status)
        if status == 401:
            raise Unauthorized()
        if status >= 500:
            self.failed_status = 502

    async def _container(self, container: str) -> int | None:
        """Create the container if it is missing; the status of a failure
        (the PUT may still succeed: ACLs may allow writing into it)."""
        try:
            created = await self.ensure(container)
        except SwiftError as exc:
            if exc.status == 401:
                raise Unauthorized() from exc
            return exc.status
        if created:
            self.made += 1
            if self.made > MAX_CONTAINERS:
                raise BadRequest(f"More than {MAX_CONTAINERS} containers to create from tar.")
        return None
