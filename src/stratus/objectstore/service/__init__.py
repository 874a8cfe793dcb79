"""The object store's core: Swift's semantics over the rings (account
autocreation, listings, quotas, copies), the bottom of the layer stack.

It implements :class:`~stratus.objectstore.service.interface.ObjectStore`
and checks what a request asks of the core (metadata against Swift's
limits, lengths, listing queries); who may ask is the access layer's
business, and the middleware features are the layers' (see
:mod:`stratus.objectstore.layers`).
"""

from __future__ import annotations

from pathlib import Path

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import BadRequest
from stratus.objectstore.node.protocol import NodeClient
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.service.accounts import POLICY_NAME, Accounts
from stratus.objectstore.service.containers import Containers
from stratus.objectstore.service.headers import (
    INTERNAL,
    declared_length,
    object_headers,
    true,
    write_headers,
)
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Listing,
    Names,
    Reply,
)
from stratus.objectstore.service.limits import Limits
from stratus.objectstore.service.listing import node_query
from stratus.objectstore.service.objects import Objects
from stratus.objectstore.service.quorum import Proxy

CONTAINER_SYSMETA = "x-container-sysmeta-"
ACCOUNT_SYSMETA = "x-account-sysmeta-"
# The time a layer lets a write keep (Swift's name for a shunted X-Timestamp).
INBOUND_TIMESTAMP = "x-backend-inbound-x-timestamp"
# Headers a layer may give an object besides what a client may.
_FROM_LAYERS = (*INTERNAL, "x-static-large-object")


def _inbound(headers: dict[str, str]) -> Timestamp | None:
    """The time a write keeps when a layer let it keep the client's (a
    container sync's copy keeps the source's): removed from ``headers``."""
    value = headers.pop(INBOUND_TIMESTAMP, None)
    return Timestamp(value) if value else None


class ObjectStoreService:
    """Accounts, containers and objects over the replicas the rings name."""

    def __init__(self, proxy: Proxy, limits: Limits | None = None, public_url: str = "") -> None:
        self.proxy = proxy
        self.limits = limits or Limits()
        self.public_url = public_url
        self.accounts = Accounts(proxy)
        self.containers = Containers(proxy, self.accounts)
        self.objects = Objects(proxy, max_file_size=self.limits.max_file_size)

    @classmethod
    def from_ring_dir(
        cls, ring_dir: str | Path, client: NodeClient, *, public_url: str = ""
    ) -> ObjectStoreService:
        """Rings from ``account.ring.gz``, ``container.ring.gz`` and ``object.ring.gz``."""
        ring_dir = Path(ring_dir)
        account, container, obj = (
            Ring.load(ring_dir / f"{kind}.ring.gz") for kind in ("account", "container", "object")
        )
        return cls(Proxy(account, container, obj, client), public_url=public_url)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- the interface: accounts ---------------------------------------------------------

    async def info(self, account: str, container: str | None = None) -> Reply:
        return await self.proxy.info(account, container)

    async def head_account(self, caller: Caller, account: str) -> Reply:
        return await self.accounts.head(account)

    async def list_account(self, caller: Caller, account: str, query: Headers) -> Listing:
        node = node_query(query, self.limits.account_listing_limit)
        return await self.accounts.get(account, node)

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply:
        out = write_headers(headers.items(), "account", self.limits)
        for key, value in headers.items():
            if key.startswith(ACCOUNT_SYSMETA):  # a layer's (clients' are removed)
                out[key] = value
        return await self.accounts.post(account, out)

    # -- containers ----------------------------------------------------------------------

    def _container_headers(self, headers: Headers) -> dict[str, str]:
        policy = headers.get("x-storage-policy")
        if policy is not None and policy.strip().lower() != POLICY_NAME.lower():
            raise BadRequest(f'Invalid X-Storage-Policy "{policy}"')
        out = write_headers(headers.items(), "container", self.limits)
        for key, value in headers.items():
            if key.startswith(CONTAINER_SYSMETA):  # a layer's (clients' are removed)
                out[key] = value
        return out

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply:
        return await self.containers.put(account, container, self._container_headers(headers))

    async def head_container(self, caller: Caller, account: str, container: str) -> Reply:
        return await self.containers.head(account, container)

    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing:
        node = node_query(query, self.limits.container_listing_limit)
        return await self.containers.get(account, container, node)

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        return await self.containers.post(account, container, self._container_headers(headers))

    async def delete_container(self, caller: Caller, account: str, container: str) -> Reply:
        return await self.containers.delete(account, container)

    # -- objects -------------------------------------------------------------------------

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        forward = {}
        if not head and "range" in headers:
            forward["range"] = headers["range"]
        return await self.objects.read("HEAD" if head else "GET", *names, forward)

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        length = declared_length(headers)
        stored = object_headers(headers.items(), names[2], self.limits, new=True)
        for key, value in headers.items():
            if key.startswith(_FROM_LAYERS):
                stored[key] = value
        stamp = _inbound(stored)
        return await self.objects.put(*names, stored, body, length, timestamp=stamp)

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        new = object_headers(headers.items(), dest[2], self.limits, new=False)
        if "content-type" in headers:
            new["content-type"] = headers["content-type"]
        for key, value in headers.items():
            if key.startswith(_FROM_LAYERS):
                new[key] = value
        fresh = true(headers.get("x-fresh-metadata"))
        return await self.objects.copy(source, dest, new, fresh_metadata=fresh)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        stored = object_headers(headers.items(), names[2], self.limits, new=False)
        return await self.objects.post(*names, stored)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        if_delete_at = headers.get("x-if-delete-at")
        if if_delete_at is not None:
            try:
                int(if_delete_at)
            except ValueError as exc:
                raise BadRequest("Bad X-If-Delete-At header value") from exc
        stamp = _inbound(dict(headers))
        return await self.objects.delete(*names, if_delete_at=if_delete_at, timestamp=stamp)

    async def extract_archive(
        self, caller: Caller, account: str, base: str, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        # Archives are the bulk layer's (stratus.objectstore.layers.bulk).
        raise BadRequest("Unsupported archive format")
