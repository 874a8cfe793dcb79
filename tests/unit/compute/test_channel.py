"""The agent channel's app, without identity: a token check that knows one
good token, a fake driver, real files."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from stratus.compute.agent.channel import make_app
from stratus.compute.agent.channel_wire import ChannelError, receive_file
from stratus.compute.agent.folders import INCOMING
from stratus.compute.drivers.fake import FakeDriver

GOOD = "good-token"


class Check:
    async def allowed(self, token: str) -> bool:
        return token == GOOD


@pytest.fixture
def agent(tmp_path: Path) -> Any:
    instances = tmp_path / "host" / "instances"
    instances.mkdir(parents=True)
    woken: list[bool] = []
    return SimpleNamespace(
        host="h",
        instances=instances,
        driver=FakeDriver("h"),
        wake=lambda: woken.append(True),
        woken=woken,
    )


class Client:
    """Requests straight into the ASGI app, no socket."""

    def __init__(self, agent: Any) -> None:
        self.app = make_app(agent, Check())

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://agent") as c:
                return await c.request(method, path, **kw)

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def client(agent: Any) -> Client:
    return Client(agent)


def test_every_route_needs_a_good_token(client: Client) -> None:
    for method, path in [
        ("GET", "/servers/s1/console"),
        ("GET", "/servers/s1/disk"),
        ("PUT", "/servers/s1/disk"),
        ("DELETE", "/servers/s1/moved"),
        ("POST", "/wake"),
    ]:
        assert client.request(method, path).status_code == 401
        assert client.request(method, path, headers={"X-Auth-Token": "bad"}).status_code == 401


def test_disk_in_is_checked_and_disk_out_streams(client: Client, agent: Any) -> None:
    data = b"disk bytes " * 100_000
    digest = hashlib.sha256(data).hexdigest()
    auth = {"X-Auth-Token": GOOD}
    bad = client.put(
        "/servers/s1/disk", content=data, headers={**auth, "X-Checksum-SHA256": "1" * 64}
    )
    assert bad.status_code == 409 and "damaged" in bad.json()["error"]
    assert not any((agent.instances / "s1").iterdir())  # no partial file left
    missing = client.put("/servers/s1/disk", content=data, headers=auth)
    assert missing.status_code == 400
    ok = client.put("/servers/s1/disk", content=data, headers={**auth, "X-Checksum-SHA256": digest})
    assert ok.status_code == 201 and ok.json() == {"size": len(data)}
    assert (agent.instances / "s1" / INCOMING).read_bytes() == data
    # Out: the fake driver's disk file of that folder, with its checksum.
    out = client.get("/servers/s1/disk", headers=auth)
    assert out.status_code == 200
    assert hashlib.sha256(out.content).hexdigest() == out.headers["x-checksum-sha256"]
    assert b"fake disk of s1" in out.content
    assert client.get("/servers/nope/disk", headers=auth).status_code == 404
    assert client.get("/servers/..%2Fx/disk", headers=auth).status_code in (404, 409)


def test_console_wake_and_moved(client: Client, agent: Any) -> None:
    auth = {"X-Auth-Token": GOOD}
    assert client.post("/wake", headers=auth).status_code == 204
    assert agent.woken == [True]
    resp = client.get("/servers/s2/console", params={"length": 3}, headers=auth)
    assert resp.status_code == 200 and resp.text == ""
    aside = agent.instances.parent / "moves" / "s2"
    aside.mkdir(parents=True)
    (aside / "disk.qcow2").write_bytes(b"x")
    assert client.delete("/servers/s2/moved", headers=auth).status_code == 204
    assert not aside.exists()


def test_receive_file_refuses_a_wrong_checksum(tmp_path: Path) -> None:
    async def chunks() -> Any:
        yield b"abc"
        yield b"def"

    target = tmp_path / "out"
    with pytest.raises(ChannelError, match="damaged"):
        asyncio.run(receive_file(chunks(), target, "0" * 64))
    assert not target.exists() and not list(tmp_path.iterdir())
    size = asyncio.run(receive_file(chunks(), target, hashlib.sha256(b"abcdef").hexdigest()))
    assert size == 6 and target.read_bytes() == b"abcdef"
