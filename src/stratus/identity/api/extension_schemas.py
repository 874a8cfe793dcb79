"""Request schemas of the identity API's extensions: unified limits,
stored credentials (and their EC2 view), trusts, endpoint groups, policy
blobs and domain-specific configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from stratus.common.api import Query, Schema
from stratus.identity.api.schemas import Description, Entity, Id, Name, RoleRef

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
