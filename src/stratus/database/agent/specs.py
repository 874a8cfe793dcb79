"""What the agent tells its drivers about one instance: its server's spec
and the user its replicas connect as."""

from __future__ import annotations

from stratus.database import models as m
from stratus.database.drivers.base import ServerSpec


def replication_user(replica_id: str) -> str:
    """The user a replica connects to its source as."""
    return "os_repl_" + replica_id.replace("-", "")[:12]


def spec_of(
    inst: m.Instance,
    settings: dict[str, str] | None = None,
    replication: tuple[tuple[str, str], ...] = (),
    logs: tuple[str, ...] = (),
) -> ServerSpec:
    return ServerSpec(
        instance_id=inst.id,
        datastore=inst.datastore,
        version=inst.datastore_version,
        memory_mb=inst.memory_mb,
        vcpus=inst.vcpus,
        port=inst.port,
        allowed_cidrs=tuple(inst.allowed_cidrs),
        settings=dict(settings or {}),
        replica=inst.replica_of_id is not None,
        replication=replication,
        logs=logs,
    )
