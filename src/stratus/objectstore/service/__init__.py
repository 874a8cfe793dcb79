"""The object-store service: the rings, the proxy over them, Swift's limits."""

from __future__ import annotations

from pathlib import Path

from stratus.objectstore.node.protocol import NodeClient
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.service.accounts import Accounts
from stratus.objectstore.service.containers import Containers
from stratus.objectstore.service.limits import Limits
from stratus.objectstore.service.objects import Objects
from stratus.objectstore.service.quorum import Proxy


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
