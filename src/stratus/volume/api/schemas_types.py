"""Block storage request schemas of volume types, QoS specs, quotas and services."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from stratus.common.api import Query
from stratus.volume.api.schemas import Aliased, Flag, MetaKey, OneOf, Text255


class TypeCreate(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None
    is_public: Flag = Field(default=True, alias="os-volume-type-access:is_public")
    extra_specs: dict[MetaKey, Text255] = {}


class TypeCreateBody(Aliased):
    volume_type: TypeCreate


class TypeUpdate(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    description: str | None = None
    is_public: Flag | None = None


class TypeUpdateBody(Aliased):
    volume_type: TypeUpdate


class ExtraSpecsBody(Aliased):
    extra_specs: dict[MetaKey, Text255]


class ExtraSpecItemBody(Aliased):
    """``{"<key>": "<value>"}``: the whole body lands in ``spec``."""

    wrap_key: ClassVar[str] = "spec"
    spec: dict[MetaKey, Text255]

    @model_validator(mode="after")
    def _one(self) -> ExtraSpecItemBody:
        if len(self.spec) != 1:
            raise ValueError("the body holds exactly one key")
        return self


class ProjectRef(Aliased):
    project: str


class TypeActionBody(OneOf):
    add: ProjectRef | None = Field(default=None, alias="addProjectAccess")
    remove: ProjectRef | None = Field(default=None, alias="removeProjectAccess")


class TypeListQuery(Query):
    is_public: str | None = None
    sort: str | None = None


class QosCreateBody(Aliased):
    qos_specs: dict[MetaKey, Text255]

    @model_validator(mode="after")
    def _named(self) -> QosCreateBody:
        if not self.qos_specs.get("name"):
            raise ValueError("qos_specs needs a name")
        return self


class QosUpdateBody(Aliased):
    qos_specs: dict[MetaKey, Text255]


class QosKeysBody(Aliased):
    keys: list[MetaKey]


class QosAssocQuery(Query):
    vol_type_id: str | None = None


class ForceQuery(Query):
    force: str | None = None


class QuotaSetBody(Aliased):
    quota_set: dict[str, Any]


class QuotaQuery(Query):
    usage: str | None = None


class ServiceUpdateBody(Aliased):
    host: str
    binary: str | None = None
    disabled_reason: str | None = None


class ServiceListQuery(Query):
    host: str | None = None
    binary: str | None = None


class PoolQuery(Query):
    detail: str | None = None
