"""Identity request schemas.  Envelopes refuse unknown fields; the entities
inside them keep unknown attributes (Keystone stores and echoes them, e.g. a
user's "email")."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from stratus.common.api import Query, Schema

# A name has at least one character that is not white space (as Keystone's).
Name = Annotated[str, Field(min_length=1, max_length=255, pattern=r"\S")]
# Projects' and domains' names are at most 64 characters in Keystone.
ShortName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"\S")]
Description = Annotated[str | None, Field(default=None, max_length=65535)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


def _query_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("", "1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        if lowered == "none":
            return None
    return value


QueryBool = Annotated[bool | None, BeforeValidator(_query_bool)]


class Entity(BaseModel):
    """An entity body: typed known fields, unknown attributes kept."""

    model_config = ConfigDict(extra="allow")
    # Fields that may be left out but never set to null.
    not_null: ClassVar[tuple[str, ...]] = (
        "name",
        "enabled",
        "type",
        "interface",
        "url",
        "service_id",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in cls.not_null:
                if key in data and data[key] is None:
                    raise ValueError(f"'{key}' cannot be null")
        return data

    def attrs(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


# -- queries --------------------------------------------------------------------


class ListQuery(Query):
    model_config = ConfigDict(extra="allow")
    limit: int | None = Field(default=None, ge=1, le=1_000_000)
    marker: str | None = None
    name: str | None = None

    def filters(self, *fields: str) -> dict[str, str]:
        """Exact and inexact (``field__contains`` ...) string filters."""
        out = {f: getattr(self, f) for f in fields if getattr(self, f, None) is not None}
        for key, value in (self.model_extra or {}).items():
            if key.partition("__")[0] in fields and "__" in key and isinstance(value, str):
                out[key] = value
        return out


class DomainListQuery(ListQuery):
    enabled: QueryBool = None


class ProjectListQuery(ListQuery):
    domain_id: str | None = None
    parent_id: str | None = None
    enabled: QueryBool = None
    is_domain: QueryBool = None


class UserListQuery(ListQuery):
    domain_id: str | None = None
    enabled: QueryBool = None


class GroupListQuery(ListQuery):
    domain_id: str | None = None


class RoleListQuery(ListQuery):
    domain_id: str | None = None


class RegionListQuery(ListQuery):
    parent_region_id: str | None = None


class ServiceListQuery(ListQuery):
    type: str | None = None


class EndpointListQuery(ListQuery):
    service_id: str | None = None
    interface: str | None = None
    region_id: str | None = None
    region: str | None = None


class AppCredListQuery(Query):
    name: str | None = None


class AccessRuleListQuery(Query):
    service: str | None = None
    path: str | None = None
    method: str | None = None


class AssignmentQuery(Query):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    effective: QueryBool = None
    include_names: QueryBool = None
    include_subtree: QueryBool = None
    user_id: str | None = Field(default=None, alias="user.id")
    group_id: str | None = Field(default=None, alias="group.id")
    role_id: str | None = Field(default=None, alias="role.id")
    project_id: str | None = Field(default=None, alias="scope.project.id")
    domain_id: str | None = Field(default=None, alias="scope.domain.id")
    system: str | None = Field(default=None, alias="scope.system")
    inherited_to: str | None = Field(default=None, alias="scope.OS-INHERIT:inherited_to")


class TokenQuery(Query):
    nocatalog: QueryBool = None
    allow_expired: QueryBool = None


# -- resources ------------------------------------------------------------------


Tag = Annotated[str, Field(min_length=1, max_length=255)]


class DomainCreate(Entity):
    id: Id | None = None
    name: ShortName
    description: Description = None
    enabled: bool = True
    tags: list[Tag] | None = None


class DomainUpdate(Entity):
    name: ShortName | None = None
    description: Description = None
    enabled: bool | None = None
    tags: list[Tag] | None = None


class DomainCreateBody(Schema):
    domain: DomainCreate


class DomainUpdateBody(Schema):
    domain: DomainUpdate


class ProjectCreate(Entity):
    id: Id | None = None
    name: ShortName
    domain_id: Id | None = None
    parent_id: Id | None = None
    description: Description = None
    enabled: bool = True
    is_domain: bool | None = False
    tags: list[Tag] | None = None
    options: dict[str, Any] | None = None


class ProjectUpdate(Entity):
    name: ShortName | None = None
    description: Description = None
    enabled: bool | None = None
    tags: list[Tag] | None = None
    options: dict[str, Any] | None = None


class ProjectCreateBody(Schema):
    project: ProjectCreate


class ProjectUpdateBody(Schema):
    project: ProjectUpdate


class TagsBody(Schema):
    tags: list[Tag]


class UserCreate(Entity):
    id: Id | None = None
    name: Name
    domain_id: Id | None = None
    default_project_id: Id | None = None
    enabled: bool = True
    password: str | None = Field(default=None, max_length=4096)
    options: dict[str, Any] | None = None


class UserUpdate(Entity):
    name: Name | None = None
    default_project_id: Id | None = None
    enabled: bool | None = None
    password: str | None = Field(default=None, max_length=4096)
    options: dict[str, Any] | None = None


class UserCreateBody(Schema):
    user: UserCreate


class UserUpdateBody(Schema):
    user: UserUpdate


class PasswordChange(Schema):
    password: str = Field(min_length=1, max_length=4096)
    original_password: str = Field(max_length=4096)


class PasswordChangeBody(Schema):
    user: PasswordChange


class GroupCreate(Entity):
    id: Id | None = None
    name: Name
    domain_id: Id | None = None
    description: Description = None


class GroupUpdate(Entity):
    name: Name | None = None
    description: Description = None


class GroupCreateBody(Schema):
    group: GroupCreate


class GroupUpdateBody(Schema):
    group: GroupUpdate


class RoleCreate(Entity):
    id: Id | None = None
    name: Name
    domain_id: Id | None = None
    description: Description = None
    options: dict[str, Any] | None = None


class RoleUpdate(Entity):
    name: Name | None = None
    description: Description = None
    options: dict[str, Any] | None = None


class RoleCreateBody(Schema):
    role: RoleCreate


class RoleUpdateBody(Schema):
    role: RoleUpdate


class RegionCreate(Entity):
    id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    description: Description = None
    parent_region_id: str | None = None


class RegionUpdate(Entity):
    description: Description = None
    parent_region_id: str | None = None


class RegionCreateBody(Schema):
    region: RegionCreate


class RegionUpdateBody(Schema):
    region: RegionUpdate


class ServiceCreate(Entity):
    id: Id | None = None
    type: Name
    name: Annotated[str, Field(max_length=255)] | None = None
    description: Description = None
    enabled: bool = True


class ServiceUpdate(Entity):
    type: Name | None = None
    name: Annotated[str, Field(max_length=255)] | None = None
    description: Description = None
    enabled: bool | None = None


class ServiceCreateBody(Schema):
    service: ServiceCreate


class ServiceUpdateBody(Schema):
    service: ServiceUpdate


Url = Annotated[str, Field(min_length=1, max_length=2048)]


class EndpointCreate(Entity):
    id: Id | None = None
    service_id: Id
    interface: str
    url: Url
    region_id: str | None = None
    region: str | None = None
    enabled: bool = True


class EndpointUpdate(Entity):
    service_id: Id | None = None
    interface: str | None = None
    url: Url | None = None
    region_id: str | None = None
    region: str | None = None
    enabled: bool | None = None


class EndpointCreateBody(Schema):
    endpoint: EndpointCreate


class EndpointUpdateBody(Schema):
    endpoint: EndpointUpdate


class RoleRef(Schema):
    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
