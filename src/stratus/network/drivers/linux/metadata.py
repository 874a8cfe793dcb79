"""The metadata proxy: guests ask ``http://169.254.169.254/``; the proxy
finds the port that asks and forwards the request to the metadata API
upstream (Nova's, which compute serves) with Nova's headers: the server
(``X-Instance-ID``, the port's device_id), its project (``X-Tenant-ID``),
the guest's address (``X-Forwarded-For``) and ``X-Instance-ID-Signature``,
an HMAC-SHA256 of the instance id with the shared secret.

One listening socket per network, made inside the network's qdhcp namespace
(which holds 169.254.169.254 on the DHCP port, as Neutron's isolated
metadata does) and served from the agent's own event loop: no process per
namespace, and the upstream is reached from the agent's own namespace
(127.0.0.1 or a unix socket work).  The asking port is told apart by the
network it asks on, its source address and, from the namespace's neighbour
table, its MAC (anti-spoofing already keeps a guest to its own addresses).
HTTP/1.1 is parsed with h11.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass, field

import h11
import httpx

from stratus.common import tls
from stratus.network.drivers.base import DhcpHost
from stratus.network.drivers.linux.command import Place
from stratus.network.drivers.linux.netns import freebind_listener, in_netns

log = logging.getLogger(__name__)

METADATA_IP = "169.254.169.254"
MAX_BODY = 1 << 20
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
# Headers only the proxy may set: a guest sending them is ignored.
OURS = {"x-instance-id", "x-tenant-id", "x-instance-id-signature", "x-forwarded-for"}


def sign(secret: str, instance_id: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Network:
    netns: str
    server: asyncio.AbstractServer
    hosts: dict[str, list[DhcpHost]] = field(default_factory=dict)  # ip -> hosts


class MetadataProxy:
    def __init__(self, upstream: str, secret: str, port: int = 80):
        self.upstream = upstream.rstrip("/")
        self.secret = secret
        self.port = port
        self.networks: dict[str, _Network] = {}
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            if self.upstream.startswith("unix:"):
                transport = httpx.AsyncHTTPTransport(uds=self.upstream[len("unix:") :])
                self._client = tls.client(transport=transport, base_url="http://metadata")
            else:
                self._client = tls.client(base_url=self.upstream)
        return self._client

    def serving(self, network_id: str) -> bool:
        net = self.networks.get(network_id)
        return net is not None and net.server.is_serving()

    async def serve(self, network_id: str, netns: str, hosts: tuple[DhcpHost, ...]) -> None:
        """Listen in ``netns`` (once) and answer for ``hosts`` from now on."""
        net = self.networks.get(network_id)
        if net is not None and (net.netns != netns or not net.server.is_serving()):
            await self.stop(network_id)
            net = None
        if net is None:
            sock = await in_netns(netns, lambda: freebind_listener(METADATA_IP, self.port))

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await self._connection(network_id, reader, writer)

            server = await asyncio.start_server(handle, sock=sock)
            net = self.networks[network_id] = _Network(netns, server)
        by_ip: dict[str, list[DhcpHost]] = {}
        for h in hosts:
            by_ip.setdefault(h.ip_address, []).append(h)
        net.hosts = by_ip

    async def stop(self, network_id: str) -> None:
        net = self.networks.pop(network_id, None)
        if net is not None:
            net.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(net.server.wait_closed(), 5)

    async def close(self) -> None:
        for network_id in list(self.networks):
            await self.stop(network_id)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- one guest's connection -------------------------------------------------

    async def _connection(
        self, network_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                request, body = await self._read(conn, reader)
                if request is None:
                    break
                status, headers, content = await self._answer(network_id, peer[0], request, body)
                headers.append(("content-length", str(len(content))))
                writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
                writer.write(conn.send(h11.Data(data=content)) or b"")
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, ConnectionError, TimeoutError):
            pass
        except Exception:
            log.exception("metadata proxy: request from %s failed", peer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(reader.read(65536), 30)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise h11.RemoteProtocolError("request body too large")
            elif isinstance(event, h11.EndOfMessage):
                return request, body
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    async def _answer(
        self, network_id: str, ip: str, request: h11.Request, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        host = await self._find(network_id, ip)
        if host is None:
            return 404, [("content-type", "text/plain")], b"no port has this address\n"
        if not self.upstream:
            return (
                503,
                [("content-type", "text/plain")],
                b"the metadata service is not configured\n",
            )
        headers = [
            (k.decode(), v.decode())
            for k, v in request.headers
            if k.decode().lower() not in HOP_BY_HOP | OURS
        ]
        headers += [
            ("X-Instance-ID", host.device_id),
            ("X-Tenant-ID", host.project_id),
            ("X-Forwarded-For", ip),
            ("X-Instance-ID-Signature", sign(self.secret, host.device_id)),
        ]
        try:
            resp = await self._http().request(
                request.method.decode(), request.target.decode(), headers=headers,
                content=body, timeout=30,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            log.warning("metadata proxy: upstream %s: %s", self.upstream, exc)
            return 502, [("content-type", "text/plain")], b"the metadata service did not answer\n"
        out = [(k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP]
        return resp.status_code, out, resp.content

    async def _find(self, network_id: str, ip: str) -> DhcpHost | None:
        net = self.networks.get(network_id)
        candidates = [h for h in (net.hosts.get(ip, []) if net else []) if h.device_id]
        if not candidates or net is None:
            return None
        mac = await _neighbour_mac(net.netns, ip)
        if mac is None:
            return candidates[0] if len(candidates) == 1 else None
        return next((h for h in candidates if h.mac_address.lower() == mac), None)


async def _neighbour_mac(netns: str, ip: str) -> str | None:
    with contextlib.suppress(Exception):
        for entry in await Place(netns).ip_json("neigh", "show", "to", ip):
            if entry.get("lladdr"):
                return str(entry["lladdr"]).lower()
    return None
