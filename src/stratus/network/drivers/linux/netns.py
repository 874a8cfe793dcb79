"""Doing one thing inside a named network namespace from this process.

A socket, or a tap's file descriptor, belongs to the namespace it was made
in and keeps working wherever it is used from.  So a short-lived thread
enters the namespace with setns(2) (Python 3.11 has no ``os.setns``; the
call changes only the calling thread), makes the object and ends; the
process itself never changes namespace.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def _setns(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in_netns(name: str | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a new thread inside namespace ``name`` (None: here)
    and return its result (or raise its exception).  Blocking."""
    if not name:
        return fn()
    path = netns_path(name)
    if not path.exists():
        raise FileNotFoundError(f"network namespace {name} does not exist")
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            _setns(path)
            result.append(fn())
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def in_netns(name: str | None, fn: Callable[[], T]) -> T:
    """``call_in_netns`` without blocking the event loop."""
    return await asyncio.to_thread(call_in_netns, name, fn)


IP_FREEBIND = 15  # linux/in.h; Python's socket module does not name it


def freebind_listener(address: str, port: int) -> socket.socket:
    """A non-blocking TCP listening socket on ``address``, which need not be
    the namespace's yet (``IP_FREEBIND``: it may come a moment later); call
    it inside the namespace (``in_netns``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock
