"""The object-store service: the rings, the proxy over them, Swift's limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stratus.objectstore.node.protocol import NodeClient
from stratus.objectstore.proxy.accounts import Accounts
from stratus.objectstore.proxy.containers import Containers
from stratus.objectstore.proxy.core import Proxy
from stratus.objectstore.proxy.objects import MAX_FILE_SIZE, Objects
from stratus.objectstore.ring import Ring


@dataclass(frozen=True)
class Limits:
    """Swift's constraints, with Swift's defaults (shown by ``/info``)."""

    max_file_size: int = MAX_FILE_SIZE
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_header_size: int = 8192
    max_object_name_length: int = 1024
    max_container_name_length: int = 256
    max_account_name_length: int = 256
    container_listing_limit: int = 10000
    account_listing_limit: int = 10000
    extra_header_count: int = 0


class ObjectStoreService:
    """What the API's handlers call: accounts, containers and objects."""

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
