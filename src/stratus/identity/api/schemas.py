"""Identity request schemas.  Envelopes refuse unknown fields; the entities
inside them keep unknown attributes (Keystone stores and echoes them, e.g. a
user's "email")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from stratus.common.api import Query, Schema
from stratus.identity.service.auth_request import AuthRequest, NamedRef

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


# -- auth -----------------------------------------------------------------------


class DomainRef(Schema):
    id: str | None = None
    name: str | None = None


class UserRef(Schema):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None
    password: str | None = Field(default=None, max_length=4096)

    def ref(self) -> NamedRef:
        return NamedRef(
            id=self.id,
            name=self.name,
            domain_id=self.domain.id if self.domain else None,
            domain_name=self.domain.name if self.domain else None,
        )


class PasswordMethod(Schema):
    user: UserRef


class TokenMethod(Schema):
    id: str = Field(max_length=1024)


class AppCredMethod(Schema):
    id: str | None = None
    name: str | None = None
    secret: str = Field(max_length=4096)
    user: UserRef | None = None


class Identity(Schema):
    methods: list[str] = Field(min_length=1)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: AppCredMethod | None = None


class ProjectScope(Schema):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class SystemScope(Schema):
    all: bool = True


class TrustScope(Schema):
    id: str = Field(min_length=1, max_length=64)


class Scope(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    project: ProjectScope | None = None
    domain: DomainRef | None = None
    system: SystemScope | None = None
    trust: TrustScope | None = Field(default=None, alias="OS-TRUST:trust")


class Auth(Schema):
    identity: Identity
    scope: Scope | Literal["unscoped"] | None = None


class AuthBody(Schema):
    auth: Auth

    def request(self) -> AuthRequest:
        identity, scope = self.auth.identity, self.auth.scope
        kind: str | None = None
        ref: NamedRef | None = None
        if isinstance(scope, Scope):
            if scope.project is not None:
                p = scope.project
                kind = "project"
                ref = NamedRef(
                    id=p.id,
                    name=p.name,
                    domain_id=p.domain.id if p.domain else None,
                    domain_name=p.domain.name if p.domain else None,
                )
            elif scope.domain is not None:
                kind, ref = "domain", NamedRef(id=scope.domain.id, name=scope.domain.name)
            elif scope.system is not None:
                kind, ref = "system", NamedRef(id="all")
            elif scope.trust is not None:
                kind, ref = "trust", NamedRef(id=scope.trust.id)
        pw = identity.password
        ac = identity.application_credential
        return AuthRequest(
            methods=tuple(identity.methods),
            password_user=pw.user.ref() if pw else None,
            password=pw.user.password if pw else None,
            token=identity.token.id if identity.token else None,
            app_cred_id=ac.id if ac else None,
            app_cred_name=ac.name if ac else None,
            app_cred_user=ac.user.ref() if ac and ac.user else None,
            app_cred_secret=ac.secret if ac else None,
            scope_kind=kind,
            scope=ref,
        )


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


# Keystone's id_string: what an access rule's service and id may be.
IdString = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-]+$")]


class AccessRuleRef(Schema):
    """An access rule of a new application credential: a new rule
    (service, path, method), or one of the user's rules by id."""

    id: IdString | None = None
    service: IdString | None = None
    path: Annotated[str, Field(max_length=225, pattern=r"^/")] | None = None
    method: Literal["POST", "GET", "HEAD", "PATCH", "PUT", "DELETE"] | None = None

    @model_validator(mode="after")
    def _complete(self) -> AccessRuleRef:
        given = [v is not None for v in (self.service, self.path, self.method)]
        if self.id is None and not all(given):
            raise ValueError("an access rule needs an id, or a service, a path and a method")
        if self.id is not None and any(given) and not all(given):
            raise ValueError("an access rule needs a service, a path and a method together")
        return self


class AppCredCreate(Schema):
    name: Name
    description: Description = None
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    expires_at: datetime | None = None
    roles: list[RoleRef] | None = None
    unrestricted: bool | None = False
    access_rules: list[AccessRuleRef] | None = None


class AppCredCreateBody(Schema):
    application_credential: AppCredCreate


# -- unified limits -----------------------------------------------------------------


