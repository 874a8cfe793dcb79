"""Volume transfers between projects (os-volume-transfer, volume-transfers)
and the user messages that say why something failed (/messages)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service.common import visible_volume
from stratus.volume.service.quotas import Quotas


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}{key}".encode()).hexdigest()


class Transfers:
    def __init__(self, db: Database, quotas: Quotas):
        self.db = db
        self.quotas = quotas

    async def create(
        self, ctx: RequestContext, volume_id: str, name: str | None, no_snapshots: bool
    ) -> tuple[m.Transfer, str]:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            if volume.status != m.AVAILABLE:
                raise BadRequest(
                    f"Invalid volume: Status of volume {volume.id} must be available, "
                    f"not {volume.status}."
                )
            key = secrets.token_hex(8)
            salt = secrets.token_hex(8)
            transfer = m.Transfer(
                volume_id=volume.id,
                name=name,
                project_id=volume.project_id,
                salt=salt,
                crypt_hash=_hash(salt, key),
                no_snapshots=no_snapshots,
            )
            s.add(transfer)
            volume.status = m.AWAITING_TRANSFER
            await s.flush()
            return transfer, key

    async def get(self, ctx: RequestContext, transfer_id: str) -> m.Transfer:
        async with self.db.session() as s:
            transfer = await s.get(m.Transfer, transfer_id)
            if transfer is None or not ctx.owns(transfer.project_id):
                raise NotFound(f"Transfer {transfer_id} could not be found.")
            return transfer

    async def list_transfers(self, ctx: RequestContext, all_projects: bool) -> list[m.Transfer]:
        stmt = select(m.Transfer).order_by(m.Transfer.created_at)
        if not (ctx.is_admin and all_projects):
            stmt = stmt.where(m.Transfer.project_id == (ctx.project_id or ""))
        async with self.db.session() as s:
            return list((await s.scalars(stmt)).all())

    async def delete(self, ctx: RequestContext, transfer_id: str) -> None:
        async with self.db.transaction() as s:
            transfer = await s.get(m.Transfer, transfer_id)
            if transfer is None or not ctx.owns(transfer.project_id):
                raise NotFound(f"Transfer {transfer_id} could not be found.")
            volume = await s.get(m.Volume, transfer.volume_id)
            if volume is not None and volume.status == m.AWAITING_TRANSFER:
                volume.status = m.AVAILABLE
            await s.delete(transfer)

    async def accept(self, ctx: RequestContext, transfer_id: str, auth_key: str) -> m.Transfer:
        """Any project holding the id and the key takes the volume (and its
        snapshots, unless the transfer was made without them)."""
        async with self.db.transaction() as s:
            transfer = await s.get(m.Transfer, transfer_id)
            if transfer is None:
                raise NotFound(f"Transfer {transfer_id} could not be found.")
            if not hmac.compare_digest(_hash(transfer.salt, auth_key), transfer.crypt_hash):
                raise BadRequest(
                    f"Invalid auth key: Attempt to transfer {transfer_id} with invalid auth key."
                )
            volume = await s.get(m.Volume, transfer.volume_id, with_for_update=True)
            if volume is None or volume.status != m.AWAITING_TRANSFER:
                raise BadRequest("Invalid volume: the volume is not awaiting a transfer.")
            project = ctx.project_id or ""
            snaps = list(
                (await s.scalars(select(m.Snapshot).where(m.Snapshot.volume_id == volume.id))).all()
            )
            vtype = await s.get(m.VolumeType, volume.volume_type_id or "")
            requests = {"volumes": 1, "gigabytes": volume.size}
            if vtype is not None:
                requests |= {f"volumes_{vtype.name}": 1, f"gigabytes_{vtype.name}": volume.size}
            if snaps and not transfer.no_snapshots:
                requests["snapshots"] = len(snaps)
                requests["gigabytes"] += sum(x.size for x in snaps)
            await self.quotas.check(s, project, requests)
            volume.project_id, volume.user_id = project, ctx.user_id or ""
            volume.status = m.AVAILABLE
            for snap in snaps:
                if not transfer.no_snapshots:
                    snap.project_id, snap.user_id = project, ctx.user_id or ""
            await s.delete(transfer)
            return transfer


class Messages:
    def __init__(self, db: Database):
        self.db = db

    async def list_messages(self, ctx: RequestContext) -> list[m.Message]:
        stmt = select(m.Message).order_by(m.Message.created_at.desc())
        if not ctx.is_admin:
            stmt = stmt.where(m.Message.project_id == (ctx.project_id or ""))
        async with self.db.session() as s:
            return list((await s.scalars(stmt)).all())

    async def get(self, ctx: RequestContext, message_id: str) -> m.Message:
        async with self.db.session() as s:
            row = await s.get(m.Message, message_id)
            if row is None or not ctx.owns(row.project_id):
                raise NotFound(f"Message {message_id} could not be found.")
            return row

    async def delete(self, ctx: RequestContext, message_id: str) -> None:
        async with self.db.transaction() as s:
            row = await s.get(m.Message, message_id)
            if row is None or not ctx.owns(row.project_id):
                raise NotFound(f"Message {message_id} could not be found.")
            await s.delete(row)
