"""A volume's bytes over NBD: ``qemu-nbd`` serves an image file (qcow2 or
raw, or an internal snapshot of a qcow2) on a unix socket, and a small NBD
client reads and writes it.  The kernel's NBD device is not needed (these
machines have none): the client speaks the protocol itself.

The client uses the fixed newstyle handshake with ``NBD_OPT_EXPORT_NAME``
and simple replies, which is all reads, writes, zeroing and flushes need."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import struct
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from stratus.volume.drivers.base import DriverError

NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
FLAG_FIXED_NEWSTYLE = 1
FLAG_NO_ZEROES = 2
OPT_EXPORT_NAME = 1
REQUEST_MAGIC = 0x25609513
REPLY_MAGIC = 0x67446698
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_WRITE_ZEROES = 0, 1, 2, 3, 6
TFLAG_SEND_WRITE_ZEROES = 1 << 6
MAX_REQUEST = 32 << 20  # qemu-nbd's largest request
START_TIMEOUT = 15.0
SOCKET_PATH_MAX = 108


class NbdClient:
    """One connection to an export; requests go one at a time, each done
    whole in a worker thread on a blocking socket (the data lands straight
    in its buffer: no copies through an event loop's stream)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.size = 0
        self.flags = 0
        self._handle = 0
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: Path) -> NbdClient:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            await asyncio.to_thread(sock.connect, str(path))
            client = cls(sock)
            await asyncio.to_thread(client._handshake)
        except BaseException:
            sock.close()
            raise
        return client

    def _recv(self, size: int) -> bytearray:
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = self.sock.recv_into(view[got:], size - got)
            if n == 0:
                raise DriverError("the NBD server closed the connection")
            got += n
        return buf

    def _handshake(self) -> None:
        head = self._recv(18)
        if head[:8] != NBDMAGIC or struct.unpack(">Q", head[8:16])[0] != IHAVEOPT:
            raise DriverError("the NBD server does not speak the newstyle protocol")
        server_flags = struct.unpack(">H", head[16:18])[0]
        no_zeroes = bool(server_flags & FLAG_NO_ZEROES)
        client_flags = FLAG_FIXED_NEWSTYLE | (FLAG_NO_ZEROES if no_zeroes else 0)
        self.sock.sendall(struct.pack(">I", client_flags))
        self.sock.sendall(struct.pack(">QII", IHAVEOPT, OPT_EXPORT_NAME, 0))
        self.size, self.flags = struct.unpack(">QH", self._recv(10))
        if not no_zeroes:
            self._recv(124)

    def _exchange(
        self, cmd: int, offset: int, length: int, data: memoryview | None
    ) -> bytearray | None:
        self._handle += 1
        header = struct.pack(">IHHQQI", REQUEST_MAGIC, 0, cmd, self._handle, offset, length)
        if data is not None:
            self.sock.sendmsg([header, data])
        else:
            self.sock.sendall(header)
        magic, error, handle = struct.unpack(">IIQ", self._recv(16))
        if magic != REPLY_MAGIC or handle != self._handle:
            raise DriverError("the NBD server sent a reply out of order")
        if error:
            raise DriverError(f"the NBD server refused the request (error {error})")
        return self._recv(length) if cmd == CMD_READ else None

    async def _request(
        self, cmd: int, offset: int, length: int, data: memoryview | None = None
    ) -> bytearray | None:
        async with self._lock:
            return await asyncio.to_thread(self._exchange, cmd, offset, length, data)

    async def read(self, offset: int, length: int) -> bytes:
        parts = []
        for start in range(offset, offset + length, MAX_REQUEST):
            size = min(MAX_REQUEST, offset + length - start)
            parts.append(await self._request(CMD_READ, start, size) or b"")
        return bytes(parts[0]) if len(parts) == 1 else b"".join(parts)

    async def write(self, offset: int, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), MAX_REQUEST):
            piece = view[start : start + MAX_REQUEST]
            await self._request(CMD_WRITE, offset + start, len(piece), piece)

    async def write_zeroes(self, offset: int, length: int) -> None:
        if not self.flags & TFLAG_SEND_WRITE_ZEROES:
            zeros = bytes(min(length, 1 << 20))
            for start in range(offset, offset + length, len(zeros)):
                await self.write(start, zeros[: min(len(zeros), offset + length - start)])
            return
        for start in range(offset, offset + length, 1 << 30):
            await self._request(CMD_WRITE_ZEROES, start, min(1 << 30, offset + length - start))

    async def flush(self) -> None:
        await self._request(CMD_FLUSH, 0, 0)

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 0, 0, 0))
        self.sock.close()


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the agent dies, even by SIGKILL, so a
    crash leaves no server holding a volume open."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@asynccontextmanager
async def served(
    path: Path,
    fmt: str,
    *,
    writable: bool = False,
    snapshot: str | None = None,
    scratch: Path | None = None,
    qemu_nbd: str = "qemu-nbd",
) -> AsyncIterator[NbdClient]:
    """Serve ``path`` with qemu-nbd for as long as the block runs and yield a
    connected client.  The socket goes in ``scratch`` (which the agent empties
    at start, so a crash leaves nothing) when its path fits a unix socket's
    108 bytes, else in the system's temporary folder."""
    fits = scratch is not None and len(str(scratch.resolve())) < SOCKET_PATH_MAX - 24
    folder = Path(
        tempfile.mkdtemp(prefix="nbd-" if fits else "stratus-nbd-", dir=scratch if fits else None)
    )
    sock = folder / "s"
    cmd = [qemu_nbd, "--format", fmt, "--socket", str(sock), "--cache", "writeback"]
    if writable:
        cmd += ["--discard", "unmap", "--detect-zeroes", "unmap"]
    else:
        cmd += ["--read-only", "--shared", "2"]
    if snapshot is not None:
        cmd += ["--load-snapshot", f"snapshot.name={snapshot}"]
    cmd.append(str(path))
    process = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    client: NbdClient | None = None
    try:
        client = await _connect(sock, process)
        yield client
        if writable:
            await client.flush()
    finally:
        if client is not None:
            await client.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        shutil.rmtree(folder, ignore_errors=True)


async def _connect(sock: Path, process: asyncio.subprocess.Process) -> NbdClient:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.returncode is not None:
            err = b""
            if process.stderr is not None:
                err = await process.stderr.read()
            raise DriverError(f"qemu-nbd failed: {err.decode(errors='replace').strip()}")
        if os.path.exists(sock):
            with contextlib.suppress(ConnectionRefusedError, FileNotFoundError):
                return await NbdClient.connect(sock)
        if time.monotonic() > deadline:
            raise DriverError("qemu-nbd did not start in time")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.005)
