"""Container sync's receiving side and its checks, as Swift's
``container_sync`` middleware (with keystoneauth's sync-key rule):

- an ``X-Container-Sync-To`` set on a container must name a realm's cluster
  the operator configured, or a URL on an allowed host (400 otherwise, in
  Swift's words);
- an object request carrying ``X-Container-Sync-Auth`` must be signed with
  the realm's key and the target container's ``X-Container-Sync-Key`` (401
  otherwise); one carrying ``X-Container-Sync-Key`` (no realm) must give
  that key and an ``X-Timestamp``.  Either one lets the request through
  without a token, for that account (``Caller.preauth``), and its
  ``X-Timestamp`` becomes the write's (``x-backend-inbound-x-timestamp``,
  Swift's name), so the copy keeps the source's time and replays are
  harmless.

The sending side is the node's worker (:mod:`stratus.objectstore.agent.container_sync`).
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import BadRequest, Unauthorized
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service import INBOUND_TIMESTAMP
from stratus.objectstore.service.container_sync import (
    SYNC_AUTH,
    SYNC_KEY,
    SYNC_TO,
    SyncRealms,
    valid_signature,
)
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    ObjectStore,
    Reply,
)

INVALID_AUTH = "X-Container-Sync-Auth header not valid; contact cluster operator for support."
# How WebOb quotes a request's path (what Swift's receiving side signs over).
_WEBOB_SAFE = "/~!$&'()*+,;=:@"


def _paths(caller: Caller) -> list[str]:
    """The paths a sender may have signed: the one the client used (mount
    included) or the Swift path, percent-encoded as Swift's sender or
    WebOb encodes them."""
    out: list[str] = []
    for path in caller.addressed:
        for safe in ("/", _WEBOB_SAFE):
            quoted = quote(path.encode(), safe=safe)
            if quoted not in out:
                out.append(quoted)
    if caller.raw_path and caller.root + caller.raw_path not in out:
        out.append(caller.root + caller.raw_path)
    return out


class ContainerSyncLayer(Layer):
    def __init__(self, app: ObjectStore, realms: SyncRealms | None = None) -> None:
        super().__init__(app)
        self.realms = realms or SyncRealms()

    # -- containers: what X-Container-Sync-To may name --------------------------------

    def _check_sync_to(self, headers: Headers) -> None:
        value = headers.get(SYNC_TO)
        if value:
            self.realms.target(value)

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply:
        self._check_sync_to(headers)
        return await self.app.put_container(caller, account, container, headers)

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        self._check_sync_to(headers)
        return await self.app.post_container(caller, account, container, headers, params, body)

    # -- objects: requests from another container's sync ------------------------------

    async def _synced(self, caller: Caller, names: Names, headers: Headers) -> Headers:
        """The headers for the layers beneath: a valid sync request is let
        through for its account with its timestamp kept; an invalid signed
        one is 401; any other passes unchanged."""
        auth = headers.get(SYNC_AUTH)
        key = headers.get(SYNC_KEY)
        if auth is None and key is None:
            return headers
        stamp = headers.get("x-timestamp")
        if auth is not None:
            if not await self._auth_valid(caller, names, auth, stamp or "0"):
                raise Unauthorized(
                    INVALID_AUTH,
                    headers={"www-authenticate": f'SwiftContainerSync realm="{names[0]}"'},
                )
        elif stamp is None or not key or not _same(key, await self._user_key(names)):
            return headers  # keystoneauth's rule: not a sync request, checked as any other
        caller.preauth = names[0]
        caller.synced = True
        out = {k: v for k, v in headers.items() if k not in (SYNC_AUTH, SYNC_KEY)}
        if stamp is not None:
            try:
                out[INBOUND_TIMESTAMP] = Timestamp(stamp).internal
            except ValueError as exc:
                raise BadRequest(
                    f"X-Timestamp should be a UNIX timestamp float value; was {stamp!r}"
                ) from exc
        return out

    async def _user_key(self, names: Names) -> str:
        info = await self.app.info(names[0], names[1])
        return info.headers.get(SYNC_KEY, "") if info.status < 300 else ""

    async def _auth_valid(self, caller: Caller, names: Names, auth: str, stamp: str) -> bool:
        parts = auth.split()
        if len(parts) != 3:
            return False
        realm, nonce, sig = parts
        realm_keys = self.realms.keys(realm)
        if not realm_keys:
            return False
        user_key = await self._user_key(names)
        if not user_key:
            return False
        return valid_signature(
            sig, caller.method, _paths(caller), stamp, nonce, realm_keys, user_key
        )

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        headers = await self._synced(caller, names, headers)
        return await self.app.get_object(caller, names, headers, params, head=head)

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        headers = await self._synced(caller, names, headers)
        return await self.app.put_object(caller, names, headers, params, body)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        headers = await self._synced(caller, names, headers)
        return await self.app.post_object(caller, names, headers, params, body)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        headers = await self._synced(caller, names, headers)
        return await self.app.delete_object(caller, names, headers, params)


def _same(given: str, key: str) -> bool:
    """The two keys equal, compared in constant time (no timing tells how
    much of a guess was right)."""
    return bool(key) and hmac.compare_digest(given.encode(), key.encode())
