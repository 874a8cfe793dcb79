"""Compute request schemas (Nova's field names, including its colons): the
base and the name, id and microversion helpers every schema module uses, and
the schemas of flavors, key pairs, server groups, quotas, services,
migrations and interfaces.  The servers' own are in ``server_schemas.py``,
their actions' in ``action_schemas.py`` and ``move_schemas.py``."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, ValidationInfo, model_validator

from stratus.common.api import Query, Schema, numeric_string
from stratus.common.microversion import Version
from stratus.compute.errors import BadRequest
from stratus.compute.service.network import NicRequest

Name = Annotated[str, Field(min_length=1, max_length=255, pattern=r"\S")]
# Nova's flavor id pattern: letters, digits, ". _-", no space at either end
# (a "/" would make the flavor unreachable by its URL).
FlavorId = Annotated[
    str,
    Field(
        min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9._-]([a-zA-Z0-9. _-]*[a-zA-Z0-9._-])?$"
    ),
]


class Aliased(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def ref_id(value: str) -> str:
    """An id, also when given as the resource's URL (Nova takes both)."""
    return value.rstrip("/").rsplit("/", 1)[-1] if "/" in value else value


def version_of(info: ValidationInfo) -> Version:
    """The request's microversion (the oldest when validated without one)."""
    found = (info.context or {}).get("version")
    return found if isinstance(found, Version) else Version.parse("2.1")


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


class ForceCompleteBody(Aliased):
    force_complete: None

    @model_validator(mode="before")
    @classmethod
    def _present(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "force_complete" not in data:
            raise ValueError('the body must be {"force_complete": null}')
        return data


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


class InterfaceFixedIP(Aliased):
    ip_address: str


class InterfaceAttachment(Aliased):
    net_id: str | None = None
    port_id: str | None = None
    fixed_ips: Annotated[list[InterfaceFixedIP], Field(max_length=1)] | None = None
    tag: Annotated[str, Field(min_length=1, max_length=60)] | None = None

    @model_validator(mode="after")
    def _one(self) -> InterfaceAttachment:
        if self.port_id and (self.net_id or self.fixed_ips):
            raise BadRequest("Must not input both network_id and port_id")
        if self.fixed_ips and not self.net_id:
            raise BadRequest("Must input network_id when request IP address")
        return self

    def nic(self) -> NicRequest:
        fixed = self.fixed_ips[0].ip_address if self.fixed_ips else None
        return NicRequest(
            network_id=self.net_id, port_id=self.port_id, fixed_ip=fixed, tag=self.tag
        )


class InterfaceAttachBody(Aliased):
    interfaceAttachment: InterfaceAttachment = InterfaceAttachment()  # noqa: N815
