"""Block storage request schemas of backups and volume transfers."""

from __future__ import annotations

from pydantic import Field

from stratus.common.api import Query
from stratus.volume.api.schemas import Aliased, Empty, Flag, Metadata, OneOf, Text255


class BackupCreate(Aliased):
    volume_id: str
    container: Text255 | None = None
    name: Text255 | None = None
    description: str | None = None
    incremental: Flag | None = None
    force: Flag | None = None
    snapshot_id: str | None = None
    metadata: Metadata | None = None
    availability_zone: str | None = None


class BackupCreateBody(Aliased):
    backup: BackupCreate


class BackupUpdate(Aliased):
    name: Text255 | None = None
    description: str | None = None
    metadata: Metadata | None = None


class BackupUpdateBody(Aliased):
    backup: BackupUpdate


class Restore(Aliased):
    volume_id: str | None = None
    name: Text255 | None = None


class RestoreBody(Aliased):
    restore: Restore


class BackupRecord(Aliased):
    backup_service: str
    backup_url: str


class ImportBody(Aliased):
    backup_record: BackupRecord = Field(alias="backup-record")


class BackupStatus(Aliased):
    status: str


class BackupActionBody(OneOf):
    reset_status: BackupStatus | None = Field(default=None, alias="os-reset_status")
    force_delete: Empty | None = Field(default=None, alias="os-force_delete")


class BackupListQuery(Query):
    all_tenants: str | None = None
    project_id: str | None = None
    name: str | None = None
    status: str | None = None
    volume_id: str | None = None
    sort: str | None = None
    sort_key: str | None = None
    sort_dir: str | None = None
    limit: str | None = None
    marker: str | None = None
    offset: str | None = None


class TransferCreate(Aliased):
    volume_id: str
    name: Text255 | None = None
    no_snapshots: Flag | None = None


class TransferCreateBody(Aliased):
    transfer: TransferCreate


class Accept(Aliased):
    auth_key: str


class AcceptBody(Aliased):
    accept: Accept
