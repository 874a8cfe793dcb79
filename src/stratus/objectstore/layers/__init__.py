"""Swift's middleware features as layers over the object-store interface
(:mod:`stratus.objectstore.service.interface`), each wrapping the one
beneath it and speaking only that interface, as Swift's middleware wraps
the app below it: the core never learns that a feature exists.

``LAYERS`` is the stack, from the top (what the API calls) down to the
core.  A new feature is a ``Layer`` subclass overriding the operations it
changes, put in its place in that list.
"""

from __future__ import annotations

from collections.abc import Callable

from stratus.common.policy import Enforcer
from stratus.objectstore.layers.access import AccessLayer
from stratus.objectstore.layers.base import Layer, stack
from stratus.objectstore.layers.bulk import BulkLayer
from stratus.objectstore.layers.container_sync import ContainerSyncLayer
from stratus.objectstore.layers.copy import CopyLayer
from stratus.objectstore.layers.dlo import DloLayer
from stratus.objectstore.layers.formpost import FormPostLayer
from stratus.objectstore.layers.object_versioning import ObjectVersioningLayer
from stratus.objectstore.layers.quotas import AccountQuotaLayer
from stratus.objectstore.layers.slo import SloLayer
from stratus.objectstore.layers.staticweb import StaticWebLayer
from stratus.objectstore.layers.symlink import SymlinkLayer
from stratus.objectstore.layers.tempurl import TempUrlLayer
from stratus.objectstore.layers.versioning import VersioningLayer
from stratus.objectstore.service.container_sync import SyncRealms
from stratus.objectstore.service.interface import ObjectStore

__all__ = ["LAYERS", "Layer", "build_stack"]


def LAYERS(  # noqa: N802
    enforcer: Enforcer, sync: SyncRealms | None = None
) -> list[Callable[[ObjectStore], ObjectStore]]:
    """The stack, top first: requests split or signed before access is
    checked; large objects and versions beneath it, the core at the bottom."""
    return [
        lambda app: ContainerSyncLayer(app, sync),  # X-Container-Sync-To; signed sync writes
        BulkLayer,  # ?bulk-delete, ?extract-archive: one request per path, each checked
        FormPostLayer,  # signed browser uploads
        TempUrlLayer,  # signed object URLs
        StaticWebLayer,  # containers as web sites, its reads checked beneath as the caller's
        lambda app: AccessLayer(app, enforcer),  # policy rules and container ACLs
        lambda app: AccountQuotaLayer(app, enforcer),  # who sets them; uploads within them
        CopyLayer,  # PUT with X-Copy-From
        SloLayer,  # static large objects
        DloLayer,  # dynamic large objects
        VersioningLayer,  # X-Versions-Location, X-History-Location
        ObjectVersioningLayer,  # X-Versions-Enabled, ?version-id, ?versions
        SymlinkLayer,  # X-Symlink-Target
    ]


def build_stack(
    core: ObjectStore, enforcer: Enforcer, sync: SyncRealms | None = None
) -> ObjectStore:
    """The layers over ``core``; the top is what the API calls."""
    return stack(core, *reversed(LAYERS(enforcer, sync)))
