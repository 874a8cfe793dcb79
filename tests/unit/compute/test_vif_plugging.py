"""A boot (or a hot-plug) on a host with a data plane waits, as Nova does,
for the network service's network-vif-plugged of each port that was not
ACTIVE when bound: it goes on when the events come, fails when one does not
come in time or comes "failed" (unless vif_plugging_is_fatal is off), and
an event from before the wait began does not count."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stratus.common.db import Base, Database
from stratus.compute import models as m
from stratus.compute.agent.nics import HostNics
from stratus.compute.drivers.base import DriverError
from stratus.compute.service.external_events import VIF_PLUGGED, ExternalEvent, ServerEvents
from stratus.compute.service.network import VifPort

HOST = "h1"


def vif(port_id: str, status: str = "DOWN") -> VifPort:
    return VifPort(
        id=port_id, network_id="net1", network_name="net1", mac_address="fa:16:3e:00:00:01",
        status=status, device_id="", device_owner="compute:nova", host=HOST, mtu=1450,
    )  # fmt: skip


class FakeClient:
    def __init__(self, ports: list[VifPort]) -> None:
        self.by_id = {p.id: p for p in ports}

    async def data_plane(self, host: str) -> str | None:
        return "linux"

    async def ports(self, port_ids: list[str]) -> dict[str, VifPort]:
        return {i: self.by_id[i] for i in port_ids if i in self.by_id}


class FakeNics:
    """What HostNics uses of ServerNics: the database, the client, ensure."""

    def __init__(self, db: Database, client: FakeClient) -> None:
        self.db = db
        self.client = client

    async def ensure(self, server: m.Server, host: str) -> list[VifPort]:
        return list(self.client.by_id.values())


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield database
    await database.engine.dispose()


async def a_server(db: Database) -> m.Server:
    server = m.Server(
        id=str(uuid.uuid4()), name="vm", project_id="p1", user_id="u1", image_ref="img",
        flavor_id="1", flavor={"vcpus": 1, "ram": 256, "disk": 1}, host=HOST,
        vm_state=m.BUILDING, task_state="spawning", networks="none", system_metadata={},
        generation=1,
    )  # fmt: skip
    async with db.transaction() as s:
        s.add(server)
    return server


def host_nics(db: Database, ports: list[VifPort], timeout: float, fatal: bool = True) -> HostNics:
    nics = HostNics(HOST, FakeNics(db, FakeClient(ports)))  # type: ignore[arg-type]
    nics.vif_timeout, nics.vif_fatal = timeout, fatal
    return nics


async def send(db: Database, server: m.Server, port_id: str, status: str = "completed") -> None:
    events = ServerEvents(db, lambda _host: None)
    (done,) = await events.create([ExternalEvent(server.id, VIF_PLUGGED, status, port_id)])
    assert done.code == 200


async def test_the_boot_goes_on_when_every_port_is_plugged(db: Database) -> None:
    server = await a_server(db)
    nics = host_nics(db, [vif("p1"), vif("p2"), vif("p3", "ACTIVE")], timeout=30)

    async def agent_plugs() -> None:
        await asyncio.sleep(0.2)
        await send(db, server, "p1")
        await send(db, server, "p2")

    plugging = asyncio.create_task(agent_plugs())
    ports, found = await nics.plug(server)
    await plugging
    assert found is not None and [n.port_id for n in found] == ["p1", "p2", "p3"]


async def test_a_port_never_plugged_fails_the_boot_unless_told_otherwise(db: Database) -> None:
    server = await a_server(db)
    await send(db, server, "p1")  # before the wait began: does not count
    with pytest.raises(DriverError, match="no network-vif-plugged for ports p1"):
        await host_nics(db, [vif("p1")], timeout=0.3).plug(server)
    _ports, found = await host_nics(db, [vif("p1")], timeout=0.3, fatal=False).plug(server)
    assert found is not None and [n.port_id for n in found] == ["p1"]


async def test_a_failed_plug_fails_the_boot(db: Database) -> None:
    server = await a_server(db)
    nics = host_nics(db, [vif("p1")], timeout=30)

    async def agent_fails() -> None:
        await asyncio.sleep(0.2)
        await send(db, server, "p1", "failed")

    failing = asyncio.create_task(agent_fails())
    with pytest.raises(DriverError, match="ports p1 failed to plug"):
        await nics.plug(server)
    await failing


async def test_a_port_active_by_the_deadline_is_taken_without_its_event(db: Database) -> None:
    server = await a_server(db)
    down = vif("p1")
    nics = host_nics(db, [down], timeout=0.3)

    async def ensure(server: m.Server, host: str) -> list[VifPort]:
        return [down]  # DOWN when bound

    nics.nics.ensure = ensure  # type: ignore[method-assign]
    # Up meanwhile, but its event was lost: looked at once when the wait ends.
    client: Any = nics.nics.client
    client.by_id["p1"] = replace(down, status="ACTIVE")
    _ports, found = await nics.plug(server)
    assert found is not None and [n.port_id for n in found] == ["p1"]
