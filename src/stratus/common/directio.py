"""Reading and writing around the page cache (O_DIRECT).

Big sequential transfers (image data, large objects) gain nothing from the
page cache, and filling it costs more kernel CPU per byte than the transfer:
every page is allocated, copied into, written back and evicted.  O_DIRECT
moves the bytes between the disk and the process's own buffer instead.

O_DIRECT wants the buffer's address, the file offset and the length to be
multiples of the block size; ``ALIGN`` covers every disk we meet.  Anonymous
mappings are page-aligned, so buffers are made with ``mmap``.  Callers fall
back to ordinary I/O when a filesystem refuses O_DIRECT (tmpfs, some FUSE)."""

from __future__ import annotations

import ctypes
import mmap
import os
import threading

ALIGN = 4096

_local = threading.local()  # one read buffer per thread


def buffer(size: int) -> mmap.mmap:
    """A new zeroed buffer of ``size`` bytes at a page-aligned address; its
    pages are faulted in when first written, not up front."""
    return mmap.mmap(-1, size)


def aligned(view: memoryview) -> bool:
    """Whether ``view`` can be written with O_DIRECT as it is: its address
    and length are multiples of ``ALIGN``.  Read-only buffers (bytes) give no
    address here and count as unaligned."""
    if not view.nbytes or view.nbytes % ALIGN:
        return False
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(view))
    except TypeError:
        return False
    return address % ALIGN == 0


def pread(fd: int, pos: int, length: int) -> bytes:
    """Up to ``length`` bytes at ``pos`` from ``fd``, which was opened with
    O_DIRECT: the aligned span around them is read into this thread's buffer
    and the asked-for part copied out.  Fewer bytes only at the end of the
    file.  OSError when the filesystem refuses."""
    start = pos - pos % ALIGN
    size = -(-(pos + length - start) // ALIGN) * ALIGN
    buf: mmap.mmap | None = getattr(_local, "buf", None)
    if buf is None or len(buf) < size:
        buf = _local.buf = buffer(size)
    got = os.preadv(fd, [memoryview(buf)[:size]], start)
    skip = pos - start
    return bytes(memoryview(buf)[skip : skip + max(0, min(got - skip, length))])
