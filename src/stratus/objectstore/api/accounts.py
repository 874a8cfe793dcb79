"""Account handlers: HEAD (stats), GET (container listing), POST (metadata)."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api import listing
from stratus.objectstore.api.auth import authorize
from stratus.objectstore.api.headers import write_headers
from stratus.objectstore.errors import for_status
from stratus.objectstore.layers import bulk
from stratus.objectstore.service import ObjectStoreService


def svc(req: ApiRequest) -> ObjectStoreService:
    return req.service  # type: ignore[no-any-return]


def status_only(status: int, headers: dict[str, str] | None = None) -> Response:
    """A bodiless answer, or Swift's error for the status."""
    if status >= 300:
        raise for_status(status)
    return Response(b"", status, headers=headers, media_type=listing.PLAIN)


async def show(req: ApiRequest) -> Response:
    account = req.params["account"]
    await authorize(req, "object_store:get_account", account)
    resp = await svc(req).accounts.head(account)
    return status_only(resp.status, resp.headers)


async def index(req: ApiRequest) -> Response:
    account = req.params["account"]
    await authorize(req, "object_store:get_account", account)
    service = svc(req)
    query = listing.node_query(req.query, service.limits.account_listing_limit)
    media = listing.content_type(req.query, req.raw.headers.get("accept", ""))
    result = await service.accounts.get(account, query)
    if result.status >= 300:
        raise for_status(result.status)
    return listing.render(media, "account", account, result.entries, result.headers)


async def update(req: ApiRequest) -> Response:
    account = req.params["account"]
    if "bulk-delete" in req.raw.query_params:
        return await _bulk_delete(req, account)
    await authorize(req, "object_store:post_account", account)
    service = svc(req)
    headers = write_headers(req.raw.headers.items(), "account", service.limits)
    resp = await service.accounts.post(account, headers)
    return status_only(resp.status)


async def _bulk_delete(req: ApiRequest, account: str) -> Response:
    """``?bulk-delete``: each path deleted as its own DELETE would be."""
    from stratus.objectstore.api.objects import WRITE_ACL, delete_one

    paths = await bulk.read_paths(req)
    service = svc(req)

    async def one(container: str, obj: str | None) -> int:
        if obj is None:
            await authorize(req, "object_store:delete_container", account)
            return (await service.containers.delete(account, container)).status
        await authorize(req, "object_store:delete_object", account, container, acl=WRITE_ACL)
        return await delete_one(req, account, container, obj)

    outcome = await bulk.run(paths, one)
    return bulk.render(outcome, req.raw.headers.get("accept", ""))
