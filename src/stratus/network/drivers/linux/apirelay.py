"""The cloud's API as guests reach it: a TCP relay on the host's address on
the external network.

A guest behind a router to the external network reaches the host's own
address there (the routers' SNAT goes to it), never the 127.0.0.1 the
all-in-one's API listens on.  Wait condition handles' signal URLs (Heat's
``heat_waitcondition_server_url``) and anything else a guest asks of the
cloud need that address to carry the API, as a deployment routes its public
endpoint to its guests.  The relay listens on each of the host's external
addresses, at the API's port, inside the host's namespace (``IP_FREEBIND``:
the address may come a moment later), and pipes each connection to the API
from the agent's own namespace; the API sees the connection as the host's.
Bytes only: TLS, HTTP and tokens pass through untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from stratus.network.drivers.linux.netns import freebind_listener, in_netns

log = logging.getLogger(__name__)

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class ApiRelay:
    """``upstream`` ("host:port", the API) relayed on the addresses given to
    ``ensure``, at ``port``, inside namespace ``netns`` (None: here)."""

    def __init__(self, upstream: str, port: int, netns: str | None) -> None:
        host, _, up_port = upstream.rpartition(":")
        self.upstream = (host.strip("[]"), int(up_port)) if upstream else None
        self.port = port
        self.netns = netns
        self.servers: dict[str, asyncio.AbstractServer] = {}

    async def ensure(self, addresses: list[str]) -> None:
        """Listen on exactly ``addresses`` (bare IPv4 addresses)."""
        if self.upstream is None:
            return
        wanted = {a for a in addresses if ":" not in a}
        for address in set(self.servers) - wanted:
            await self._stop(address)
        for address in wanted - set(self.servers):
            if address == self.upstream[0]:
                continue  # the API itself listens there
            try:
                sock = await in_netns(
                    self.netns, functools.partial(freebind_listener, address, self.port)
                )
            except OSError as exc:
                log.warning("no API relay on %s:%s: %s", address, self.port, exc)
                continue
            self.servers[address] = await asyncio.start_server(self._connection, sock=sock)
            log.info("relaying the API to guests on %s:%s", address, self.port)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.upstream is not None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    async def _stop(self, address: str) -> None:
        server = self.servers.pop(address, None)
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def close(self) -> None:
        for address in list(self.servers):
            await self._stop(address)
