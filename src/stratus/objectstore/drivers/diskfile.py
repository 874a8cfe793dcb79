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

import os
import uuid
from collections.abc import Iterable, Sequence

import msgpack

from stratus.objectstore.drivers.base import (
    DiskFileError,
    ObjectMetadata,
    ObjectNotFound,
    ObjectQuarantined,
    merge_post,
)
from stratus.objectstore.drivers.diskio import (
    ObjectReader,
    ObjectWriter,
    fsync_dir,
    makedirs,
    read_metadata,
    write_metadata,
)
from stratus.objectstore.drivers.hashes import SuffixHashes, parse_name, select_files
from stratus.objectstore.drivers.timestamp import Timestamp


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
        return ObjectWriter(self.tmp_dir, partition, name_hash, size, self.install)

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
            self.install(w, ObjectMetadata(name, timestamp), ".ts")

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
            self.install(w, meta, ".meta")

    def install(self, w: ObjectWriter, meta: ObjectMetadata, ext: str) -> None:
        """Make a written file durable and current: metadata, fsync, rename
        into the object's folder, older versions cleaned up."""
        self.use_xattr = write_metadata(w.fd, meta.pack(), self.use_xattr)
        os.fsync(w.fd)
        os.close(w.fd)
        w.fd = -1
        hdir = self.hash_dir(w.partition, w.name_hash)
        target = os.path.join(hdir, meta.timestamp.internal + ext)
        created = self._rename_into(w.tmp_path, hdir, target)
        fsync_dir(hdir)
        if created:
            # New folders: their entries in the parents must be durable too.
            for parent in created:
                fsync_dir(parent)
        else:
            self.cleanup(hdir)
        self.hashes.invalidate(w.partition, w.name_hash[-3:])

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
                created = makedirs(hdir)
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
            meta = read_metadata(fd, check_size=True)
            post = next((n for n in keep if n.endswith(".meta")), None)
            if post is not None:
                post_fd = os.open(os.path.join(hdir, post), os.O_RDONLY | os.O_CLOEXEC)
                try:
                    meta = merge_post(meta, read_metadata(post_fd, check_size=False))
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

    def read_metadata(self, path: str) -> ObjectMetadata:
        """The metadata of one file (for the auditor and the replicator)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return read_metadata(fd, check_size=path.endswith(".data"))
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
        fsync_dir(os.path.dirname(hdir))
        self.hashes.invalidate(partition, name_hash[-3:])
        return dest


class DiskDriver:
    """Objects as files: a ``DiskDevice`` per device folder and policy."""

    def __init__(self, *, use_xattr: bool = True) -> None:
        self.use_xattr = use_xattr

    def device(self, root: str, policy: int) -> DiskDevice:
        return DiskDevice(root, policy, use_xattr=self.use_xattr)
