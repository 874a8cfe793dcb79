"""The agent's snapshot, backup and shelve steps with the fake driver, a real
SQLite database and an in-memory image service: what happens when the
driver fails, when the image vanished, and how backups rotate."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest

from stratus.common.db import Base, Database
from stratus.compute import models as m
from stratus.compute.agent.agent import ComputeAgent
from stratus.compute.agent.images import CachedImage
from stratus.compute.drivers.fake import FakeDriver
from stratus.compute.service.actions import Actions, start_action


class FakeImages:
    """The image service as the agent's ImageRecords sees it."""

    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.uploaded: dict[str, bytes] = {}
        self.clock = itertools.count()

    def add(self, **record: Any) -> str:
        image_id = str(uuid.uuid4())
        self.images[image_id] = {
            "id": image_id,
            "status": "queued",
            "created": next(self.clock),
            **record,
        }
        return image_id

    async def get(self, image_id: str) -> dict[str, Any] | None:
        return self.images.get(image_id)

    async def set_formats(self, image_id: str, disk_format: str, container_format: str) -> None:
        self.images[image_id].update(disk_format=disk_format, container_format=container_format)

    async def upload(self, image_id: str, path: Path) -> None:
        self.uploaded[image_id] = path.read_bytes()
        self.images[image_id]["status"] = "active"

    async def delete(self, image_id: str) -> bool:
        return self.images.pop(image_id, None) is not None

    async def backups(self, server_id: str, backup_type: str) -> list[dict[str, Any]]:
        found = [
            i
            for i in self.images.values()
            if i.get("instance_uuid") == server_id
            and i.get("image_type") == "backup"
            and i.get("backup_type") == backup_type
        ]
        return sorted(found, key=lambda i: i["created"], reverse=True)

    async def close(self) -> None:
        pass


class FakeCache:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.image_url = "http://127.0.0.1:1/image"
        self.session = None

    async def ensure(self, image_id: str) -> CachedImage:
        return CachedImage(self.base, "qcow2")


@pytest.fixture
async def setup(tmp_path: Path) -> Any:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    base = tmp_path / "base.qcow2"
    base.write_bytes(b"QFI\xfb base image")
    driver = FakeDriver("h1")
    images = FakeImages()
    agent = ComputeAgent(
        db,
        host="h1",
        driver=driver,
        images=FakeCache(base),
        image_records=images,
        instances=tmp_path / "instances",
        sync_interval=10,
        shutdown_timeout=1,
    )
    yield db, agent, driver, images
    await db.engine.dispose()


async def server_with_task(
    db: Database,
    driver: FakeDriver,
    agent: ComputeAgent,
    task: str,
    meta: dict[str, Any],
    vm_state: str = m.ACTIVE,
) -> m.Server:
    server_id = str(uuid.uuid4())
    async with db.transaction() as s:
        s.add(
            m.Server(
                id=server_id, name="vm", project_id="p1", user_id="u1", image_ref="img", flavor_id="1",
                flavor={"vcpus": 1, "ram": 256, "disk": 1}, host="h1", vm_state=vm_state,
                task_state=task, networks="none", system_metadata=meta, generation=1,
            )
        )  # fmt: skip
        start_action(s, server_id, "createImage", "req-1", "u1", "p1")
    server = await agent.recorder.load(server_id)
    assert server is not None
    await driver.spawn(await agent.guests.spec(server))
    return server


async def reload(agent: ComputeAgent, server_id: str) -> m.Server:
    server = await agent.recorder.load(server_id)
    assert server is not None
    return server


async def test_snapshot_uploads_and_returns_the_server(setup: Any) -> None:
    db, agent, driver, images = setup
    image_id = images.add(name="snap")
    server = await server_with_task(
        db,
        driver,
        agent,
        "image_snapshot",
        {"image_task": {"image_id": image_id, "kind": "snapshot"}},
    )
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state) == (m.ACTIVE, None)
    assert "image_task" not in after.system_metadata
    assert images.images[image_id]["status"] == "active"
    assert images.images[image_id]["disk_format"] == "qcow2"
    assert images.uploaded[image_id].startswith(b"QFI\xfb base image")
    assert not list((agent.directory(server)).glob("snapshot-*")), (
        "the local snapshot file was left behind"
    )


async def test_a_failed_snapshot_deletes_the_image_and_records_the_error(setup: Any) -> None:
    db, agent, driver, images = setup
    image_id = images.add(name="snap")
    server = await server_with_task(
        db,
        driver,
        agent,
        "image_snapshot",
        {"image_task": {"image_id": image_id, "kind": "snapshot"}},
    )
    driver.fail_next("snapshot", "disk on fire")
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state) == (m.ACTIVE, None)
    assert image_id not in images.images
    assert "image_task" not in after.system_metadata
    (action, events) = (await Actions(db).get(server.id, "req-1")) or (None, [])
    assert action is not None and action.message == "Error"
    assert [(e.event, e.result) for e in events] == [("compute_image_snapshot", "Error")]
    assert "disk on fire" in (events[0].details or "")
    assert (await driver.status(server.id)).power.name == "RUNNING"


