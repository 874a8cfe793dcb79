"""Per-project quotas (os-quota-sets): configured defaults, project
overrides, and usage counted from the rows themselves.  Cinder's resources:
volumes, gigabytes (volumes and snapshots), snapshots, backups,
backup_gigabytes, per_volume_gigabytes, groups, and per volume type
``volumes_<type>``, ``gigabytes_<type>``, ``snapshots_<type>``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import VolumeConfig
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, OverLimit

RESOURCES = (
    "volumes",
    "gigabytes",
    "snapshots",
    "backups",
    "backup_gigabytes",
    "per_volume_gigabytes",
    "groups",
)
PER_TYPE = ("volumes", "gigabytes", "snapshots")
# Cinder's names for an exceeded resource, in the 413's message.
EXCEEDED = {
    "volumes": "VolumeLimitExceeded: Maximum number of volumes allowed ({limit}) exceeded for quota 'volumes'.",
    "gigabytes": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {requested}G, quota is {limit}G and {used}G has been consumed.",
    "snapshots": "SnapshotLimitExceeded: Maximum number of snapshots allowed ({limit}) exceeded.",
    "backups": "BackupLimitExceeded: Maximum number of backups allowed ({limit}) exceeded.",
    "backup_gigabytes": "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. Requested {requested}G, quota is {limit}G and {used}G has been consumed.",
}


class Quotas:
    def __init__(self, db: Database, cfg: VolumeConfig):
        self.db = db
        self.defaults = {r: int(getattr(cfg, f"quota_{r}")) for r in RESOURCES}

    async def type_names(self, s: AsyncSession) -> list[str]:
        return list((await s.scalars(select(m.VolumeType.name))).all())

    async def limits(self, project_id: str | None, s: AsyncSession | None = None) -> dict[str, int]:
        if s is None:
            async with self.db.session() as session:
                return await self.limits(project_id, session)
        limits = dict(self.defaults)
        for name in await self.type_names(s):
            for r in PER_TYPE:
                limits[f"{r}_{name}"] = -1
        if project_id:
            rows = await s.execute(
                select(m.QuotaLimit.resource, m.QuotaLimit.hard_limit).where(
                    m.QuotaLimit.project_id == project_id
                )
            )
            limits.update({k: v for k, v in rows.tuples()})
        return limits

    async def usage(self, project_id: str, s: AsyncSession | None = None) -> dict[str, int]:
        if s is None:
            async with self.db.session() as session:
                return await self.usage(project_id, session)
        types = dict((await s.execute(select(m.VolumeType.id, m.VolumeType.name))).tuples().all())
        used: Counter[str] = Counter()
        volumes = await s.execute(
            select(m.Volume.size, m.Volume.volume_type_id).where(
                m.Volume.project_id == project_id, m.Volume.consumes_quota.is_(True)
            )
        )
        for size, type_id in volumes.tuples():
            name = types.get(type_id or "")
            used["volumes"] += 1
            used["gigabytes"] += size
            if name:
                used[f"volumes_{name}"] += 1
                used[f"gigabytes_{name}"] += size
        snapshots = await s.execute(
            select(m.Snapshot.size, m.Snapshot.volume_type_id).where(
                m.Snapshot.project_id == project_id, m.Snapshot.consumes_quota.is_(True)
            )
        )
        for size, type_id in snapshots.tuples():
            name = types.get(type_id or "")
            used["snapshots"] += 1
            used["gigabytes"] += size
            if name:
                used[f"snapshots_{name}"] += 1
                used[f"gigabytes_{name}"] += size
        backups = await s.scalars(select(m.Backup.size).where(m.Backup.project_id == project_id))
        for size in backups:
            used["backups"] += 1
            used["backup_gigabytes"] += size
        return dict(used)

    async def check(self, s: AsyncSession, project_id: str, requests: dict[str, int]) -> None:
        """Refuse with Cinder's 413 when ``requests`` (resource -> how many
        more) would pass a limit; read in the caller's transaction."""
        limits = await self.limits(project_id, s)
        used = await self.usage(project_id, s)
        for resource, requested in requests.items():
            limit = limits.get(resource, -1)
            if requested <= 0 or limit < 0:
                continue
            if used.get(resource, 0) + requested > limit:
                base = resource.split("_")[0] if resource not in EXCEEDED else resource
                template = EXCEEDED.get(base, EXCEEDED["volumes"])
                if resource not in EXCEEDED:
                    template = (
                        f"Quota exceeded for resources: ['{resource}']: "
                        f"requested {requested}, used {used.get(resource, 0)} of {limit}."
                    )
                raise OverLimit(
                    template.format(limit=limit, requested=requested, used=used.get(resource, 0))
                )

    def check_size(self, limits: dict[str, int], size: int) -> None:
        limit = limits.get("per_volume_gigabytes", -1)
        if limit >= 0 and size > limit:
            raise OverLimit(
                f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than "
                f"maximum allowed limit {limit}G."
            )

    async def set(self, project_id: str, values: dict[str, Any]) -> None:
        async with self.db.transaction() as s:
            known = set(await self.limits(None, s))
            for resource, value in values.items():
                if resource not in known:
                    raise BadRequest(f"Bad key(s) in quota set: {resource}")
                try:
                    number = int(value)
                except (TypeError, ValueError) as exc:
                    raise BadRequest(f"Quota value for {resource} must be an integer.") from exc
                if number < -1:
                    raise BadRequest(f"Quota limit {number} for {resource} must be -1 or greater.")
                row = await s.get(m.QuotaLimit, (project_id, resource))
                if row is None:
                    s.add(m.QuotaLimit(project_id=project_id, resource=resource, hard_limit=number))
                else:
                    row.hard_limit = number

    async def reset(self, project_id: str) -> None:
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(m.QuotaLimit).where(m.QuotaLimit.project_id == project_id)
            )
            for row in rows.all():
                await s.delete(row)
