"""The object store's resource gauges for /metrics: objects and bytes per
account, read with the accounts' HEAD (what ``swift stat`` shows)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from stratus.common.metrics import GaugeFamily
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import count

MAX_ACCOUNTS = 1000  # a scrape reads at most this many accounts


async def gauges(
    service: ObjectStoreService, accounts: Callable[[], Awaitable[Iterable[str]]]
) -> list[GaugeFamily]:
    objects = GaugeFamily(
        "stratus_objectstore_account_objects", "Objects stored, per account.", ("account",)
    )
    size = GaugeFamily(
        "stratus_objectstore_account_bytes", "Bytes stored, per account.", ("account",)
    )
    containers = GaugeFamily(
        "stratus_objectstore_account_containers", "Containers, per account.", ("account",)
    )
    for n, account in enumerate(await accounts()):
        if n >= MAX_ACCOUNTS:
            break
        resp = await service.accounts.head(account)
        if resp.status >= 300 or count(resp.headers, "x-account-container-count") == 0:
            continue  # an account never used
        objects.samples.append(((account,), count(resp.headers, "x-account-object-count")))
        size.samples.append(((account,), count(resp.headers, "x-account-bytes-used")))
        containers.samples.append(((account,), count(resp.headers, "x-account-container-count")))
    return [objects, size, containers]
