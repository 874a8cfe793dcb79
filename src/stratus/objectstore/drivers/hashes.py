"""Which files of an object folder count, and per-suffix hashes for replication.

An object folder holds files named ``<timestamp>.<ext>``.  The newest ``.data``
or ``.ts`` wins (a tombstone wins a tie); a ``.meta`` newer than a winning
``.data`` applies on top of it; everything else is obsolete.  Tombstones older
than the reclaim age are dropped once every replica has had time to see them.

Each partition keeps ``hashes.msgpack``: for each suffix folder, the MD5 of the
names of its object folders and their current files.  Two replicas with the
same hash hold the same versions, so the replicator compares a partition's
suffix hashes (one small request) and syncs only the suffixes that differ.
Writers append the suffix they changed to ``hashes.invalid`` (4 bytes, no
fsync: it is a cache); ``get()`` folds those in and rehashes only them.  After
a crash, call ``get(partition, recalculate=True)`` once per partition, since an
append may have been lost.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterable

import msgpack

from stratus.objectstore.drivers.timestamp import Timestamp

HASHES = "hashes.msgpack"
INVALID = "hashes.invalid"
_RANK = {".ts": 2, ".data": 1, ".meta": 0}  # which wins at equal timestamps


def parse_name(name: str) -> tuple[Timestamp, str]:
    """``"1700000000.12345.data"`` -> (Timestamp, ``".data"``); ValueError if not ours."""
    stem, dot, ext = name.rpartition(".")
    if not dot or "." + ext not in _RANK:
        raise ValueError(f"not an object file: {name!r}")
    return Timestamp(stem), "." + ext


def select_files(names: Iterable[str], reclaim_before: float | None) -> tuple[list[str], list[str]]:
    """(files that count, newest first; files made obsolete).  Names that are
    not ours are in neither list."""
    parsed: list[tuple[Timestamp, int, str, str]] = []
    for name in names:
        try:
            ts, ext = parse_name(name)
        except ValueError:
            continue
        parsed.append((ts, _RANK[ext], ext, name))
    parsed.sort(key=lambda p: (p[0].ticks, p[0].offset, p[1]), reverse=True)
    keep: list[str] = []
    obsolete: list[str] = []
    winner: str | None = None
    newest_meta: str | None = None
    for ts, _, ext, name in parsed:
        if winner is not None:
            obsolete.append(name)
        elif ext == ".meta":
            if newest_meta is None:
                newest_meta = name
            else:
                obsolete.append(name)
        else:
            winner = ext
            if ext == ".ts" and reclaim_before is not None and ts.seconds < reclaim_before:
                obsolete.append(name)
                continue
            if newest_meta is not None:
                if ext == ".data":
                    keep.append(newest_meta)
                else:
                    obsolete.append(newest_meta)
            keep.append(name)
    if winner is None and newest_meta is not None:
        keep.append(newest_meta)  # its data may still be on its way here
    return keep, obsolete


class SuffixHashes:
    """The partitions, suffixes and object folders of one ``objects`` folder."""

    def __init__(self, objects_dir: str, reclaim_age: float = 7 * 86400) -> None:
        self.objects_dir = objects_dir
        self.reclaim_age = reclaim_age

    # -- listing ---------------------------------------------------------------

    def partitions(self) -> list[int]:
        try:
            return sorted(int(n) for n in os.listdir(self.objects_dir) if n.isdigit())
        except FileNotFoundError:
            return []

    def suffixes(self, partition: int) -> list[str]:
        try:
            names = os.listdir(os.path.join(self.objects_dir, str(partition)))
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _is_suffix(n))

    def hash_dirs(self, partition: int, suffix: str) -> list[str]:
        try:
            return sorted(os.listdir(os.path.join(self.objects_dir, str(partition), suffix)))
        except FileNotFoundError:
            return []

    # -- hashes ----------------------------------------------------------------

    def invalidate(self, partition: int, suffix: str) -> None:
        path = os.path.join(self.objects_dir, str(partition), INVALID)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # only get() takes it exclusively
            os.write(fd, suffix.encode() + b"\n")
        finally:
            os.close(fd)

    def get(self, partition: int, recalculate: bool | Iterable[str] = False) -> dict[str, str]:
        """``{suffix: hash}`` for the partition, rehashing what changed."""
        pdir = os.path.join(self.objects_dir, str(partition))
        try:
            dir_fd = os.open(pdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return {}
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)  # one get() per partition at a time
            invalid = self._take_invalid(pdir)
            known = {} if recalculate is True else self._load(pdir)
            on_disk = set(self.suffixes(partition))
            todo = (invalid | (on_disk - known.keys())) & on_disk
            if recalculate is True:
                todo = on_disk
            elif recalculate:
                todo |= set(recalculate) & on_disk
            hashes = {s: h for s, h in known.items() if s in on_disk and s not in todo}
            reclaim_before = time.time() - self.reclaim_age
            for suffix in todo:
                digest = self._hash_suffix(os.path.join(pdir, suffix), reclaim_before)
                if digest is not None:
                    hashes[suffix] = digest
            if hashes != known:
                self._save(pdir, hashes)
            return hashes
        finally:
            os.close(dir_fd)

    def _take_invalid(self, pdir: str) -> set[str]:
        path = os.path.join(pdir, INVALID)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return set()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = b""
            while chunk := os.read(fd, 65536):
                data += chunk
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)
        return {s for s in data.decode("ascii", "replace").split() if _is_suffix(s)}

    def _load(self, pdir: str) -> dict[str, str]:
        try:
            with open(os.path.join(pdir, HASHES), "rb") as f:
                data = msgpack.unpackb(f.read(), raw=False)
        except (OSError, ValueError, msgpack.UnpackException):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, pdir: str, hashes: dict[str, str]) -> None:
        tmp = os.path.join(pdir, f".{HASHES}.{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(msgpack.packb(hashes, use_bin_type=True))
        os.replace(tmp, os.path.join(pdir, HASHES))

    def _hash_suffix(self, sdir: str, reclaim_before: float) -> str | None:
        """Clean the suffix's object folders and hash what remains; None if empty."""
        try:
            names = sorted(os.listdir(sdir))
        except FileNotFoundError:
            return None
        md5 = hashlib.md5(usedforsecurity=False)
        found = False
        for name_hash in names:
            hdir = os.path.join(sdir, name_hash)
            try:
                files = os.listdir(hdir)
            except (FileNotFoundError, NotADirectoryError):
                continue
            keep, obsolete = select_files(files, reclaim_before)
            for name in obsolete:
                try:
                    os.unlink(os.path.join(hdir, name))
                except FileNotFoundError:
                    pass
            if not keep:
                _rmdir(hdir)
                continue
            found = True
            md5.update(name_hash.encode())
            for name in sorted(keep):
                md5.update(b"/" + name.encode())
        if not found:
            _rmdir(sdir)
            return None
        return md5.hexdigest()


def _is_suffix(name: str) -> bool:
    return len(name) == 3 and all(c in "0123456789abcdef" for c in name)


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass  # not empty any more: a write landed
