"""Request schemas of token requests (/v3/auth/tokens) and of new
application credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from stratus.common.api import Schema
from stratus.identity.api.schemas import Description, Name, RoleRef
from stratus.identity.service.auth_request import AuthRequest, NamedRef


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
