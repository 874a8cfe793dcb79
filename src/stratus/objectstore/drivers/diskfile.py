"""Objects as files on a device folder.

Layout (``objects-N`` for storage policy N > 0)::

    DEVICE/objects/<partition>/<suffix>/<hash>/<timestamp>.data   the object
                                                 <timestamp>.ts     a tombstone
                                                 <timestamp>.meta   a POST's metadata
    DEVICE/objects/<partition>/hashes.msgpack  per-suffix hashes (a cache)
    DEVICE/objects/<partition>/hashes.invalid  suffixes changed since
    DEVICE/tmp/                                writes in progress
    DEVICE/quarantined/objects/<hash>           corrupted copies

``<hash>`` is the ring's hex hash of the object's path and ``<suffix>`` its last
three characters.  Metadata is msgpack in the ``user.stratus.meta`` extended
attribute; where the filesystem has no user xattrs (or the value is too big
for one), it is a trailer after the data instead: ``blob, len(blob) as u32 LE,
MAGIC``.  Readers take either.

A PUT costs: open, write(s), fsetxattr, fsync, close, rename, and an fsync of
the object's folder (plus its parent when the folder is new), then a 4-byte
append to ``hashes.invalid``.  Older versions are unlinked after the rename.
A GET costs a listdir of the object's folder, open, fgetxattr, fstat, preads.
Nothing is verified on read; the auditor checks MD5s and quarantines.
"""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import uuid
from collections.abc import Iterable, Iterator, Sequence

import msgpack

from stratus.common import directio
from stratus.objectstore.drivers.base import (
    DiskFileError,
    ObjectMetadata,
    ObjectNotFound,
    ObjectQuarantined,
    merge_post,
)
from stratus.objectstore.drivers.hashes import SuffixHashes, parse_name, select_files
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
        self, device: DiskDevice, partition: int, name_hash: str, size: int | None = None
    ) -> None:
        self.device = device
        self.partition = partition
        self.name_hash = name_hash
        self.tmp_path = os.path.join(device.tmp_dir, f"{name_hash}.{uuid.uuid4().hex}")
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
        _write_all(self.fd, chunk)
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
        self.device._finish(self, meta, ".data")
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


