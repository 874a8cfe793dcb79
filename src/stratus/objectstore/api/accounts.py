"""Account handlers: HEAD (stats), GET (container listing), POST (metadata),
and Swift's bulk requests: PUT ``?extract-archive=`` and DELETE ``?bulk-delete``
(accounts themselves are neither created nor deleted through the API)."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api import listing
from stratus.objectstore.api.render import answer, body_of, stats
from stratus.objectstore.api.request import caller_of, client_headers
from stratus.objectstore.errors import MethodNotAllowed, for_status
from stratus.objectstore.service.interface import ObjectStore


def store(req: ApiRequest[ObjectStore]) -> ObjectStore:
    app: ObjectStore = req.service
    return app


async def show(req: ApiRequest[ObjectStore]) -> Response:
    resp = await store(req).head_account(caller_of(req), req.params["account"])
    return stats(resp.status, resp.headers)


async def index(req: ApiRequest[ObjectStore]) -> Response:
    account = req.params["account"]
    query = listing.query_of(req.query)
    result = await store(req).list_account(caller_of(req), account, query)
    if result.status >= 300:
        raise for_status(result.status)
    media = listing.content_type(req.query, req.raw.headers.get("accept", ""))
    return listing.render(media, "account", account, result.entries, result.headers)


async def update(req: ApiRequest[ObjectStore]) -> Response:
    caller = caller_of(req)
    body = body_of(req.raw)
    headers = client_headers(req)
    resp = await store(req).post_account(
        caller, req.params["account"], headers, caller.params, body
    )
    return await answer(resp)


ALLOW = {"allow": "GET, HEAD, POST"}


async def extract(req: ApiRequest[ObjectStore]) -> Response:
    """PUT ``?extract-archive=`` here, at a container or below one."""
    caller = caller_of(req)
    if "extract-archive" not in caller.params:
        raise MethodNotAllowed(headers=ALLOW)
    base = "/".join(req.params[k] for k in ("container", "object") if k in req.params)
    resp = await store(req).extract_archive(
        caller, req.params["account"], base, client_headers(req), caller.params, body_of(req.raw)
    )
    return await answer(resp)


async def delete(req: ApiRequest[ObjectStore]) -> Response:
    """DELETE ``?bulk-delete``: the same as POST ``?bulk-delete``."""
    caller = caller_of(req)
    if "bulk-delete" not in caller.params:
        raise MethodNotAllowed(headers=ALLOW)
    resp = await store(req).post_account(
        caller, req.params["account"], client_headers(req), caller.params, body_of(req.raw)
    )
    return await answer(resp)
