"""A small asyncio client for the QEMU Machine Protocol (QMP) over a unix
socket.  Standard library only.

QMP speaks JSON objects, one per line.  After the greeting the client sends
``qmp_capabilities``; from then on every command gets exactly one reply
(``return`` or ``error``), and asynchronous events (``event``) may arrive at
any moment, interleaved with replies.  A reader task sorts the two: replies
complete the pending command, events go into a queue that ``wait_event``
consumes.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import socket
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any

# QMP replies can be long (query-block on a guest with many disks); allow
# lines much longer than asyncio's 64 KiB default.
_LINE_LIMIT = 16 * 1024 * 1024
_MAX_EVENTS = 1000


class QMPError(Exception):
    """QMP answered a command with an error, or the connection failed."""

    def __init__(self, message: str, error_class: str = "") -> None:
        super().__init__(message)
        self.error_class = error_class


class QMPClosed(QMPError):
    """The connection closed (QEMU exited) before a reply arrived."""


class QMPClient:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.greeting: dict[str, Any] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=_MAX_EVENTS)
        self._event_arrived = asyncio.Event()
        self._ids = itertools.count(1)
        self._closed_reason: str | None = None

    # -- connection ---------------------------------------------------------

    async def connect(self, timeout: float = 5.0) -> QMPClient:
        """Open the socket, read the greeting and negotiate capabilities."""
        try:
            async with asyncio.timeout(timeout):
                self._reader, self._writer = await asyncio.open_unix_connection(
                    self.path, limit=_LINE_LIMIT
                )
                line = await self._reader.readline()
                if not line:
                    raise QMPClosed("QEMU closed the monitor socket before its greeting")
                greeting = json.loads(line)
                if "QMP" not in greeting:
                    raise QMPError(f"not a QMP greeting: {line[:200]!r}")
                self.greeting = greeting["QMP"]
                self._task = asyncio.create_task(self._read_loop(), name=f"qmp:{self.path}")
                await self.execute("qmp_capabilities")
        except TimeoutError:
            await self.close()
            raise QMPError(f"timed out connecting to QMP at {self.path}") from None
        except (OSError, ValueError) as exc:
            await self.close()
            raise QMPError(f"cannot connect to QMP at {self.path}: {exc}") from exc
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._closed_reason is None:
            self._closed_reason = "the QMP connection was closed"
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = None
        self._fail_pending()

    async def __aenter__(self) -> QMPClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    # -- commands -----------------------------------------------------------

    async def execute(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> Any:
        """Run one command; return its ``return`` value or raise QMPError."""
        if self._writer is None or self._closed_reason is not None:
            raise QMPClosed(self._closed_reason or "QMP is not connected")
        ident = f"stratus-{next(self._ids)}"
        message: dict[str, Any] = {"execute": command, "id": ident}
        if arguments:
            message["arguments"] = arguments
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            self._writer.write(json.dumps(message).encode() + b"\n")
            await self._writer.drain()
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise QMPError(f"QMP command {command} timed out after {timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise QMPClosed(f"QMP connection lost during {command}: {exc}") from exc
        finally:
            self._pending.pop(ident, None)

    # -- events -------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """The events received and not yet consumed (oldest first)."""
        return list(self._events)

    async def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        """Consume and return the first event called ``name`` (already
        received or arriving within ``timeout`` seconds)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for event in self._events:
                        if event.get("event") == name:
                            self._events.remove(event)
                            return event
                    if self._closed_reason is not None:
                        raise QMPClosed(f"{self._closed_reason} while waiting for {name}")
                    self._event_arrived.clear()
                    await self._event_arrived.wait()
        except TimeoutError:
            raise QMPError(f"no {name} event within {timeout:g} s") from None

    # -- internals ----------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    self._closed_reason = "QEMU closed the monitor connection"
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if "event" in message:
                    self._events.append(message)
                    self._event_arrived.set()
                    continue
                future = self._pending.get(str(message.get("id", "")))
                if future is None or future.done():
                    continue
                if "error" in message:
                    error = message["error"] or {}
                    future.set_exception(
                        QMPError(str(error.get("desc", error)), str(error.get("class", "")))
                    )
                else:
                    future.set_result(message.get("return"))
        except (ConnectionError, OSError, ValueError) as exc:
            self._closed_reason = f"QMP connection failed: {exc}"
        finally:
            if self._closed_reason is None:
                self._closed_reason = "the QMP connection was closed"
            self._fail_pending()
            self._event_arrived.set()

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(QMPClosed(self._closed_reason or "QMP connection closed"))
        self._pending.clear()


def execute_with_fd(
    path: Path | str, fd: int, fd_name: str, commands: list[tuple[str, dict[str, Any]]]
) -> None:
    """Blocking (call it in a thread): pass ``fd`` to QEMU as ``fd_name``
    (``getfd``, the descriptor sent with SCM_RIGHTS), then run ``commands``
    on the same connection, where the name is known.  QMPError on a refusal."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30.0)
    try:
        sock.connect(str(path))
        reader = sock.makefile("rb")

        def reply() -> Any:
            while True:
                line = reader.readline(_LINE_LIMIT)
                if not line:
                    raise QMPClosed("QEMU closed the monitor socket")
                message = json.loads(line)
                if "error" in message:
                    error = message["error"]
                    raise QMPError(str(error.get("desc", error)), str(error.get("class", "")))
                if "return" in message:
                    return message["return"]

        def send(
            command: str, arguments: dict[str, Any] | None = None, with_fd: bool = False
        ) -> Any:
            body = {"execute": command, **({"arguments": arguments} if arguments else {})}
            data = json.dumps(body).encode() + b"\n"
            if with_fd:
                fds = array.array("i", [fd])
                sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            else:
                sock.sendall(data)
            return reply()

        greeting = json.loads(reader.readline(_LINE_LIMIT) or b"{}")
        if "QMP" not in greeting:
            raise QMPError("not a QMP greeting")
        send("qmp_capabilities")
        send("getfd", {"fdname": fd_name}, with_fd=True)
        for command, arguments in commands:
            send(command, arguments)
    except (OSError, ValueError) as exc:
        raise QMPError(f"QMP at {path}: {exc}") from exc
    finally:
        sock.close()
