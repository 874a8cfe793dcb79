"""One object file of the disk driver: its reader and writer, and the
metadata kept with it (msgpack in the ``user.stratus.meta`` xattr, or a
trailer after the data where the filesystem has no user xattrs or the value
is too big for one: ``blob, len(blob) as u32 LE, MAGIC``)."""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import uuid
from collections.abc import Callable, Iterator

from stratus.common import directio
from stratus.objectstore.drivers.base import DiskFileError, ObjectMetadata
from stratus.objectstore.drivers.timestamp import Timestamp

XATTR = "user.stratus.meta"
MAGIC = b"STRMETA1"
_FOOTER = struct.Struct("<I8s")
_NO_XATTR = {errno.ENOTSUP, errno.EOPNOTSUPP}
_TOO_BIG = {errno.E2BIG, errno.ENOSPC, errno.ERANGE}
CHUNK = 64 * 1024
PREALLOCATE_FROM = 1 << 20


class ObjectReader:
    """An open object: its metadata and its bytes (read with pread, or with
    ``pread_direct`` around the page cache)."""

    def __init__(self, fd: int, metadata: ObjectMetadata, path: str) -> None:
        self.fd = fd
        self.metadata = metadata
        self.path = path
        self._direct = -2  # the O_DIRECT descriptor: -2 not opened yet, -1 unusable

    @property
    def size(self) -> int:
        return self.metadata.content_length

    def fileno(self) -> int:
        return self.fd

    def iter_range(
        self, start: int = 0, end: int | None = None, chunk: int = CHUNK
    ) -> Iterator[bytes]:
        """Bytes ``start`` up to (not including) ``end``, in chunks."""
        end = self.size if end is None else min(end, self.size)
        pos = max(start, 0)
        while pos < end:
            data = os.pread(self.fd, min(chunk, end - pos), pos)
            if not data:
                raise DiskFileError(f"{self.path}: shorter than its metadata says")
            pos += len(data)
            yield data

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        return b"".join(self.iter_range(start, end, chunk=max(CHUNK, self.size)))

    def pread(self, pos: int, length: int) -> bytes:
        return os.pread(self.fd, length, pos)

    def pread_direct(self, pos: int, length: int) -> bytes | None:
        """Up to ``length`` bytes at ``pos`` read with O_DIRECT, straight from
        the disk into an aligned buffer: no page cache to fill and evict,
        which costs far less kernel CPU per byte for big sequential reads.
        None when the filesystem cannot (the caller reads as usual)."""
        if self._direct == -2:
            try:
                self._direct = os.open(self.path, os.O_RDONLY | os.O_DIRECT)
            except OSError:  # gone since (a newer version), or no O_DIRECT here
                self._direct = -1
        if self._direct < 0:
            return None
        try:
            return directio.pread(self._direct, pos, length)
        except OSError:
            os.close(self._direct)
            self._direct = -1
            return None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._direct >= 0:
            os.close(self._direct)
            self._direct = -1

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class ObjectWriter:
    """A PUT in progress: a temp file in DEVICE/tmp, renamed into place on commit."""

    def __init__(
        self,
        tmp_dir: str,
        partition: int,
        name_hash: str,
        size: int | None,
        install: Callable[[ObjectWriter, ObjectMetadata, str], None],
    ) -> None:
        self.partition = partition
        self.name_hash = name_hash
        self.install = install
        self.tmp_path = os.path.join(tmp_dir, f"{name_hash}.{uuid.uuid4().hex}")
        self.fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.bytes_written = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        if size is not None and size >= PREALLOCATE_FROM:
            try:
                os.posix_fallocate(self.fd, 0, size)
            except OSError as e:
                self.abort()
                if e.errno == errno.ENOSPC:
                    raise DiskFileError("no space on device") from e
                raise

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()

    def write(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        write_all(self.fd, chunk)
        self.bytes_written += len(chunk)

    def commit(
        self,
        name: str,
        timestamp: Timestamp,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> ObjectMetadata:
        """Make the object durable and visible; returns what was stored."""
        meta = ObjectMetadata(
            name, timestamp, self.bytes_written, self.etag, content_type, dict(headers or {})
        )
        self.install(self, meta, ".data")
        return meta

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            try:
                os.unlink(self.tmp_path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()  # a no-op after commit


def write_metadata(fd: int, blob: bytes, use_xattr: bool) -> bool:
    """Store ``blob`` with the file; whether xattrs still look usable."""
    if use_xattr:
        try:
            os.setxattr(fd, XATTR, blob)
            return True
        except OSError as e:
            if e.errno in _NO_XATTR:
                use_xattr = False
            elif e.errno not in _TOO_BIG:
                raise
    write_all(fd, blob + _FOOTER.pack(len(blob), MAGIC))
    return use_xattr


def read_metadata(fd: int, check_size: bool) -> ObjectMetadata:
    """The metadata stored with a file: its xattr, or else its trailer."""
    size = os.fstat(fd).st_size
    try:
        meta = ObjectMetadata.unpack(os.getxattr(fd, XATTR))
        data_size = size
    except OSError as e:
        if e.errno not in _NO_XATTR and e.errno != errno.ENODATA:
            raise
        if size < _FOOTER.size:
            raise ValueError("no metadata") from None
        length, magic = _FOOTER.unpack(os.pread(fd, _FOOTER.size, size - _FOOTER.size))
        if magic != MAGIC or length > size - _FOOTER.size:
            raise ValueError("no metadata") from None
        data_size = size - _FOOTER.size - length
        meta = ObjectMetadata.unpack(os.pread(fd, length, data_size))
    if check_size and data_size != meta.content_length:
        raise ValueError(f"size {data_size} but Content-Length {meta.content_length}")
    return meta


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs(path: str) -> list[str]:
    """mkdir -p, returning the folders this call created (outermost first)."""
    missing: list[str] = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    created = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
            created.append(folder)
        except FileExistsError:
            pass
    return created
