"""Block storage request schemas (Cinder's field names, dashes and all):
the shared types, volumes, attachments and snapshots.  Types, QoS, quotas
and services are in ``schemas_types``, backups and transfers in
``schemas_backups``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StrictInt, model_validator

from stratus.common.api import Query, Schema

Text255 = Annotated[str, Field(max_length=255)]
MetaKey = Annotated[str, Field(min_length=1, max_length=255)]
Metadata = dict[MetaKey, Text255]
Size = StrictInt | str
Flag = StrictBool | str


class Aliased(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OneOf(Aliased):
    """An envelope naming exactly one action; ``{"os-reserve": null}``
    means the action with no arguments."""

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: ({} if v is None else v) for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _one(self) -> OneOf:
        if len(self.model_fields_set) != 1:
            raise ValueError("an action body names exactly one action")
        return self

    @property
    def name(self) -> str:
        field = next(iter(self.model_fields_set))
        return self.model_fields[field].alias or field


# -- volumes ---------------------------------------------------------------------------------


class VolumeCreate(Aliased):
    size: Size | None = None
    name: Text255 | None = None
    display_name: Text255 | None = None
    description: str | None = None
    display_description: str | None = None
    availability_zone: str | None = None
    volume_type: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None
    imageRef: str | None = None  # noqa: N815
    image_id: str | None = None
    backup_id: str | None = None
    metadata: Metadata | None = None
    multiattach: Flag | None = None
    consistencygroup_id: str | None = None
    group_id: str | None = None


class VolumeCreateBody(Aliased):
    volume: VolumeCreate
    scheduler_hints: dict[str, Any] | None = Field(default=None, alias="OS-SCH-HNT:scheduler_hints")


class VolumeUpdate(Aliased):
    name: Text255 | None = None
    display_name: Text255 | None = None
    description: str | None = None
    display_description: str | None = None
    metadata: Metadata | None = None


class VolumeUpdateBody(Aliased):
    volume: VolumeUpdate


class MetadataBody(Aliased):
    metadata: Metadata


class MetaItemBody(Aliased):
    meta: Metadata

    @model_validator(mode="after")
    def _one(self) -> MetaItemBody:
        if len(self.meta) != 1:
            raise ValueError("meta holds exactly one key")
        return self


class Extend(Aliased):
    new_size: Size


class ResetStatus(Aliased):
    status: str | None = None
    attach_status: str | None = None
    migration_status: str | None = None


class Bootable(Aliased):
    bootable: Flag


class Readonly(Aliased):
    readonly: Flag


class Retype(Aliased):
    new_type: str
    migration_policy: str | None = None


class UploadImage(Aliased):
    image_name: Text255
    force: Flag | None = None
    disk_format: str | None = None
    container_format: str | None = None
    visibility: str | None = None
    protected: Flag | None = None


class Connector(Aliased):
    connector: dict[str, Any] | None = None


class Attach(Aliased):
    instance_uuid: str | None = None
    mountpoint: str | None = None
    host_name: str | None = None
    mode: str | None = None


class Detach(Aliased):
    attachment_id: str | None = None
    connector: dict[str, Any] | None = None


class ImageMetadataSet(Aliased):
    metadata: Metadata


class ImageMetadataUnset(Aliased):
    key: MetaKey


class Revert(Aliased):
    snapshot_id: str


class Empty(Aliased):
    pass


class VolumeActionBody(OneOf):
    extend: Extend | None = Field(default=None, alias="os-extend")
    reset_status: ResetStatus | None = Field(default=None, alias="os-reset_status")
    force_delete: Empty | None = Field(default=None, alias="os-force_delete")
    set_bootable: Bootable | None = Field(default=None, alias="os-set_bootable")
    readonly: Readonly | None = Field(default=None, alias="os-update_readonly_flag")
    retype: Retype | None = Field(default=None, alias="os-retype")
    upload_image: UploadImage | None = Field(default=None, alias="os-volume_upload_image")
    reserve: Empty | None = Field(default=None, alias="os-reserve")
    unreserve: Empty | None = Field(default=None, alias="os-unreserve")
    begin_detaching: Empty | None = Field(default=None, alias="os-begin_detaching")
    roll_detaching: Empty | None = Field(default=None, alias="os-roll_detaching")
    initialize_connection: Connector | None = Field(default=None, alias="os-initialize_connection")
    terminate_connection: Connector | None = Field(default=None, alias="os-terminate_connection")
    attach: Attach | None = Field(default=None, alias="os-attach")
    detach: Detach | None = Field(default=None, alias="os-detach")
    force_detach: Detach | None = Field(default=None, alias="os-force_detach")
    set_image_metadata: ImageMetadataSet | None = Field(default=None, alias="os-set_image_metadata")
    unset_image_metadata: ImageMetadataUnset | None = Field(
        default=None, alias="os-unset_image_metadata"
    )
    show_image_metadata: Empty | None = Field(default=None, alias="os-show_image_metadata")
    revert: Revert | None = None


class VolumeListQuery(Query):
    all_tenants: str | None = None
    project_id: str | None = None
    name: str | None = None
    display_name: str | None = None
    status: str | None = None
    availability_zone: str | None = None
    bootable: str | None = None
    metadata: str | None = None
    volume_type: str | None = None
    sort: str | None = None
    sort_key: str | None = None
    sort_dir: str | None = None
    limit: str | None = None
    marker: str | None = None
    offset: str | None = None
    with_count: str | None = None
    name_contains: str | None = Field(default=None, alias="name~")


class DeleteQuery(Query):
    cascade: str | None = None
    force: str | None = None


# -- attachments -----------------------------------------------------------------------------


class AttachmentCreate(Aliased):
    volume_uuid: str
    instance_uuid: str | None = None
    connector: dict[str, Any] | None = None
    mode: str | None = None


class AttachmentCreateBody(Aliased):
    attachment: AttachmentCreate


class AttachmentUpdate(Aliased):
    connector: dict[str, Any]


class AttachmentUpdateBody(Aliased):
    attachment: AttachmentUpdate


class AttachmentActionBody(OneOf):
    complete: Empty | None = Field(default=None, alias="os-complete")


class AttachmentListQuery(Query):
    all_tenants: str | None = None
    volume_id: str | None = None
    instance_id: str | None = None
    status: str | None = None


# -- snapshots -------------------------------------------------------------------------------


class SnapshotCreate(Aliased):
    volume_id: str | None  # null is allowed, and names no volume: 404, as Cinder
    force: Flag | None = None
    name: Text255 | None = None
    display_name: Text255 | None = None
    description: str | None = None
    display_description: str | None = None
    metadata: Metadata | None = None


class SnapshotCreateBody(Aliased):
    snapshot: SnapshotCreate


class SnapshotUpdate(Aliased):
    name: Text255 | None = None
    display_name: Text255 | None = None
    description: str | None = None
    display_description: str | None = None


class SnapshotUpdateBody(Aliased):
    snapshot: SnapshotUpdate


class SnapshotStatus(Aliased):
    status: str
    progress: str | None = None


class SnapshotActionBody(OneOf):
    reset_status: SnapshotStatus | None = Field(default=None, alias="os-reset_status")
    force_delete: Empty | None = Field(default=None, alias="os-force_delete")
    update_status: SnapshotStatus | None = Field(default=None, alias="os-update_snapshot_status")


class SnapshotListQuery(Query):
    all_tenants: str | None = None
    project_id: str | None = None
    name: str | None = None
    display_name: str | None = None
    status: str | None = None
    volume_id: str | None = None
    metadata: str | None = None
    sort: str | None = None
    sort_key: str | None = None
    sort_dir: str | None = None
    limit: str | None = None
    marker: str | None = None
    offset: str | None = None


class AllProjectsQuery(Query):
    all_tenants: str | None = None
