"""Compute request schemas (Nova's field names, including its colons)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, StrictInt, StrictStr, model_validator

from stratus.common.api import IntOrString, Query, Schema, numeric_string

Name = Annotated[str, Field(min_length=1, max_length=255, pattern=r"\S")]
# Nova's flavor id pattern: letters, digits, ". _-", no space at either end
# (a "/" would make the flavor unreachable by its URL).
FlavorId = Annotated[
    str,
    Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9._-]([a-zA-Z0-9. _-]*[a-zA-Z0-9._-])?$"),
]


class Aliased(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NetworkRef(Aliased):
    uuid: str | None = None
    port: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None


class BlockDevice(Aliased):
    uuid: str | None = None
    boot_index: int | str | None = None
    source_type: str | None = None
    destination_type: str | None = None
    delete_on_termination: bool | None = None
    volume_size: int | None = None
    device_name: str | None = None
    disk_bus: str | None = None
    device_type: str | None = None
    guest_format: str | None = None
    tag: str | None = None
    volume_type: str | None = None
    no_device: bool | None = None


class SecurityGroupRef(Aliased):
    name: str


class ServerCreate(Aliased):
    name: Name
    imageRef: str | None = None  # noqa: N815
    flavorRef: str | int  # noqa: N815
    key_name: str | None = None
    user_data: str | None = None
    config_drive: bool | str | None = None
    metadata: dict[
        Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=255)]
    ] = {}
    networks: str | list[NetworkRef] | None = None
    min_count: IntOrString = 1
    max_count: IntOrString | None = None
    availability_zone: str | None = None
    block_device_mapping_v2: list[BlockDevice] | None = None
    security_groups: list[SecurityGroupRef] | None = None
    description: Annotated[str, Field(max_length=255)] | None = None
    hostname: str | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = None
    adminPass: str | None = None  # noqa: N815
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")
    accessIPv4: str | None = None  # noqa: N815
    accessIPv6: str | None = None  # noqa: N815
    return_reservation_id: bool | None = None
    trusted_image_certificates: list[str] | None = None
    host: str | None = None
    hypervisor_hostname: str | None = None


class ServerCreateBody(Aliased):
    server: ServerCreate
    scheduler_hints: dict[str, Any] | None = Field(default=None, alias="os:scheduler_hints")
    legacy_hints: dict[str, Any] | None = Field(default=None, alias="OS-SCH-HNT:scheduler_hints")


class ServerUpdate(Aliased):
    name: Name | None = None
    description: Annotated[str, Field(max_length=255)] | None = None
    hostname: str | None = None
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")
    accessIPv4: str | None = None  # noqa: N815
    accessIPv6: str | None = None  # noqa: N815


class ServerUpdateBody(Aliased):
    server: ServerUpdate


class Reboot(Aliased):
    type: str


class Rebuild(Aliased):
    imageRef: str  # noqa: N815
    name: Name | None = None
    adminPass: str | None = None  # noqa: N815
    metadata: dict[str, str] | None = None
    preserve_ephemeral: bool | None = None
    description: str | None = None
    key_name: str | None = None
    user_data: str | None = None
    hostname: str | None = None
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")


class Lock(Aliased):
    locked_reason: Annotated[str, Field(max_length=255)] | None = None


class ConsoleOutput(Aliased):
    length: int | str | None = None


class CreateImage(Aliased):
    name: Name
    metadata: dict[str, str] | None = None


class CreateBackup(Aliased):
    name: Name
    backup_type: StrictStr
    rotation: StrictInt | StrictStr
    metadata: dict[str, str] | None = None


class Unshelve(Aliased):
    availability_zone: str | None = None
    host: str | None = None


class Rescue(Aliased):
    adminPass: str | None = None  # noqa: N815
    rescue_image_ref: str | None = None


class Migrate(Aliased):
    host: str | None = None


class Resize(Aliased):
    flavorRef: str | int  # noqa: N815
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")


class Evacuate(Aliased):
    host: str | None = None
    adminPass: str | None = None  # noqa: N815
    onSharedStorage: bool | str | None = None  # noqa: N815
    force: bool | None = None


class MigrationListQuery(Query):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    host: str | None = None
    status: str | None = None
    instance_uuid: str | None = None
    source_compute: str | None = None
    migration_type: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    changes_since: str | None = Field(default=None, alias="changes-since")
    changes_before: str | None = Field(default=None, alias="changes-before")
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None


class MigrateLive(Aliased):
    """os-migrateLive; which fields a microversion requires or refuses is
    checked by the handler (api/server_migrations.py)."""

    host: str | None = None
    block_migration: bool | str | None = None
    disk_over_commit: bool | str | None = None
    force: bool | str | None = None


class ForceCompleteBody(Aliased):
    force_complete: None

    @model_validator(mode="before")
    @classmethod
    def _present(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "force_complete" not in data:
            raise ValueError('the body must be {"force_complete": null}')
        return data


class ActionBody(Aliased):
    """One server action: exactly one of these keys."""

    os_stop: None = Field(default=None, alias="os-stop")
    os_start: None = Field(default=None, alias="os-start")
    reboot: Reboot | None = None
    pause: None = None
    unpause: None = None
    suspend: None = None
    resume: None = None
    rebuild: Rebuild | None = None
    lock: Lock | None = None
    unlock: None = None
    console: ConsoleOutput | None = Field(default=None, alias="os-getConsoleOutput")
    create_image: CreateImage | None = Field(default=None, alias="createImage")
    create_backup: CreateBackup | None = Field(default=None, alias="createBackup")
    shelve: None = None
    shelve_offload: None = Field(default=None, alias="shelveOffload")
    unshelve: Unshelve | None = None
    rescue: Rescue | None = None
    unrescue: None = None
    migrate: Migrate | None = None
    resize: Resize | None = None
    confirm_resize: None = Field(default=None, alias="confirmResize")
    revert_resize: None = Field(default=None, alias="revertResize")
    evacuate: Evacuate | None = None
    migrate_live: MigrateLive | None = Field(default=None, alias="os-migrateLive")

    @model_validator(mode="after")
    def _one(self) -> ActionBody:
        if len(self.model_fields_set) != 1:
            raise ValueError("a server action body names exactly one action")
        return self

    @property
    def name(self) -> str:
        return next(iter(self.model_fields_set))


class MetadataBody(Aliased):
    metadata: dict[
        Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=255)]
    ]


class MetaItemBody(Aliased):
    meta: dict[
        Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=255)]
    ]


class FlavorCreate(Aliased):
    name: Name
    ram: Annotated[int, Field(ge=1)]
    vcpus: Annotated[int, Field(ge=1)]
    disk: Annotated[int, Field(ge=0)] = 0
    id: FlavorId | int | None = None
    ephemeral: Annotated[int, Field(ge=0)] | None = Field(
        default=None, alias="OS-FLV-EXT-DATA:ephemeral"
    )
    swap: Annotated[int, Field(ge=0)] | str | None = None
    rxtx_factor: Annotated[float, Field(gt=0)] | None = None
    is_public: bool | None = Field(default=None, alias="os-flavor-access:is_public")
    description: Annotated[str, Field(max_length=65535)] | None = None


class FlavorCreateBody(Aliased):
    flavor: FlavorCreate


class FlavorUpdate(Aliased):
    description: Annotated[str, Field(max_length=65535)] | None


class FlavorUpdateBody(Aliased):
    flavor: FlavorUpdate


class ExtraSpecsBody(Aliased):
    extra_specs: dict[Annotated[str, Field(min_length=1, max_length=255)], str | int | float | bool]


class ExtraSpecBody(Aliased):
    """PUT of one extra spec: the body is ``{"key": "value"}``."""

    wrap_key: ClassVar[str] = "item"
    item: dict[Annotated[str, Field(min_length=1, max_length=255)], str | int | float | bool]


class FlavorActionAdd(Aliased):
    tenant: str


class FlavorActionBody(Aliased):
    add: FlavorActionAdd | None = Field(default=None, alias="addTenantAccess")
    remove: FlavorActionAdd | None = Field(default=None, alias="removeTenantAccess")


class KeypairCreate(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9 _.@-]+$")]
    public_key: str | None = None
    type: str | None = None
    user_id: str | None = None


class KeypairCreateBody(Aliased):
    keypair: KeypairCreate


class GroupCreate(Aliased):
    name: Name
    policies: list[str] | None = None
    policy: str | None = None
    rules: dict[str, Any] | None = None


class GroupCreateBody(Aliased):
    server_group: GroupCreate


class QuotaUpdate(Aliased):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    force: bool | str | None = None

    @model_validator(mode="before")
    @classmethod
    def _numbers(cls, data: Any) -> Any:
        # Nova takes "10" for 10: as integers, the range rule applies to them.
        if isinstance(data, dict):
            return {k: v if k == "force" else numeric_string(v) for k, v in data.items()}
        return data


class QuotaUpdateBody(Aliased):
    quota_set: QuotaUpdate


class ServiceUpdate(Aliased):
    status: str | None = None
    disabled_reason: str | None = None
    forced_down: bool | None = None


class ServerListQuery(Query):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str | None = None
    status: str | None = None
    changes_since: str | None = Field(default=None, alias="changes-since")
    ip: str | None = None
    host: str | None = None
    all_tenants: str | None = None
    project_id: str | None = None
    tenant_id: str | None = None
    flavor: str | None = None
    image: str | None = None
    locked: str | None = None
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None
    deleted: str | None = None


class FlavorListQuery(Query):
    is_public: str | None = None
    minRam: int | None = None  # noqa: N815
    minDisk: int | None = None  # noqa: N815
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None


class ServiceListQuery(Query):
    host: str | None = None
    binary: str | None = None


class AllProjectsQuery(Query):
    all_projects: str | None = None
    user_id: str | None = None
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None
