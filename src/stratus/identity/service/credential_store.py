"""Stored credentials (Keystone's ``/v3/credentials``) and the EC2 view of
them (``/v3/users/{user_id}/credentials/OS-EC2``).

A credential belongs to a user (and, for ``ec2``, a project) and holds a
blob: for ``ec2``, JSON ``{"access", "secret", "trust_id"}``; its id is then
the SHA-256 of the access key, as Keystone makes it, so that an EC2 or S3
request's access key finds its credential.  Blobs are encrypted at rest.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import ValidationError, conflict, not_found
from stratus.identity.service.core import Core

EC2 = "ec2"


def ec2_id(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


class CredentialStore:
    def __init__(self, core: Core):
        self.core = core

    # -- blobs ---------------------------------------------------------------------

    def seal(self, blob: str) -> str:
        return self.core.credential_keys.load().encrypt(blob.encode()).decode()

    def blob(self, cred: m.Credential) -> str:
        try:
            return self.core.credential_keys.load().decrypt(cred.encrypted_blob.encode()).decode()
        except InvalidToken:
            # Keys lost or not copied to this process: say so, never a 500.
            raise ValidationError(
                f"The credential {cred.id} cannot be decrypted with this cloud's credential keys."
            ) from None

    # -- the credentials API ---------------------------------------------------------

    async def get(self, cred_id: str, s: AsyncSession | None = None) -> m.Credential:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get(cred_id, session)
        cred = await s.get(m.Credential, cred_id)
        if cred is None:
            raise not_found("credential", cred_id)
        return cred

    async def find(
        self, user_id: str | None = None, type_: str | None = None
    ) -> list[m.Credential]:
        stmt = select(m.Credential)
        if user_id is not None:
            stmt = stmt.where(m.Credential.user_id == user_id)
        if type_ is not None:
            stmt = stmt.where(m.Credential.type == type_)
        async with self.core.db.session() as s:
            return list((await s.scalars(stmt.order_by(m.Credential.created_at))).all())

    async def create(self, attrs: dict[str, Any]) -> m.Credential:
        blob = str(attrs.pop("blob"))
        type_ = str(attrs.pop("type"))
        user_id = str(attrs.pop("user_id"))
        project_id = attrs.pop("project_id", None)
        cred_id = attrs.pop("id", None) or uuid.uuid4().hex
        if type_ == EC2:
            access = _ec2_access(blob)
            if not project_id:
                raise ValidationError("An ec2 credential needs a project_id.")
            cred_id = ec2_id(access)
        async with self.core.db.transaction() as s:
            await self._check_owner(s, user_id, project_id)
            if await s.get(m.Credential, cred_id) is not None:
                raise conflict("credential", f"a credential {cred_id} exists")
            cred = m.Credential(
                id=cred_id,
                user_id=user_id,
                project_id=project_id,
                type=type_,
                encrypted_blob=self.seal(blob),
                extra=attrs,
            )
            s.add(cred)
        return cred

    async def update(self, cred_id: str, attrs: dict[str, Any]) -> m.Credential:
        attrs.pop("id", None)
        async with self.core.db.transaction() as s:
            cred = await self.get(cred_id, s)
            type_ = attrs.pop("type", cred.type)
            blob = attrs.pop("blob", None)
            project_id = attrs.pop("project_id", cred.project_id)
            user_id = attrs.pop("user_id", cred.user_id)
            if type_ == EC2:
                access = _ec2_access(blob if blob is not None else self.blob(cred))
                if ec2_id(access) != cred.id:
                    raise ValidationError("An ec2 credential's access key cannot change.")
                if not project_id:
                    raise ValidationError("An ec2 credential needs a project_id.")
            await self._check_owner(s, user_id, project_id)
            cred.type, cred.project_id, cred.user_id = type_, project_id, user_id
            if blob is not None:
                cred.encrypted_blob = self.seal(str(blob))
            if attrs:
                cred.extra = {**cred.extra, **attrs}
        return cred

    async def delete(self, cred_id: str) -> None:
        async with self.core.db.transaction() as s:
            await s.delete(await self.get(cred_id, s))

    @staticmethod
    async def _check_owner(s: AsyncSession, user_id: str, project_id: str | None) -> None:
        if await s.get(m.User, user_id) is None:
            raise not_found("user", user_id)
        if project_id is not None and await s.get(m.Project, project_id) is None:
            raise not_found("project", project_id)

    # -- OS-EC2 ------------------------------------------------------------------------

    async def ec2_create(
        self, user_id: str, project_id: str
    ) -> tuple[m.Credential, dict[str, Any]]:
        """A new access/secret pair for the user on the project."""
        blob = {"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex, "trust_id": None}
        cred = await self.create(
            {
                "type": EC2,
                "user_id": user_id,
                "project_id": project_id,
                "blob": json.dumps(blob),
            }
        )
        return cred, blob

    async def ec2_list(self, user_id: str) -> list[tuple[m.Credential, dict[str, Any]]]:
        async with self.core.db.session() as s:
            if await s.get(m.User, user_id) is None:
                raise not_found("user", user_id)
        return [(c, self.ec2_blob(c)) for c in await self.find(user_id, EC2)]

    async def ec2_get(self, user_id: str, access: str) -> tuple[m.Credential, dict[str, Any]]:
        cred = await self.get(ec2_id(access))
        if cred.user_id != user_id or cred.type != EC2:
            raise not_found("credential", access)
        return cred, self.ec2_blob(cred)

    async def ec2_delete(self, user_id: str, access: str) -> None:
        cred, _ = await self.ec2_get(user_id, access)
        await self.delete(cred.id)

    def ec2_blob(self, cred: m.Credential) -> dict[str, Any]:
        try:
            value = json.loads(self.blob(cred))
        except ValueError:
            value = None
        return value if isinstance(value, dict) else {}


def _ec2_access(blob: str) -> str:
    try:
        value = json.loads(blob)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("access"), str):
        raise ValidationError('An ec2 credential\'s blob is JSON with an "access" key.')
    return str(value["access"])
