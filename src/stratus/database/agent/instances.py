"""The work on one instance: build (isolation, port, volume, server,
accounts, floating IP), delete, restart, resize, and its accounts kept as
the rows say.  Each step is idempotent, so a build that a crash stopped is
done again from the start and ends ACTIVE or ERROR."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from pathlib import Path

from stratus.database import models as m
from stratus.database.agent.recorder import Recorder
from stratus.database.agent.specs import replication_user, spec_of
from stratus.database.drivers.base import (
    BackupStore,
    ByteStream,
    DatabaseSpec,
    Datastore,
    DriverError,
    Isolation,
    Network,
    Place,
    PortInfo,
    ServerSpec,
    Upstream,
    UserSpec,
    Volumes,
)

log = logging.getLogger(__name__)

PORT_TIMEOUT = 60.0  # seconds for the network agent to plug a port


class InstanceWork:
    def __init__(
        self,
        host: str,
        recorder: Recorder,
        datastores: dict[str, Datastore],
        isolation: Isolation,
        network: Network,
        volumes: Volumes | None,
        store: BackupStore,
        network_host: str | None = None,
    ):
        self.host = host
        # The network agent's host, which the instance's port is bound to.
        self.network_host = network_host or host
        self.rec = recorder
        self.datastores = datastores
        self.isolation = isolation
        self.network = network
        self.volumes = volumes
        self.store = store
        self.places: dict[str, Place] = {}

    async def spec(self, inst: m.Instance, without: str | None = None) -> ServerSpec:
        """The server the instance wants, its configuration group's values
        in, and its replicas (``without`` one going away)."""
        replication = tuple(
            (replication_user(r.id), r.address)
            for r in await self.rec.replicas(inst.id)
            if r.address and r.id != without
        )
        return spec_of(inst, await self.rec.settings(inst), replication,
                       await self.rec.enabled_logs(inst.id))  # fmt: skip

    def datastore(self, inst: m.Instance) -> Datastore:
        store = self.datastores.get(inst.datastore)
        if store is None:
            raise DriverError(f"{inst.datastore} is not installed on host {self.host}")
        return store

    async def place(self, inst: m.Instance) -> Place:
        """The instance's isolation and mounted volume (made when missing)."""
        device: Path | None = None
        if self.volumes is not None:
            volume_id = inst.volume_id
            if volume_id is None:
                volume_id = await self.volumes.ensure_volume(inst.id, inst.volume_size)
                await self.rec.update(inst, volume_id=volume_id)
            device = await self.volumes.attach(volume_id, inst.id, self.host)
        place = await self.isolation.ensure(spec_of(inst), device)
        self.places[inst.id] = place
        return place

    # -- build ------------------------------------------------------------------------------

    async def build(self, inst: m.Instance) -> None:
        try:
            await self._build(inst)
        except DriverError as exc:
            await self.rec.fail(inst, str(exc))

    async def _build(self, inst: m.Instance) -> None:
        started = time.monotonic()
        store = self.datastore(inst)
        spec = await self.spec(inst)
        place = await self.place(inst)
        steps = {"volume": time.monotonic() - started}
        if inst.network_id:
            await self._plug(inst, place)
        steps["port"] = time.monotonic() - started
        await self._fill(inst, store, place, spec)
        steps["data"] = time.monotonic() - started
        await store.start(place, spec)
        steps["start"] = time.monotonic() - started
        if inst.restore_backup_id:
            dbs, users = await store.accounts(place, spec)
            await self.rec.adopt_accounts(
                inst.id, dbs, [(u.name, u.host, list(u.databases)) for u in users]
            )
        await self.accounts(inst, place)
        if inst.pending_root_password:
            await store.enable_root(place, spec, inst.pending_root_password)
        if inst.is_public and inst.port_id:
            await self._make_public(inst, place)
        if await self.rec.update(
            inst, status=m.ACTIVE, task=None, fault=None, pending_root_password=None,
            volume_used=self.isolation.used_gb(place),
        ):  # fmt: skip
            log.info("database: instance %s (%s %s) ACTIVE in %.2f s (%s)", inst.id,
                     inst.datastore, inst.datastore_version, time.monotonic() - started,
                     ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))  # fmt: skip

    async def _ensure_port(self, inst: m.Instance, place: Place) -> PortInfo:
        return await self.network.ensure_port(
            inst.id,
            inst.project_id,
            inst.network_id or "",
            self.network_host,
            place.netns,
            inst.port,
            tuple(inst.allowed_cidrs),
        )

    async def _plug(self, inst: m.Instance, place: Place) -> None:
        """The instance's port on its network, recorded, and plugged."""
        port = await self._ensure_port(inst, place)
        if port.id != inst.port_id or port.address != inst.address:
            await self.rec.update(inst, port_id=port.id, address=port.address)
        deadline = time.monotonic() + PORT_TIMEOUT
        while not await self.network.port_ready(port, place.netns):
            if time.monotonic() > deadline:
                raise DriverError(f"the network did not plug port {port.id} in time")
            await asyncio.sleep(0.05)

    async def _fill(
        self, inst: m.Instance, store: Datastore, place: Place, spec: ServerSpec
    ) -> None:
        """The server's data: a copy of the source (a replica), a restored
        backup, or a new empty server."""
        if inst.replica_of_id:
            await self.seed(inst, store, place, spec)
        elif inst.restore_backup_id and not store.running(place):
            chain = await self.rec.backup_chain(inst.restore_backup_id)
            await store.restore(place, spec, [self.checked(b) for b in chain])
        else:
            await store.initialize(place, spec)

    async def _make_public(self, inst: m.Instance, place: Place) -> None:
        port = await self._ensure_port(inst, place)
        fip_id, fip = await self.network.ensure_floating_ip(inst.id, inst.project_id, port)
        await self.rec.update(inst, floating_ip_id=fip_id, public_address=fip)

    async def checked(self, backup: m.Backup) -> ByteStream:
        """A backup's stream from the store, its SHA-256 checked at the end."""
        digest = hashlib.sha256()
        async for chunk in self.store.get(backup.container, backup.location or ""):
            digest.update(chunk)
            yield chunk
        if backup.checksum and digest.hexdigest() != backup.checksum:
            raise DriverError(f"backup {backup.id} does not match its checksum")

    # -- replicas ---------------------------------------------------------------------------

    async def _source(self, inst: m.Instance) -> tuple[m.Instance, Place]:
        source = await self.rec.instance(inst.replica_of_id or "")
        if source is None or source.task == m.T_DELETE:
            raise DriverError(f"the replica's source {inst.replica_of_id} is gone")
        if source.host != self.host:
            raise DriverError(f"the replica's source {source.id} is on another host")
        return source, self.places.get(source.id) or await self.place(source)

    async def seed(
        self, inst: m.Instance, store: Datastore, place: Place, spec: ServerSpec
    ) -> None:
        """A replica's data copied from its source, set to follow it.  The
        replication password is made here, given to the source and the
        replica's server, and kept nowhere else."""
        if store.seeded(place):
            return
        source, source_place = await self._source(inst)
        if source.status not in (m.ACTIVE, m.BACKUP) or not source.address or not inst.address:
            raise DriverError(f"the replica's source {source.id} is not reachable "
                              f"(status {source.status})")  # fmt: skip
        upstream = await self._upstream(inst, store, source, source_place)
        await store.seed_replica(place, spec, upstream)

    async def follow(
        self, inst: m.Instance, store: Datastore, place: Place, spec: ServerSpec
    ) -> None:
        """A member of a set whose source changed follows the new one: from
        where it stands when the datastore can (MariaDB's GTID position, a
        prefix of the new source's), else copied afresh."""
        source, source_place = await self._source(inst)
        if source.address and inst.address:
            upstream = await self._upstream(inst, store, source, source_place)
            try:
                if await store.repoint(place, spec, upstream):
                    log.info("database: %s follows %s from where it stood", inst.id, source.id)
                    return
            except DriverError as exc:
                log.warning("database: %s is copied afresh from %s: %s", inst.id, source.id, exc)
        store.forget_source(place)
        await self.seed(inst, store, place, spec)

    async def _upstream(
        self, inst: m.Instance, store: Datastore, source: m.Instance, source_place: Place
    ) -> Upstream:
        """A fresh replication user and password for ``inst``, allowed on the
        running source; the password is kept nowhere else.  Both instances
        have their addresses (the callers checked)."""
        assert inst.address and source.address
        user, password = replication_user(inst.id), secrets.token_urlsafe(24)
        source_spec = await self.spec(source)
        await store.allow_replica(source_place, source_spec, user, password, inst.address)
        return Upstream(source_place, source_spec, source.address, user, password)

    async def forget(self, source_id: str | None, replica_id: str) -> None:
        """The source drops the replica's replication user.  Best effort: a
        source that is not running keeps it (PostgreSQL's pg_hba.conf, made
        at each start from the replicas there are, no longer lets it in)."""
        source = await self.rec.instance(source_id or "")
        store = self.datastores.get(source.datastore) if source is not None else None
        if source is None or store is None or source.host != self.host:
            return
        try:
            place = self.places.get(source.id) or await self.place(source)
            if store.running(place):
                await store.forget_replica(place, await self.spec(source, without=replica_id),
                                           replication_user(replica_id))  # fmt: skip
        except DriverError as exc:
            log.warning("database: instance %s: replica %s not forgotten: %s", source_id,
                        replica_id, exc)  # fmt: skip

    # -- accounts ---------------------------------------------------------------------------

    async def accounts(self, inst: m.Instance, place: Place) -> None:
        """Databases and users as their rows say."""
        store, spec = self.datastore(inst), await self.spec(inst)
        for row in await self.rec.schemas(inst.id):
            if row.state == m.S_CREATING:
                db = DatabaseSpec(row.name, row.character_set, row.collate)
                await store.ensure_database(place, spec, db)
            elif row.state == m.S_DELETING:
                await store.drop_database(place, spec, row.name)
            else:
                continue
            await self.rec.schema_done(row)
        for user in await self.rec.users(inst.id):
            if user.state == m.S_CREATING:
                revoked = tuple(d for d in user.granted if d not in user.databases)
                await store.ensure_user(place, spec, UserSpec(
                    user.name, user.host, user.pending_password, tuple(user.databases), revoked
                ))  # fmt: skip
            elif user.state == m.S_DELETING:
                await store.drop_user(place, spec, user.name, user.host)
            else:
                continue
            await self.rec.user_done(user)

    async def sync_accounts(self, inst: m.Instance) -> None:
        place = self.places.get(inst.id) or await self.place(inst)
        try:
            await self.accounts(inst, place)
            if inst.pending_root_password:
                await self.datastore(inst).enable_root(place, await self.spec(inst),
                                                      inst.pending_root_password)  # fmt: skip
                await self.rec.update(inst, pending_root_password=None)
        except DriverError as exc:
            log.warning("database: instance %s: accounts not applied: %s", inst.id, exc)
            raise

    # -- delete, restart, resize ------------------------------------------------------------

    async def delete(self, inst: m.Instance) -> None:
        if inst.replica_of_id:
            await self.forget(inst.replica_of_id, inst.id)
        store = self.datastores.get(inst.datastore)
        place = self.places.pop(inst.id, None)
        if store is not None and place is not None:
            await store.stop(place)
        await self.isolation.remove(inst.id)
        await self.network.release(inst.id, inst.port_id)
        if self.volumes is not None:
            await self.volumes.delete(inst.id, inst.volume_id)
        await self.rec.remove(inst.id)
        log.info("database: instance %s deleted", inst.id)

    async def restart(self, inst: m.Instance) -> None:
        try:
            store, place = self.datastore(inst), await self.place(inst)
            await store.stop(place)
            await store.start(place, await self.spec(inst))
        except DriverError as exc:
            await self.rec.fail(inst, str(exc))
            return
        await self.rec.update(inst, status=m.ACTIVE, task=None)

    async def configure(self, inst: m.Instance) -> None:
        """Restart the server with its configuration group's values."""
        await self.restart(inst)

    async def resize_flavor(self, inst: m.Instance) -> None:
        new = inst.new_flavor or {}
        try:
            store, place = self.datastore(inst), await self.place(inst)
            resized = ServerSpec(**{**(await self.spec(inst)).__dict__, "memory_mb": int(new["memory_mb"]),
                                    "vcpus": int(new["vcpus"])})  # fmt: skip
            await store.stop(place)
            await self.isolation.set_limits(place, resized)
            await store.start(place, resized)
        except (DriverError, KeyError) as exc:
            await self.rec.fail(inst, f"resize failed: {exc}")
            return
        await self.rec.update(
            inst, status=m.ACTIVE, task=None, new_flavor=None, flavor_id=str(new["id"]),
            memory_mb=int(new["memory_mb"]), vcpus=int(new["vcpus"]),
        )  # fmt: skip

    async def resize_volume(self, inst: m.Instance) -> None:
        """Stop the server, let go of the volume, grow it, take it back,
        grow the filesystem, start again: the data stays."""
        size = inst.new_volume_size or inst.volume_size
        try:
            store = self.datastore(inst)
            place = await self.place(inst)
            if self.volumes is not None and inst.volume_id is not None:
                await store.stop(place)
                await self.isolation.unmount(inst.id)
                await self.volumes.detach_local(inst.volume_id)
                await self.volumes.extend(inst.volume_id, size)
                device = await self.volumes.attach(inst.volume_id, inst.id, self.host)
                await self.isolation.grow(place, device)
                place = await self.place(inst)
            await store.start(place, await self.spec(inst))
        except DriverError as exc:
            await self.rec.fail(inst, f"volume resize failed: {exc}")
            return
        await self.rec.update(
            inst, status=m.ACTIVE, task=None, volume_size=size, new_volume_size=None,
            volume_used=self.isolation.used_gb(place),
        )  # fmt: skip

    # -- health -----------------------------------------------------------------------------

    async def watch(self, inst: m.Instance) -> None:
        """A server that should run and does not is started again."""
        store = self.datastores.get(inst.datastore)
        if store is None:
            return
        place = self.places.get(inst.id) or await self.place(inst)
        if store.running(place):
            used = self.isolation.used_gb(place)
            if used is not None and (
                inst.volume_used is None or abs(used - inst.volume_used) > 0.01
            ):
                await self.rec.update(inst, volume_used=used)
            return
        log.warning("database: instance %s: the %s server is not running; starting it again",
                    inst.id, inst.datastore)  # fmt: skip
        try:
            await store.start(place, await self.spec(inst))
        except DriverError as exc:
            await self.rec.fail(inst, f"the server died and did not start again: {exc}")
            return
        await self.rec.update(inst, restarts=inst.restarts + 1)
