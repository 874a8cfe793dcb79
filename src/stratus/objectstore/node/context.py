"""What the node's servers (objects, containers, accounts, replication and
database sync) use of the node that holds them: its thread pool, its name
hashing, its rings, devices, open databases and listing updater.

``server.StorageNode`` is the one implementation; the servers name this
Protocol rather than the node, so they never import the module that
builds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from stratus.objectstore.drivers.base import ObjectDevice
from stratus.objectstore.node.databases import OpenDatabases
from stratus.objectstore.node.updates import Updater
from stratus.objectstore.ring.ring import Ring

T = TypeVar("T")


class NodeContext(Protocol):
    @property
    def dbs(self) -> OpenDatabases:
        """The account and container databases open on this node."""

    @property
    def updater(self) -> Updater:
        """Sends listing updates to other nodes (async pendings on failure)."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the node's thread pool."""

    def hash(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        """The hash of a name, with the cluster's prefix and suffix."""

    def ring(self, filename: str) -> Ring | None:
        """A ring of the node's ring folder, or None."""

    def object_device(self, device: str, policy: int) -> ObjectDevice:
        """The objects of one policy on one device."""
