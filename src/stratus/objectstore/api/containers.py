"""Container handlers: PUT, HEAD, GET (object listing), POST, DELETE."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api import listing
from stratus.objectstore.api.accounts import status_only, svc
from stratus.objectstore.api.auth import authorize
from stratus.objectstore.api.headers import write_headers
from stratus.objectstore.errors import BadRequest, for_status
from stratus.objectstore.layers import versioning
from stratus.objectstore.service.accounts import POLICY_NAME


def _names(req: ApiRequest) -> tuple[str, str]:
    return req.params["account"], req.params["container"]


def _headers(req: ApiRequest) -> dict[str, str]:
    policy = req.raw.headers.get("x-storage-policy")
    if policy is not None and policy.strip().lower() != POLICY_NAME.lower():
        raise BadRequest(f'Invalid X-Storage-Policy "{policy}"')
    headers = write_headers(req.raw.headers.items(), "container", svc(req).limits)
    versioning.check_headers(headers)
    return headers


async def create(req: ApiRequest) -> Response:
    account, container = _names(req)
    await authorize(req, "object_store:put_container", account)
    resp = await svc(req).containers.put(account, container, _headers(req))
    return status_only(resp.status)


async def show(req: ApiRequest) -> Response:
    account, container = _names(req)
    await authorize(
        req, "object_store:get_container", account, container, acl="x-container-read", listing=True
    )
    resp = await svc(req).containers.head(account, container)
    return status_only(resp.status, resp.headers)


async def index(req: ApiRequest) -> Response:
    account, container = _names(req)
    await authorize(
        req, "object_store:get_container", account, container, acl="x-container-read", listing=True
    )
    service = svc(req)
    query = listing.node_query(req.query, service.limits.container_listing_limit)
    media = listing.content_type(req.query, req.raw.headers.get("accept", ""))
    result = await service.containers.get(account, container, query)
    if result.status >= 300:
        raise for_status(result.status)
    for entry in result.entries:
        # A large object's listing ETag carries its own: "<md5>; slo_etag=<etag>".
        value = entry.get("hash")
        if isinstance(value, str) and ";" in value:
            entry["hash"], *params = (p.strip() for p in value.split(";"))
            for param in params:
                key, _, val = param.partition("=")
                if key == "slo_etag":
                    entry["slo_etag"] = f'"{val}"'
    return listing.render(media, "container", container, result.entries, result.headers)


async def update(req: ApiRequest) -> Response:
    account, container = _names(req)
    await authorize(req, "object_store:post_container", account)
    resp = await svc(req).containers.post(account, container, _headers(req))
    return status_only(resp.status)


async def delete(req: ApiRequest) -> Response:
    account, container = _names(req)
    await authorize(req, "object_store:delete_container", account)
    resp = await svc(req).containers.delete(account, container)
    return status_only(resp.status)