class RegisteredLimitCreate(Schema):
    service_id: Id
    region_id: str | None = None
    resource_name: Name
    default_limit: int
    description: Description = None


class RegisteredLimitUpdate(Schema):
    service_id: Id | None = None
    region_id: str | None = None
    resource_name: Name | None = None
    default_limit: int | None = None
    description: Description = None


class RegisteredLimitsCreateBody(Schema):
    registered_limits: list[RegisteredLimitCreate] = Field(min_length=1)


class RegisteredLimitUpdateBody(Schema):
    registered_limit: RegisteredLimitUpdate


class LimitCreate(Schema):
    project_id: Id | None = None
    domain_id: Id | None = None
    service_id: Id
    region_id: str | None = None
    resource_name: Name
    resource_limit: int
    description: Description = None


class LimitUpdate(Schema):
    resource_limit: int | None = None
    description: Description = None


class LimitsCreateBody(Schema):
    limits: list[LimitCreate] = Field(min_length=1)


class LimitUpdateBody(Schema):
    limit: LimitUpdate


class LimitListQuery(Query):
    service_id: str | None = None
    region_id: str | None = None
    resource_name: str | None = None
    project_id: str | None = None
    domain_id: str | None = None


# -- stored credentials (/v3/credentials, OS-EC2) ----------------------------------------


class CredentialCreate(Entity):
    id: Id | None = None
    blob: str = Field(min_length=1, max_length=65535)
    type: str = Field(min_length=1, max_length=255)
    user_id: Id
    project_id: Id | None = None


class CredentialUpdate(Entity):
    blob: str | None = Field(default=None, min_length=1, max_length=65535)
    type: str | None = Field(default=None, min_length=1, max_length=255)
    user_id: Id | None = None
    project_id: Id | None = None


class CredentialCreateBody(Schema):
    credential: CredentialCreate


class CredentialUpdateBody(Schema):
    credential: CredentialUpdate


class CredentialListQuery(Query):
    user_id: str | None = None
    type: str | None = None


class Ec2CreateBody(Schema):
    # keystoneclient sends the project as tenant_id; newer clients project_id.
    tenant_id: Id | None = None
    project_id: Id | None = None


# -- trusts (OS-TRUST) ----------------------------------------------------------------


class TrustCreate(Schema):
    trustor_user_id: Id
    trustee_user_id: Id
    impersonation: bool
    project_id: Id | None = None
    roles: list[RoleRef] | None = None
    expires_at: datetime | None = None
    remaining_uses: int | None = Field(default=None, ge=1)
    allow_redelegation: bool | None = None
    redelegation_count: int | None = Field(default=None, ge=0)


class TrustCreateBody(Schema):
    trust: TrustCreate


class TrustListQuery(Query):
    trustor_user_id: str | None = None
    trustee_user_id: str | None = None


# -- endpoint groups (OS-EP-FILTER) -----------------------------------------------------


class EndpointFilters(Schema):
    interface: Literal["public", "internal", "admin"] | None = None
    service_id: Id | None = None
    region_id: Id | None = None


class EndpointGroupCreate(Schema):
    name: Name
    description: Description = None
    filters: EndpointFilters


class EndpointGroupUpdate(Schema):
    name: Name | None = None
    description: Description = None
    filters: EndpointFilters | None = None


class EndpointGroupCreateBody(Schema):
    endpoint_group: EndpointGroupCreate


class EndpointGroupUpdateBody(Schema):
    endpoint_group: EndpointGroupUpdate


class EndpointGroupListQuery(Query):
    name: str | None = None


# -- policies -----------------------------------------------------------------------------


class PolicyCreate(Entity):
    type: Annotated[str, Field(min_length=1, max_length=255)]
    blob: str


class PolicyUpdate(Entity):
    not_null: ClassVar[tuple[str, ...]] = ("type", "blob")
    type: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    blob: str | None = None


class PolicyCreateBody(Schema):
    policy: PolicyCreate


class PolicyUpdateBody(Schema):
    policy: PolicyUpdate


class PolicyListQuery(Query):
    type: str | None = None


# -- domain-specific configuration ------------------------------------------------------


class DomainConfigBody(Schema):
    config: dict[str, Any]
