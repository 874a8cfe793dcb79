"""The API relay to guests: the URL guests are given, and the relay itself
carrying a connection both ways (on 127.0.0.2 here, in this namespace)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stratus.common.config import Config
from stratus.network.agent.runner import api_relay_upstream, guest_api_url
from stratus.network.drivers.linux.apirelay import ApiRelay


def test_guests_are_given_the_hosts_external_address_at_the_apis_port(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, server={"public_url": "http://127.0.0.1:8774"})
    assert api_relay_upstream(cfg) == "127.0.0.1:8774"
    assert guest_api_url(cfg) == "http://198.18.0.1:8774"
    own = Config(data_dir=tmp_path, server={"public_url": "https://cloud.test/api/"},
                 network={"external_bridge_address": "203.0.113.9/24"})  # fmt: skip
    assert guest_api_url(own) == "https://203.0.113.9:443/api"
    for off in ({"guest_api_relay": False}, {"external_bridge_address": ""}, {"driver": "fake"}):
        assert guest_api_url(Config(data_dir=tmp_path, network=off)) == ""


async def test_the_relay_carries_a_connection_both_ways_and_stops() -> None:
    async def upstream(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"api: " + await r.readexactly(5))
        await w.drain()
        w.close()

    api = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = api.sockets[0].getsockname()[1]
    relay = ApiRelay(f"127.0.0.1:{port}", port, None)
    await relay.ensure(["127.0.0.2", "127.0.0.1", "fd00::1"])  # the API's own address: none
    assert set(relay.servers) == {"127.0.0.2"}
    r, w = await asyncio.open_connection("127.0.0.2", port)
    w.write(b"hello")
    assert await asyncio.wait_for(r.read(), 5) == b"api: hello"
    w.close()
    await relay.ensure([])
    try:
        await asyncio.open_connection("127.0.0.2", port)
        refused = False
    except OSError:
        refused = True
    assert refused and relay.servers == {}
    await relay.close()
    api.close()
