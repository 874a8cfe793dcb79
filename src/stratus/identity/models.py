"""Identity tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stratus.common.db import Base, UTCDateTime, utcnow
from stratus.common.db import new_id as new_id  # the services make ids with m.new_id()

ID = String(64)


class Domain(Base):
    __tablename__ = "identity_domain"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Project(Base):
    __tablename__ = "identity_project"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("identity_project.id"), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    tags: Mapped[list[ProjectTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ProjectTag.name"
    )


class ProjectTag(Base):
    __tablename__ = "identity_project_tag"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


class User(Base):
    __tablename__ = "identity_user"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Group(Base):
    __tablename__ = "identity_group"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domain.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class GroupMembership(Base):
    __tablename__ = "identity_group_membership"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_group.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Role(Base):
    __tablename__ = "identity_role"
    __table_args__ = (UniqueConstraint("name", "domain_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    # NULL for global roles; the unique constraint then relies on this sentinel.
    domain_id: Mapped[str] = mapped_column(ID, default="<<null>>")
    description: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ImpliedRole(Base):
    __tablename__ = "identity_implied_role"

    prior_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True
    )


# Assignment types: (actor kind, target kind).
USER_PROJECT, GROUP_PROJECT = "UserProject", "GroupProject"
USER_DOMAIN, GROUP_DOMAIN = "UserDomain", "GroupDomain"
USER_SYSTEM, GROUP_SYSTEM = "UserSystem", "GroupSystem"
SYSTEM_TARGET = "system"


class RoleAssignment(Base):
    __tablename__ = "identity_role_assignment"

    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)
    target_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)


class Region(Base):
    __tablename__ = "identity_region"

    id: Mapped[str] = mapped_column(String(255), primary_key=True, default=new_id)
    description: Mapped[str] = mapped_column(Text, default="")
    parent_region_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_region.id"), nullable=True
    )
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Service(Base):
    __tablename__ = "identity_service"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Endpoint(Base):
    __tablename__ = "identity_endpoint"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_service.id", ondelete="CASCADE"), index=True
    )
    region_id: Mapped[str | None] = mapped_column(ForeignKey("identity_region.id"), nullable=True)
    interface: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApplicationCredential(Base):
    __tablename__ = "identity_application_credential"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessRule(Base):
    """One permission an application credential may be restricted to: a
    service type, a path pattern (``*``, ``**``, ``{name}`` wildcards) and an
    HTTP method.  A user's rules are shared by their credentials."""

    __tablename__ = "identity_access_rule"
    __table_args__ = (UniqueConstraint("user_id", "service", "path", "method"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))


class AppCredAccessRule(Base):
    """Which access rules restrict which application credential.  A rule
    still named here cannot be deleted (no cascade from the rule)."""

    __tablename__ = "identity_app_cred_access_rule"

    application_credential_id: Mapped[str] = mapped_column(
        ForeignKey("identity_application_credential.id", ondelete="CASCADE"), primary_key=True
    )
    access_rule_id: Mapped[str] = mapped_column(
        ForeignKey("identity_access_rule.id"), primary_key=True, index=True
    )


class Credential(Base):
    """A credential stored for a user (Keystone's /v3/credentials): an EC2
    access/secret pair (type ``ec2``, its id the SHA-256 of the access key),
    a TOTP secret, a certificate...  The blob is encrypted at rest with the
    credential keys (``DATA_DIR/credential-keys``)."""

    __tablename__ = "identity_credential"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), index=True, nullable=True
    )
    type: Mapped[str] = mapped_column(String(255))
    encrypted_blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevocationEvent(Base):
    """A token revocation: by one token's audit id, or all of a user's tokens
    issued before a moment."""

    __tablename__ = "identity_revocation_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    issued_before: Mapped[datetime] = mapped_column(UTCDateTime)
    # When every token the event can match has expired anyway; purged after.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IdentityState(Base):
    """One row; its generation grows with every identity write, so that other
    API processes sharing the database know to drop their caches."""

    __tablename__ = "identity_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class RegisteredLimit(Base):
    """A default limit on a resource of a service (Keystone unified limits)."""

    __tablename__ = "identity_registered_limit"
    __table_args__ = (UniqueConstraint("service_id", "region_id", "resource_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_service.id", ondelete="CASCADE"), index=True
    )
    region_id: Mapped[str | None] = mapped_column(ForeignKey("identity_region.id"), nullable=True)
    resource_name: Mapped[str] = mapped_column(String(255))
    default_limit: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class Limit(Base):
    """A project's own limit on a resource, overriding the registered default."""

    __tablename__ = "identity_limit"
    __table_args__ = (UniqueConstraint("project_id", "service_id", "region_id", "resource_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), nullable=True, index=True
    )
    domain_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("identity_service.id", ondelete="CASCADE"), index=True
    )
    region_id: Mapped[str | None] = mapped_column(ForeignKey("identity_region.id"), nullable=True)
    resource_name: Mapped[str] = mapped_column(String(255))
    resource_limit: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class Trust(Base):
    """A delegation (Keystone's OS-TRUST): the trustor lets the trustee act
    with some of the trustor's roles on one project."""

    __tablename__ = "identity_trust"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    trustor_user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    trustee_user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), nullable=True, index=True
    )
    impersonation: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # None: unlimited; otherwise the tokens still to be issued from it.
    remaining_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EndpointGroup(Base):
    """Endpoints chosen by filters (OS-EP-FILTER): interface, service_id, region_id."""

    __tablename__ = "identity_endpoint_group"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProjectEndpointGroup(Base):
    __tablename__ = "identity_project_endpoint_group"

    endpoint_group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_endpoint_group.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ProjectEndpoint(Base):
    __tablename__ = "identity_project_endpoint"

    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("identity_endpoint.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_project.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Policy(Base):
    """A policy blob stored for services to fetch (Keystone's /v3/policies)."""

    __tablename__ = "identity_policy"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(255))
    blob: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DomainConfig(Base):
    """A domain's own configuration (Keystone's domain-specific
    configuration): whitelisted options, and the sensitive ones kept apart
    and never shown."""

    __tablename__ = "identity_domain_config"

    domain_id: Mapped[str] = mapped_column(
        ForeignKey("identity_domain.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sensitive: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
