"""Account quotas, as Swift's ``account_quotas`` middleware.

``X-Account-Meta-Quota-Bytes`` and ``X-Account-Meta-Quota-Count`` on an
account cap the bytes and objects it holds: an upload (or a copy) that
would go past either is refused with 413 ``Upload exceeds quota.``.  Only a
reseller (``object_store:set_account_quota``: admins and ResellerAdmins by
default) may set, change or remove them; the account's own members get 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from stratus.common.policy import Enforcer
from stratus.objectstore.errors import BadRequest, Forbidden, TooLarge, Unauthorized
from stratus.objectstore.layers.access import project_of
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    ObjectStore,
    Reply,
)
from stratus.objectstore.service.names import split_target
from stratus.objectstore.service.quorum import close_body, count

QUOTA_BYTES = "x-account-meta-quota-bytes"
QUOTA_COUNT = "x-account-meta-quota-count"
QUOTA_HEADERS = (
    QUOTA_BYTES,
    QUOTA_COUNT,
    "x-remove-account-meta-quota-bytes",
    "x-remove-account-meta-quota-count",
)
MESSAGE = "Upload exceeds quota."


def _quota(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "").strip()
    return int(value) if value.isdigit() and value.isascii() else None


async def _capped(body: Body, limit: int) -> AsyncIterator[bytes]:
    """``body``, refused with 413 once it carries more than ``limit`` bytes."""
    total = 0
    async for chunk in body:
        total += len(chunk)
        if total > limit:
            raise TooLarge(MESSAGE)
        yield chunk


class AccountQuotaLayer(Layer):
    """Who may set an account's quotas, and uploads held within them."""

    def __init__(self, app: ObjectStore, enforcer: Enforcer) -> None:
        super().__init__(app)
        self.enforcer = enforcer

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply:
        given = [name for name in QUOTA_HEADERS if name in headers]
        if given:
            ctx = await caller.context()
            target = {"project_id": project_of(account)}
            if not self.enforcer.allowed("object_store:set_account_quota", ctx, target):
                raise Forbidden() if ctx.authenticated else Unauthorized()
            for name in (QUOTA_BYTES, QUOTA_COUNT):
                value = headers.get(name, "").strip()
                if value and not (value.isdigit() and value.isascii()):
                    raise BadRequest(f"Invalid {name}: a quota is a whole number of at least 0.")
        return await self.app.post_account(caller, account, headers, params, body)

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        room = await self._room(names[0])
        if room is None:
            return await self.app.put_object(caller, names, headers, params, body)
        source = headers.get("x-copy-from")
        if source:
            container, obj = split_target(source, self.limits)
            account = headers.get("x-copy-from-account") or names[0]
            size = await self._size(caller, (account, container, obj))
        else:
            size = _length(headers)
        if size is not None and size > room:
            raise TooLarge(MESSAGE)
        if size is None:
            body = _capped(body, room)
        return await self.app.put_object(caller, names, headers, params, body)

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        room = await self._room(dest[0])
        if room is not None:
            size = await self._size(caller, source)
            if size is not None and size > room:
                raise TooLarge(MESSAGE)
        return await self.app.copy_object(caller, source, dest, headers)

    async def _room(self, account: str) -> int | None:
        """The bytes one more object may carry, or None without a quota;
        413 when the account is already at its count or past its bytes."""
        info = await self.app.info(account)
        if info.status >= 300:
            return None
        quota_bytes = _quota(info.headers, QUOTA_BYTES)
        quota_count = _quota(info.headers, QUOTA_COUNT)
        if quota_bytes is None and quota_count is None:
            return None
        if quota_count is not None:
            if count(info.headers, "x-account-object-count") + 1 > quota_count:
                raise TooLarge(MESSAGE)
        if quota_bytes is None:
            return None
        left = quota_bytes - count(info.headers, "x-account-bytes-used")
        if left < 0:
            raise TooLarge(MESSAGE)
        return left

    async def _size(self, caller: Caller, source: Names) -> int | None:
        resp = await self.app.get_object(caller, source, {}, {}, head=True)
        await close_body(resp)
        if resp.status >= 300:
            return None
        return _length(resp.headers)


def _length(headers: Headers) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None