class DiskDevice:
    """The objects of one storage policy on one device folder."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        policy: int = 0,
        *,
        use_xattr: bool = True,
        reclaim_age: float = 7 * 86400,
    ) -> None:
        self.root = os.fspath(root)
        self.objects_dir = os.path.join(self.root, "objects" if not policy else f"objects-{policy}")
        self.tmp_dir = os.path.join(self.root, "tmp")
        self.quarantine_dir = os.path.join(self.root, "quarantined", "objects")
        self.use_xattr = use_xattr
        os.makedirs(self.tmp_dir, exist_ok=True)
        os.makedirs(self.objects_dir, exist_ok=True)
        self.hashes = SuffixHashes(self.objects_dir, reclaim_age=reclaim_age)

    def hash_dir(self, partition: int, name_hash: str) -> str:
        return os.path.join(self.objects_dir, str(partition), name_hash[-3:], name_hash)

    # -- writes ----------------------------------------------------------------

    def writer(self, partition: int, name_hash: str, size: int | None = None) -> ObjectWriter:
        return ObjectWriter(self, partition, name_hash, size)

    def put(
        self,
        partition: int,
        name_hash: str,
        name: str,
        timestamp: Timestamp,
        data: bytes,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> ObjectMetadata:
        """Store a small object given whole."""
        with self.writer(partition, name_hash, len(data)) as w:
            w.write(data)
            return w.commit(name, timestamp, content_type, headers)

    def delete(self, partition: int, name_hash: str, name: str, timestamp: Timestamp) -> None:
        """Write a tombstone: older versions go, newer ones stay."""
        with self.writer(partition, name_hash) as w:
            self._finish(w, ObjectMetadata(name, timestamp), ".ts")

    def post(
        self,
        partition: int,
        name_hash: str,
        name: str,
        timestamp: Timestamp,
        headers: dict[str, str],
        content_type: str = "",
    ) -> None:
        """Record a POST's metadata beside the data (the caller checks the object exists)."""
        with self.writer(partition, name_hash) as w:
            meta = ObjectMetadata(name, timestamp, content_type=content_type, headers=headers)
            self._finish(w, meta, ".meta")

    def _finish(self, w: ObjectWriter, meta: ObjectMetadata, ext: str) -> None:
        blob = meta.pack()
        if not self._set_xattr(w.fd, blob):
            _write_all(w.fd, blob + _FOOTER.pack(len(blob), MAGIC))
        os.fsync(w.fd)
        os.close(w.fd)
        w.fd = -1
        hdir = self.hash_dir(w.partition, w.name_hash)
        target = os.path.join(hdir, meta.timestamp.internal + ext)
        created = self._rename_into(w.tmp_path, hdir, target)
        _fsync_dir(hdir)
        if created:
            # New folders: their entries in the parents must be durable too.
            for parent in created:
                _fsync_dir(parent)
        else:
            self.cleanup(hdir)
        self.hashes.invalidate(w.partition, w.name_hash[-3:])

    def _set_xattr(self, fd: int, blob: bytes) -> bool:
        if not self.use_xattr:
            return False
        try:
            os.setxattr(fd, XATTR, blob)
            return True
        except OSError as e:
            if e.errno in _NO_XATTR:
                self.use_xattr = False
                return False
            if e.errno in _TOO_BIG:
                return False
            raise

    def _rename_into(self, tmp: str, hdir: str, target: str) -> list[str]:
        """Rename, creating the folders when missing; returns the parents of the
        folders created (they need an fsync)."""
        for _ in range(5):
            try:
                os.rename(tmp, target)
                return []
            except FileNotFoundError:
                if not os.path.exists(tmp):
                    raise
                created = _makedirs(hdir)
                try:
                    os.rename(tmp, target)
                except FileNotFoundError:
                    continue  # removed again by a concurrent cleanup
                return [os.path.dirname(p) for p in created]
        raise DiskFileError(f"cannot create {hdir}")

    def cleanup(self, hdir: str) -> list[str]:
        """Unlink what newer files made obsolete; returns the files kept."""
        try:
            names = os.listdir(hdir)
        except FileNotFoundError:
            return []
        keep, obsolete = select_files(names, None)
        for name in obsolete:
            try:
                os.unlink(os.path.join(hdir, name))
            except FileNotFoundError:
                pass
        return keep

    # -- reads -----------------------------------------------------------------

    def current(self, partition: int, name_hash: str) -> tuple[Timestamp | None, bool]:
        """The timestamp of the stored data or tombstone, and whether it is data."""
        try:
            names = os.listdir(self.hash_dir(partition, name_hash))
        except FileNotFoundError:
            return None, False
        keep, _ = select_files(names, None)
        winner = next((n for n in keep if not n.endswith(".meta")), None)
        if winner is None:
            return None, False
        ts, ext = parse_name(winner)
        return ts, ext == ".data"

    def has_file(self, partition: int, name_hash: str, filename: str) -> bool:
        return os.path.exists(os.path.join(self.hash_dir(partition, name_hash), filename))

    def suffix_hashes(
        self, partition: int, recalculate: Iterable[str] | bool = False
    ) -> dict[str, str]:
        return self.hashes.get(partition, recalculate)

    def list_files(
        self, partition: int, suffixes: Sequence[str]
    ) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for suffix in suffixes:
            folders: dict[str, list[str]] = {}
            for name_hash in self.hashes.hash_dirs(partition, suffix):
                try:
                    names = os.listdir(self.hash_dir(partition, name_hash))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                keep, _ = select_files(names, None)
                if keep:
                    folders[name_hash] = keep
            out[suffix] = folders
        return out

    def open(self, partition: int, name_hash: str) -> ObjectReader:
        """The current version, or ObjectNotFound (with the tombstone's time)."""
        hdir = self.hash_dir(partition, name_hash)
        for _ in range(3):
            try:
                names = os.listdir(hdir)
            except FileNotFoundError:
                raise ObjectNotFound(name_hash) from None
            keep, _ = select_files(names, None)
            winner = next((n for n in keep if not n.endswith(".meta")), None)
            if winner is None:
                raise ObjectNotFound(name_hash)
            if winner.endswith(".ts"):
                raise ObjectNotFound(name_hash, tombstone=parse_name(winner)[0])
            try:
                return self._open_data(partition, name_hash, hdir, keep)
            except FileNotFoundError:
                continue  # replaced under us by a newer version
        raise ObjectNotFound(name_hash)

    def _open_data(
        self, partition: int, name_hash: str, hdir: str, keep: list[str]
    ) -> ObjectReader:
        data_name = next(n for n in keep if n.endswith(".data"))
        path = os.path.join(hdir, data_name)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            meta = self._read_meta(fd, check_size=True)
            post = next((n for n in keep if n.endswith(".meta")), None)
            if post is not None:
                post_fd = os.open(os.path.join(hdir, post), os.O_RDONLY | os.O_CLOEXEC)
                try:
                    meta = merge_post(meta, self._read_meta(post_fd, check_size=False))
                finally:
                    os.close(post_fd)
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as e:
            os.close(fd)
            self.quarantine(partition, name_hash)
            raise ObjectQuarantined(f"{path}: {e}") from e
        except BaseException:
            os.close(fd)
            raise
        return ObjectReader(fd, meta, path)

    def _read_meta(self, fd: int, check_size: bool) -> ObjectMetadata:
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

    def read_metadata(self, path: str) -> ObjectMetadata:
        """The metadata of one file (for the auditor and the replicator)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return self._read_meta(fd, check_size=path.endswith(".data"))
        finally:
            os.close(fd)

    # -- repair ----------------------------------------------------------------

    def quarantine(self, partition: int, name_hash: str) -> str:
        """Move the object's folder aside, so the replicator restores a good copy."""
        hdir = self.hash_dir(partition, name_hash)
        os.makedirs(self.quarantine_dir, exist_ok=True)
        dest = os.path.join(self.quarantine_dir, name_hash)
        if os.path.exists(dest):
            dest += "-" + uuid.uuid4().hex
        os.rename(hdir, dest)
        _fsync_dir(os.path.dirname(hdir))
        self.hashes.invalidate(partition, name_hash[-3:])
        return dest


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(path: str) -> list[str]:
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


class DiskDriver:
    """Objects as files: a ``DiskDevice`` per device folder and policy."""

    def __init__(self, *, use_xattr: bool = True) -> None:
        self.use_xattr = use_xattr

    def device(self, root: str, policy: int) -> DiskDevice:
        return DiskDevice(root, policy, use_xattr=self.use_xattr)