async def test_an_image_deleted_meanwhile_fails_the_snapshot(setup: Any) -> None:
    db, agent, driver, images = setup
    server = await server_with_task(
        db,
        driver,
        agent,
        "image_snapshot",
        {"image_task": {"image_id": "gone", "kind": "snapshot"}},
    )
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert after.task_state is None
    (_, events) = (await Actions(db).get(server.id, "req-1")) or (None, [])
    assert "deleted before the snapshot was uploaded" in (events[0].details or "")


async def test_backup_rotation_keeps_the_newest(setup: Any) -> None:
    db, agent, driver, images = setup
    server_id = None
    made = []
    for keep in (2, 2, 2, 1):
        image_id = images.add(
            name="bk", instance_uuid=server_id, image_type="backup", backup_type="daily", owner="p1"
        )
        task = {"image_id": image_id, "kind": "backup", "backup_type": "daily", "rotation": keep}
        if server_id is None:
            server = await server_with_task(db, driver, agent, "image_backup", {"image_task": task})
            server_id = server.id
            images.images[image_id]["instance_uuid"] = server_id
        else:
            async with db.transaction() as s:
                row = await s.get(m.Server, server_id)
                assert row is not None
                row.task_state, row.system_metadata = "image_backup", {"image_task": task}
        made.append(image_id)
        await agent.work(server_id)
        assert (await reload(agent, server_id)).task_state is None
    left = await images.backups(server_id, "daily")
    assert [i["id"] for i in left] == [made[-1]]
    # another project's image with the same properties is never touched
    other = images.add(
        instance_uuid=server_id,
        image_type="backup",
        backup_type="daily",
        owner="p2",
        status="active",
    )
    task = {
        "image_id": images.add(
            instance_uuid=server_id, image_type="backup", backup_type="daily", owner="p1"
        ),
        "kind": "backup",
        "backup_type": "daily",
        "rotation": 0,
    }
    async with db.transaction() as s:
        row = await s.get(m.Server, server_id)
        assert row is not None
        row.task_state, row.system_metadata = "image_backup", {"image_task": task}
    await agent.work(server_id)
    assert [i["id"] for i in await images.backups(server_id, "daily")] == [other]


async def test_shelve_offloads_and_unshelve_spawns_from_the_shelved_image(setup: Any) -> None:
    db, agent, driver, images = setup
    image_id = images.add(name="vm-shelved")
    meta = {
        "image_task": {"image_id": image_id, "kind": "shelve"},
        "shelved_image_id": image_id,
        "shelve_offload": True,
    }
    server = await server_with_task(db, driver, agent, "shelving", meta)
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state, after.host) == (m.SHELVED_OFFLOADED, None, None)
    assert after.system_metadata["shelved_image_id"] == image_id
    assert server.id not in driver.instances and not agent.directory(server).exists()
    assert images.images[image_id]["status"] == "active"
    # placed on this host again, then unshelved: spawned, the image deleted
    async with db.transaction() as s:
        row = await s.get(m.Server, server.id)
        assert row is not None
        row.host, row.task_state = "h1", "unshelving"
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state, after.host) == (m.ACTIVE, None, "h1")
    assert image_id not in images.images
    assert not any(k.startswith("shelve") for k in after.system_metadata)
    assert driver.instances[server.id].power.name == "RUNNING"


async def test_a_failed_unshelve_leaves_the_server_offloaded(setup: Any) -> None:
    db, agent, driver, images = setup
    image_id = images.add(name="vm-shelved", status="active")
    server = await server_with_task(
        db,
        driver,
        agent,
        "unshelving",
        {"shelved_image_id": image_id},
        vm_state=m.SHELVED_OFFLOADED,
    )
    await driver.destroy(server.id, agent.directory(server))
    driver.fail_next("spawn", "no room")
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state, after.host) == (m.SHELVED_OFFLOADED, None, None)
    assert image_id in images.images, "the shelved image must survive a failed unshelve"


async def test_rescue_and_unrescue(setup: Any) -> None:
    db, agent, driver, images = setup
    server = await server_with_task(
        db, driver, agent, "rescuing", {"rescue_image_ref": "rescue-img"}
    )
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state, after.power_state) == (m.RESCUED, None, m.RUNNING)
    assert driver.instances[server.id].rescue_image is not None
    async with db.transaction() as s:
        row = await s.get(m.Server, server.id)
        assert row is not None
        row.task_state = "unrescuing"
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state) == (m.ACTIVE, None)
    assert driver.instances[server.id].rescue_image is None


async def test_a_failed_shelve_deletes_the_image_and_restarts_the_guest(setup: Any) -> None:
    db, agent, driver, images = setup
    image_id = images.add(name="vm-shelved")
    meta = {"image_task": {"image_id": image_id, "kind": "shelve"}, "shelved_image_id": image_id, "shelve_offload": True}
    server = await server_with_task(db, driver, agent, "shelving", meta)
    driver.fail_next("snapshot", "no space")
    await agent.work(server.id)
    after = await reload(agent, server.id)
    assert (after.vm_state, after.task_state, after.host) == (m.ACTIVE, None, "h1")
    assert image_id not in images.images
    assert not any(k.startswith(("shelve", "image_task")) for k in after.system_metadata)
    assert driver.instances[server.id].power.name == "RUNNING"
    assert [c for c, _ in driver.calls][-3:] == ["stop", "snapshot", "start"]
