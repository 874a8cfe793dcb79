"""Nova's image proxy (``/images``, up to microversion 2.35): the image
service's records in Nova's shape.  The image service decides who may see
or delete what; from 2.36 the proxy is gone (404), as in Nova."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from starlette.responses import Response

from stratus.common.api import ApiRequest, Query, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute.errors import NotFound
from stratus.compute.service import ComputeService

Req = ApiRequest[ComputeService]
LAST = Version.parse("2.35")
STATUSES = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "importing": "SAVING",
    "uploading": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "uploading": 50, "importing": 50, "active": 100}
# The image service's own fields; everything else is the image's metadata.
CORE = {
    "id", "name", "status", "visibility", "protected", "checksum", "owner", "size",
    "virtual_size", "min_ram", "min_disk", "created_at", "updated_at", "tags",
    "container_format", "disk_format", "os_hidden", "os_hash_algo", "os_hash_value",
    "self", "file", "schema", "direct_url", "locations", "stores",
}  # fmt: skip


class ImageListQuery(Query):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str | None = None
    status: str | None = None
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None


def _proxy(req: Req) -> None:
    assert req.version is not None
    if req.version > LAST:
        raise NotFound("The image proxy API was removed in microversion 2.36.")
    req.authorize("compute:images")


def _links(req: Req, image_id: str) -> list[dict[str, str]]:
    root = req.base_url.rsplit("/v2.1", 1)[0]
    return [
        {"rel": "self", "href": f"{req.base_url}/images/{image_id}"},
        {"rel": "bookmark", "href": f"{root}/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{req.service.images.base}/images/{image_id}",
        },
    ]


def brief(req: Req, image: dict[str, Any]) -> dict[str, Any]:
    return {"id": image["id"], "name": image.get("name"), "links": _links(req, image["id"])}


def detail(req: Req, image: dict[str, Any]) -> dict[str, Any]:
    state = str(image.get("status", ""))
    metadata = {k: v for k, v in image.items() if k not in CORE}
    out: dict[str, Any] = {
        **brief(req, image),
        "status": STATUSES.get(state, "UNKNOWN"),
        "progress": PROGRESS.get(state, 0),
        "minRam": int(image.get("min_ram") or 0),
        "minDisk": int(image.get("min_disk") or 0),
        "created": image.get("created_at"),
        "updated": image.get("updated_at"),
        "metadata": metadata,
        "OS-EXT-IMG-SIZE:size": image.get("size"),
    }
    server = metadata.get("instance_uuid")
    if isinstance(server, str) and server:
        root = req.base_url.rsplit("/v2.1", 1)[0]
        out["server"] = {
            "id": server,
            "links": [
                {"rel": "self", "href": f"{req.base_url}/servers/{server}"},
                {"rel": "bookmark", "href": f"{root}/servers/{server}"},
            ],
        }
    return out


def _query(req: Req) -> dict[str, str]:
    q: ImageListQuery = req.query
    return {k: str(v) for k, v in q.model_dump(exclude_none=True).items()}


async def index(req: Req) -> Response:
    _proxy(req)
    images = await req.service.image_proxy.list(req.ctx, _query(req))
    return json_response({"images": [brief(req, i) for i in images]})


async def index_detail(req: Req) -> Response:
    _proxy(req)
    images = await req.service.image_proxy.list(req.ctx, _query(req))
    return json_response({"images": [detail(req, i) for i in images]})


async def show(req: Req) -> Response:
    _proxy(req)
    image = await req.service.image_proxy.get(req.ctx, req.params["image_id"])
    return json_response({"image": detail(req, image)})


async def delete(req: Req) -> Response:
    _proxy(req)
    await req.service.image_proxy.delete(req.ctx, req.params["image_id"])
    return empty_response(204)
