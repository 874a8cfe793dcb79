"""Container handlers: PUT, HEAD, GET (object listing), POST, DELETE."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api import accounts, listing
from stratus.objectstore.api.accounts import store
from stratus.objectstore.api.render import answer, body_of, page, stats, status_only
from stratus.objectstore.api.request import caller_of, client_headers
from stratus.objectstore.errors import for_status
from stratus.objectstore.service.interface import PAGE, ObjectStore


async def create(req: ApiRequest[ObjectStore]) -> Response:
    if "extract-archive" in caller_of(req).params:
        return await accounts.extract(req)
    account, container = req.params["account"], req.params["container"]
    headers = client_headers(req)
    resp = await store(req).put_container(caller_of(req), account, container, headers)
    return status_only(resp.status)


async def show(req: ApiRequest[ObjectStore]) -> Response:
    account, container = req.params["account"], req.params["container"]
    resp = await store(req).head_container(caller_of(req), account, container)
    if PAGE in resp.headers:
        return await page(resp)
    return stats(resp.status, resp.headers)


async def index(req: ApiRequest[ObjectStore]) -> Response:
    account, container = req.params["account"], req.params["container"]
    query = listing.query_of(req.query)
    result = await store(req).list_container(caller_of(req), account, container, query)
    if result.page is not None:
        return await page(result.page)
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
    media = listing.content_type(req.query, req.raw.headers.get("accept", ""))
    return listing.render(media, "container", container, result.entries, result.headers)


async def update(req: ApiRequest[ObjectStore]) -> Response:
    caller = caller_of(req)
    account, container = req.params["account"], req.params["container"]
    headers = client_headers(req)
    body = body_of(req.raw)
    resp = await store(req).post_container(caller, account, container, headers, caller.params, body)
    return await answer(resp)


async def delete(req: ApiRequest[ObjectStore]) -> Response:
    account, container = req.params["account"], req.params["container"]
    resp = await store(req).delete_container(caller_of(req), account, container)
    return status_only(resp.status)
