"""The database agent's workflows over its fake drivers and a real SQLite
database: what the API records becomes servers, accounts and backups, and
failures and restarts end in a clean state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Base, Database
from stratus.compute import models as cm
from stratus.database import models as m
from stratus.database.agent.agent import DatabaseAgent
from stratus.database.agent.runner import build_agent
from stratus.database.drivers.fake import FakeBackupStore, FakeDatastore, FakeIsolation
from stratus.database.errors import BadRequest, NotFound, OverLimit, UnprocessableEntity
from stratus.database.service import DatabaseService
from stratus.database.service.datastores import check_configuration, short_version
from stratus.database.service.new_instances import NewInstance, NewUser

CTX = RequestContext(request_id="req-1", user_id="u1", project_id="p1", roles=("member",))


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[tuple[DatabaseService, DatabaseAgent]]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as s:
        s.add(cm.Flavor(id="1", name="m1.tiny", memory_mb=256, vcpus=1))
        s.add(cm.Flavor(id="2", name="m1.small", memory_mb=2048, vcpus=2))
    cfg = Config(data_dir=tmp_path)
    cfg.dbaas.driver = "fake"
    cfg.dbaas.quota_volumes = 10
    service = DatabaseService(cfg, db)
    agent = build_agent(cfg, db, host="h1", backups=FakeBackupStore())
    await agent.register()
    yield service, agent
    await db.engine.dispose()


async def settle(agent: DatabaseAgent) -> None:
    for _ in range(20):
        keys = list(await agent.pending())
        if not keys:
            return
        for key in keys:
            await agent.work(key)
    raise AssertionError("work left after 20 passes")


def new(**kw: Any) -> NewInstance:
    base: dict[str, Any] = {"name": "db1", "flavor_ref": "2", "volume_size": 1,
                            "datastore": "postgresql"}  # fmt: skip
    return NewInstance(**{**base, **kw})


def fake_store(agent: DatabaseAgent, name: str = "postgresql") -> FakeDatastore:
    store = agent.datastores[name]
    assert isinstance(store, FakeDatastore)
    return store


def test_versions_and_parameters() -> None:
    assert short_version("15.18") == "15" and short_version("10.11.19") == "10.11"
    assert check_configuration("postgresql", {"max_connections": 50}) == {"max_connections": "50"}
    with pytest.raises(BadRequest):
        check_configuration("postgresql", {"max_connections": 0})
    with pytest.raises(BadRequest):
        check_configuration("mariadb", {"no_such_thing": 1})


async def test_build_makes_the_server_its_accounts_and_limits(cloud: Any) -> None:
    service, agent = cloud
    inst = await service.instances.create(CTX, new(
        databases=[("app", None, None)], users=[NewUser("app", "secret", databases=["app"])]
    ))  # fmt: skip
    assert inst.status == m.BUILD and inst.host == "h1" and inst.datastore_version == "15"
    await settle(agent)
    shown = await service.instances.get(CTX, inst.id)
    assert shown.status == m.ACTIVE and shown.task is None
    server = fake_store(agent).servers[inst.id]
    assert server.running and set(server.databases) == {"app"}
    assert server.users[("app", "%")].password == "secret"
    users = await service.accounts.users(CTX, inst.id)
    assert users[0].pending_password is None, "a password outlived its use"
    iso = agent.isolation
    assert isinstance(iso, FakeIsolation) and iso.limits[inst.id] == (2048, 2)


async def test_a_dead_server_is_started_again(cloud: Any) -> None:
    service, agent = cloud
    inst = await service.instances.create(CTX, new())
    await settle(agent)
    place = agent.instances.places[inst.id]
    await fake_store(agent).stop(place)
    await agent.resync()
    assert fake_store(agent).running(place)
    assert (await service.instances.get(CTX, inst.id)).restarts == 1


async def test_a_failed_start_is_error_with_its_reason(cloud: Any) -> None:
    service, agent = cloud
    inst = await service.instances.create(CTX, new())
    fake_store(agent).fail_start.add(inst.id)
    await settle(agent)
    shown = await service.instances.get(CTX, inst.id)
    assert shown.status == m.ERROR and "did not start" in (shown.fault or "")
    await service.instances.delete(CTX, inst.id)
    await settle(agent)
    with pytest.raises(NotFound):
        await service.instances.get(CTX, inst.id)
    assert inst.id not in await agent.isolation.present()


async def test_accounts_follow_the_rows(cloud: Any) -> None:
    service, agent = cloud
    inst = await service.instances.create(CTX, new(databases=[("a", None, None)]))
    with pytest.raises(UnprocessableEntity):
        await service.accounts.create_databases(CTX, inst.id, [("b", None, None)])
    await settle(agent)
    await service.accounts.create_databases(CTX, inst.id, [("b", None, None)])
    await service.accounts.create_users(CTX, inst.id, [("u", "%", "pw", ["a"])])
    await settle(agent)
    server = fake_store(agent).servers[inst.id]
    assert set(server.databases) == {"a", "b"} and server.users[("u", "%")].databases == ("a",)
    await service.accounts.grant(CTX, inst.id, "u", ["b"])
    await service.accounts.change_passwords(CTX, inst.id, [("u", "%", "new")])
    await settle(agent)
    assert server.users[("u", "%")].password == "new"
    assert set(server.users[("u", "%")].databases) == {"a", "b"}
    await service.accounts.delete_user(CTX, inst.id, "u")
    await service.accounts.delete_database(CTX, inst.id, "a")
    await settle(agent)
    assert set(server.databases) == {"b"} and not server.users
    user, password = await service.accounts.enable_root(CTX, inst.id)
    await settle(agent)
    assert user == "postgres" and server.root_password == password
    assert (await service.instances.get(CTX, inst.id)).pending_root_password is None


async def test_backup_then_restore(cloud: Any) -> None:
    service, agent = cloud
    inst = await service.instances.create(CTX, new(databases=[("kept", None, None)]))
    await settle(agent)
    backup = await service.backups.create(CTX, inst.id, "b1", None, None)
    assert (await service.instances.get(CTX, inst.id)).status == m.BACKUP
    await settle(agent)
    done = await service.backups.get(CTX, backup.id)
    assert done.status == m.B_COMPLETED and done.size > 0 and done.checksum
    assert (await service.instances.get(CTX, inst.id)).status == m.ACTIVE
    restored = await service.instances.create(CTX, new(name="r", datastore=None,
                                                       backup_ref=backup.id))  # fmt: skip
    await settle(agent)
    assert [d.name for d in await service.accounts.databases(CTX, restored.id)] == ["kept"]


async def test_quotas_and_refusals(cloud: Any) -> None:
    service, agent = cloud
    with pytest.raises(OverLimit):
        await service.instances.create(CTX, new(volume_size=11))
    await service.instances.create(CTX, new(volume_size=8))
    with pytest.raises(OverLimit):
        await service.instances.create(CTX, new(volume_size=3))
    with pytest.raises(NotFound):
        await service.instances.create(CTX, new(datastore_version="9.6"))
    with pytest.raises(BadRequest):
        await service.instances.create(CTX, new(users=[NewUser("postgres", "x")]))
    other = RequestContext(request_id="r", user_id="u2", project_id="p2", roles=("member",))
    assert await service.instances.list(other) == []


async def test_a_configuration_group_reaches_the_server(cloud: Any) -> None:
    service, agent = cloud
    with pytest.raises(BadRequest):
        await service.configurations.create(CTX, "bad", None, {"max_connections": -1},
                                            "postgresql", None)  # fmt: skip
    group = await service.configurations.create(CTX, "g", None, {"max_connections": 50},
                                                "postgresql", None)  # fmt: skip
    inst = await service.instances.create(CTX, new())
    await settle(agent)
    await service.configurations.attach(CTX, inst.id, group.id)
    assert (await service.instances.get(CTX, inst.id)).status == m.REBOOT
    await settle(agent)
    server = fake_store(agent).servers[inst.id]
    assert server.settings == {"max_connections": "50"} and server.starts == 2
    await service.configurations.set_values(CTX, group.id, {"max_connections": 70}, replace=False)
    await settle(agent)
    assert server.settings == {"max_connections": "70"}
    with pytest.raises(BadRequest):
        await service.configurations.delete(CTX, group.id)
    await service.configurations.attach(CTX, inst.id, None)
    await settle(agent)
    assert server.settings == {} and (await service.instances.get(CTX, inst.id)).status == m.ACTIVE
    await service.configurations.delete(CTX, group.id)


async def test_a_replica_that_failed_or_went_leaves_nothing(cloud: Any) -> None:
    """A replica whose copy failed ends ERROR with the reason; deleting
    replicas takes their replication users off the source; a build begun
    again (an agent killed mid-create) copies once with one user."""
    from stratus.network import models as nm

    service, agent = cloud
    async with service.db.transaction() as s:
        s.add(nm.Network(id="net1", name="n", project_id="p1", segmentation_id=7))
    source = await service.instances.create(CTX, new(network_id="net1",
                                                     databases=[("app", None, None)]))  # fmt: skip
    await settle(agent)
    broken = await service.instances.create(CTX, new(name="r1", replica_of=source.id))
    fake_store(agent).fail_seed.add(broken.id)
    await settle(agent)
    shown = await service.instances.get(CTX, broken.id)
    assert shown.status == m.ERROR and "copy" in (shown.fault or "")
    replica = await service.instances.create(CTX, new(name="r2", replica_of=source.id))
    inst = await agent.rec.instance(replica.id)
    assert inst is not None
    await agent.instances.build(inst)  # the first build, "killed" after it finished
    await agent.rec.update(inst, status=m.BUILD, task=m.T_BUILD)
    await settle(agent)  # ... and done again at restart
    assert (await service.instances.get(CTX, replica.id)).status == m.ACTIVE
    origin = fake_store(agent).servers[source.id]
    assert len(origin.replication_users) == 2  # r1's (made before its copy failed) and r2's
    assert set(fake_store(agent).servers[replica.id].databases) == {"app"}
    for iid in (broken.id, replica.id):
        await service.instances.delete(CTX, iid)
    await settle(agent)
    assert origin.replication_users == {}
    assert await agent.isolation.present() == {source.id}


async def test_at_start_what_belongs_to_no_instance_goes(
    cloud: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """What the host holds for an instance with no row (a crash between
    the row's removal and the rest) is removed at start, and logged; an
    instance's own stays."""
    service, agent = cloud
    kept = await service.instances.create(CTX, new())
    await settle(agent)
    isolation = agent.isolation
    assert isinstance(isolation, FakeIsolation)
    orphan = "0e3d1f6c-5a0b-4c43-9d8e-7f1a2b3c4d5e"
    isolation.made[orphan] = isolation.made[kept.id]
    with caplog.at_level("WARNING"):
        await agent.adopt()
    assert await isolation.present() == {kept.id}
    assert f"removing what instance {orphan} left on this host" in caplog.text


async def test_a_lost_source_is_ejected_and_its_replicas_follow_another(cloud: Any) -> None:
    """eject_replica_source: refused while the source runs; once its server
    is dead for good (ERROR), its first replica becomes the source, takes
    writes, and the other replica is copied from it and follows it."""
    from stratus.network import models as nm

    service, agent = cloud
    async with service.db.transaction() as s:
        s.add(nm.Network(id="net1", name="n", project_id="p1", segmentation_id=7))
    source = await service.instances.create(CTX, new(network_id="net1",
                                                     databases=[("app", None, None)]))  # fmt: skip
    await settle(agent)
    first = await service.instances.create(CTX, new(name="r1", replica_of=source.id))
    second = await service.instances.create(CTX, new(name="r2", replica_of=source.id))
    await settle(agent)
    with pytest.raises(BadRequest, match="reachable"):
        await service.instances.eject(CTX, source.id)
    store = fake_store(agent)
    await store.stop(agent.instances.places[source.id])
    store.fail_start.add(source.id)
    await agent.resync()  # the server does not start again: ERROR
    assert (await service.instances.get(CTX, source.id)).status == m.ERROR
    # While the agent that keeps the replicas is silent, nothing could make
    # the change: refused, and no replica is left waiting for it.
    async with service.db.transaction() as s:
        row = await s.get(m.Agent, source.host)
        assert row is not None
        beat, row.heartbeat_at = row.heartbeat_at, row.heartbeat_at - timedelta(hours=1)
    with pytest.raises(UnprocessableEntity, match="not answering"):
        await service.instances.eject(CTX, source.id)
    assert (await service.instances.get(CTX, first.id)).status == m.ACTIVE
    async with service.db.transaction() as s:
        row = await s.get(m.Agent, source.host)
        assert row is not None
        row.heartbeat_at = beat
    await service.instances.eject(CTX, source.id)
    await settle(agent)
    new_source = await service.instances.get(CTX, first.id)
    follower = await service.instances.get(CTX, second.id)
    assert new_source.status == follower.status == m.ACTIVE
    assert new_source.replica_of_id is None and follower.replica_of_id == first.id
    assert store.servers[first.id].following is None
    assert store.servers[second.id].following == first.id
    assert (await service.instances.replicas([source.id])) == {}


class Killed(BaseException):
    """The agent killed (SIGKILL) at this point: nothing after it runs."""


async def _set_of_three(service: DatabaseService, agent: DatabaseAgent) -> tuple[str, list[str]]:
    """A source and three replicas of it (made by one create), ACTIVE."""
    from stratus.network import models as nm

    async with service.db.transaction() as s:
        s.add(nm.Network(id="net1", name="n", project_id="p1", segmentation_id=7))
    source = await service.instances.create(CTX, new(network_id="net1"))
    await settle(agent)
    await service.instances.create(CTX, new(name="r", replica_of=source.id, replica_count=3))
    await settle(agent)
    replicas = (await service.instances.replicas([source.id]))[source.id]
    names = {(await service.instances.get(CTX, r)).name for r in replicas}
    assert len(replicas) == 3 and names == {"r-1", "r-2", "r-3"}
    return source.id, replicas


async def _one_source(service: DatabaseService, members: list[str]) -> str:
    """Every member settled (ACTIVE or ERROR) and exactly one of them the
    source the others follow."""
    rows = [await service.instances.get(CTX, iid) for iid in members]
    assert all(r.status in (m.ACTIVE, m.ERROR) and r.task is None for r in rows), [
        (r.status, r.task) for r in rows
    ]
    sources = [r.id for r in rows if r.replica_of_id is None]
    assert len(sources) == 1, [(r.id, r.replica_of_id) for r in rows]
    assert all(r.replica_of_id == sources[0] for r in rows if r.id != sources[0])
    return sources[0]


async def test_eject_promotes_the_replica_holding_the_most(cloud: Any) -> None:
    """eject_replica_source of a lost source: the replica that received the
    most of its changes (not the first) becomes the others' source."""
    service, agent = cloud
    source, replicas = await _set_of_three(service, agent)
    store = fake_store(agent)
    for iid, held in zip(replicas, (3, 9, 5), strict=True):
        store.servers[iid].received = held
    async with service.db.transaction() as s:
        row = await s.get(m.Instance, source)
        assert row is not None
        row.status = m.ERROR
    await service.instances.eject(CTX, source)
    await settle(agent)
    assert await _one_source(service, replicas) == replicas[1]
    assert (await service.instances.get(CTX, source)).replica_of_id is None  # left the set
    assert all(store.servers[r].following == replicas[1] for r in (replicas[0], replicas[2]))


@pytest.mark.parametrize("at", ["detach_replica", "seed"])
async def test_an_agent_killed_mid_promotion_ends_with_one_source(
    cloud: Any, at: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before the promotion is recorded (the replica promoted in its
    server only) or after (the others not yet following): the agent done
    again ends with every member ACTIVE and one source."""
    service, agent = cloud
    source, replicas = await _set_of_three(service, agent)
    target = agent.instances if at == "seed" else fake_store(agent)
    real = getattr(target, at)

    async def killed(*args: Any, **kw: Any) -> None:
        monkeypatch.setattr(target, at, real)
        raise Killed

    monkeypatch.setattr(target, at, killed)
    await service.instances.promote(CTX, replicas[0])
    with pytest.raises(Killed):
        await settle(agent)
    await settle(agent)  # the agent restarted
    members = [source, *replicas]
    assert await _one_source(service, members) == replicas[0]
    assert [(await service.instances.get(CTX, i)).status for i in members] == [m.ACTIVE] * 4
    store = fake_store(agent)
    assert all(store.servers[i].following == replicas[0] for i in members if i != replicas[0])
