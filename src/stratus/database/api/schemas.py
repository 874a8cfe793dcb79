"""Database service request schemas (Trove v1.0's field names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt

from stratus.common.api import Query, Schema

Name = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(max_length=1024)]
Password = Annotated[str, Field(min_length=1, max_length=255)]
Size = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]


class Aliased(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatabaseRef(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=64)]


class NewDatabase(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    character_set: Annotated[str, Field(max_length=64)] | None = None
    collate: Annotated[str, Field(max_length=64)] | None = None


class NewUser(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    password: Password
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    databases: list[DatabaseRef] = []


class VolumeSpec(Aliased):
    size: Size
    type: Annotated[str, Field(max_length=255)] | None = None


class DatastoreSpec(Aliased):
    type: Annotated[str, Field(max_length=255)] | None = None
    version: Annotated[str, Field(max_length=255)] | None = None
    version_number: Annotated[str, Field(max_length=255)] | None = None


class Nic(Aliased):
    net_id: Annotated[str, Field(max_length=36)] | None = Field(None, alias="net-id")
    network_id: Annotated[str, Field(max_length=36)] | None = None
    subnet_id: Annotated[str, Field(max_length=36)] | None = None
    ip_address: Annotated[str, Field(max_length=64)] | None = None


class RestorePoint(Aliased):
    backupRef: Annotated[str, Field(min_length=1, max_length=36)]  # noqa: N815 (Trove's name)


class Access(Aliased):
    is_public: StrictBool = False
    allowed_cidrs: list[Annotated[str, Field(max_length=64)]] = []


class InstanceCreate(Aliased):
    name: Name
    flavorRef: Annotated[str, Field(min_length=1, max_length=255)] | None = None  # noqa: N815
    volume: VolumeSpec | None = None
    datastore: DatastoreSpec | None = None
    databases: list[NewDatabase] = []
    users: list[NewUser] = []
    nics: list[Nic] = []
    availability_zone: Annotated[str, Field(max_length=255)] | None = None
    restorePoint: RestorePoint | None = None  # noqa: N815
    access: Access | None = None
    configuration: Annotated[str, Field(max_length=36)] | None = None
    replica_of: Annotated[str, Field(min_length=1, max_length=36)] | None = None
    replica_count: StrictInt | None = None
    # Known to Trove, refused here with a clear message (not yet built).
    modules: list[Any] = []
    locality: Any = None
    region_name: Annotated[str, Field(max_length=255)] | None = None


class InstanceCreateBody(Schema):
    instance: InstanceCreate


class InstanceUpdate(Aliased):
    name: Name | None = None
    # Given as null: detach the configuration group.
    configuration: Annotated[str, Field(max_length=36)] | None = None
    access: Access | None = None
    # Given as null: detach a replica from its source (older clients: slave_of).
    replica_of: Any = None
    slave_of: Any = None


class InstanceUpdateBody(Schema):
    instance: InstanceUpdate


class Empty(Aliased):
    pass


class RestartBody(Schema):
    restart: Empty | None


class PromoteBody(Schema):
    promote_to_replica_source: Empty | None


class EjectBody(Schema):
    eject_replica_source: Empty | None


class ResizeVolume(Aliased):
    size: Size


class Resize(Aliased):
    volume: ResizeVolume | None = None
    flavorRef: Annotated[str, Field(min_length=1, max_length=255)] | None = None  # noqa: N815


class ResizeBody(Schema):
    resize: Resize


class DatabasesBody(Schema):
    databases: Annotated[list[NewDatabase], Field(min_length=1)]


class UsersBody(Schema):
    users: Annotated[list[NewUser], Field(min_length=1)]


class PasswordChange(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    password: Password
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class PasswordsBody(Schema):
    users: Annotated[list[PasswordChange], Field(min_length=1)]


class GrantBody(Schema):
    databases: Annotated[list[DatabaseRef], Field(min_length=1)]


class RootBody(Schema):
    """``POST .../root`` takes no body, or an empty one."""

    root_password: Password | None = None


class NewBackup(Aliased):
    name: Name
    instance: Annotated[str, Field(min_length=1, max_length=36)]
    description: Text | None = None
    parent_id: Annotated[str, Field(max_length=36)] | None = None
    incremental: StrictBool | Literal[0, 1] | None = None  # troveclient sends 0 or 1
    swift_container: Annotated[str, Field(max_length=255)] | None = None
    restore_from: Any = None
    storage_driver: Any = None


Flag = StrictBool | Literal[0, 1] | None  # troveclient sends 1


class LogActionBody(Schema):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    enable: Flag = None
    disable: Flag = None
    publish: Flag = None
    discard: Flag = None


class BackupCreateBody(Schema):
    backup: NewBackup


class QuotasBody(Schema):
    # {"quotas": {"instances": 20}}: which resources is checked by the service.
    quotas: dict[Annotated[str, Field(max_length=32)], StrictInt]


class InstanceListQuery(Query):
    include_clustered: str | None = None
    all_projects: str | None = None


class BackupListQuery(Query):
    instance_id: str | None = None
    all_projects: str | None = None
    datastore: str | None = None


ConfigValue = StrictInt | StrictBool | Annotated[str, Field(max_length=255)]


class NewConfiguration(Aliased):
    name: Name
    description: Text | None = None
    values: dict[Annotated[str, Field(max_length=64)], ConfigValue]
    datastore: DatastoreSpec | None = None


class ConfigurationCreateBody(Schema):
    configuration: NewConfiguration


class ConfigurationValues(Aliased):
    values: dict[Annotated[str, Field(max_length=64)], ConfigValue]
    name: Name | None = None
    description: Text | None = None


class ConfigurationValuesBody(Schema):
    configuration: ConfigurationValues
