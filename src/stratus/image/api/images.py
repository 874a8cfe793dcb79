"""Image records, tags, members, deactivation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.image.api import views
from stratus.image.api.schemas import ImageListQuery
from stratus.image.errors import BadRequest
from stratus.image.service import ImageService
from stratus.image.service.image_query import SORTABLE, ListParams

MAX_LIMIT = 1000
KNOWN_QUERY = set(ImageListQuery.model_fields) | {"tag"}


def _bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"Invalid value for {key}: {value!r} is not a boolean.")


def _sort(q: ImageListQuery, keys: list[str], dirs: list[str]) -> list[tuple[str, str]]:
    if q.sort is not None:
        if keys or dirs:
            raise BadRequest("Use either sort or sort_key/sort_dir, not both.")
        pairs = []
        for part in q.sort.split(","):
            key, _, direction = part.strip().partition(":")
            pairs.append((key, direction or "desc"))
    else:
        keys = keys or ["created_at"]
        dirs = dirs or ["desc"]
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        if len(dirs) != len(keys):
            raise BadRequest("Give one sort_dir, or one per sort_key.")
        pairs = list(zip(keys, dirs, strict=True))
    for key, direction in pairs:
        if key not in SORTABLE:
            raise BadRequest(f"Invalid sort key {key!r}.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction {direction!r}: asc or desc.")
    return pairs


async def index(req: ApiRequest[ImageService]) -> Response:
    req.authorize("image:get_images")
    q: ImageListQuery = req.query
    raw = req.raw.query_params
    filters: dict[str, Any] = {
        k: v
        for k, v in {
            "name": q.name,
            "status": q.status,
            "visibility": q.visibility,
            "owner": q.owner,
            "id": q.id,
            "disk_format": q.disk_format,
            "container_format": q.container_format,
            "size_min": q.size_min,
            "size_max": q.size_max,
            "size": q.size,
            "virtual_size": q.virtual_size,
            "min_disk": q.min_disk,
            "min_ram": q.min_ram,
            "checksum": q.checksum,
            "os_hash_value": q.os_hash_value,
            "created_at": q.created_at,
            "updated_at": q.updated_at,
        }.items()
        if v is not None
    }
    if q.member_status is not None:
        if q.member_status not in ("pending", "accepted", "rejected", "all"):
            raise BadRequest(f"Invalid member_status {q.member_status!r}.")
        filters["member_status"] = q.member_status
    for key in ("protected", "os_hidden"):
        value = getattr(q, key)
        if value is not None:
            filters[key] = _bool(key, value)
    properties = {k: v for k, v in raw.items() if k not in KNOWN_QUERY}
    params = ListParams(
        filters=filters,
        properties=properties,
        tags=raw.getlist("tag"),
        sort=_sort(q, raw.getlist("sort_key"), raw.getlist("sort_dir")),
        limit=min(q.limit, MAX_LIMIT),
        marker=q.marker,
    )
    rows, next_marker = await req.service.images.list_images(req.ctx, params)
    body: dict[str, Any] = {
        "images": [views.image(i) for i in rows],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if next_marker is not None:
        query = [(k, v) for k, v in raw.multi_items() if k != "marker"]
        query.append(("marker", next_marker))
        body["next"] = f"/v2/images?{urlencode(query)}"
    return json_response(body)


async def show(req: ApiRequest[ImageService]) -> Response:
    image = await req.service.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:get_image", {"project_id": image.owner})
    return json_response(views.image(image))


async def create(req: ApiRequest[ImageService]) -> Response:
    attrs = req.body.image.model_dump()
    owner = attrs.get("owner") or req.ctx.project_id
    req.authorize("image:add_image", {"project_id": owner})
    image = await req.service.images.create(
        req.ctx,
        attrs,
        may_set_owner=req.allowed("image:set_owner", {"project_id": owner}),
        may_publicize=req.allowed("image:publicize_image", {"project_id": owner}),
    )
    return json_response(
        views.image(image), status=201, headers={"Location": f"{req.base_url}/v2/images/{image.id}"}
    )


async def update(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    target = {"project_id": image.owner}
    req.authorize("image:modify_image", target)
    ops = [op.model_dump(exclude_unset=True) for op in req.body.ops]
    updated = await svc.images.update(
        req.ctx,
        image.id,
        ops,
        may_publicize=req.allowed("image:publicize_image", target),
        may_set_owner=req.allowed("image:set_owner", target),
    )
    return json_response(views.image(updated))


async def delete(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:delete_image", {"project_id": image.owner})
    deleted = await svc.images.delete(req.ctx, image.id)
    await svc.data.delete_data(deleted)
    return empty_response()


async def deactivate(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:deactivate", {"project_id": image.owner})
    await svc.images.set_status(req.ctx, image.id, "deactivated")
    return empty_response()


async def reactivate(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:reactivate", {"project_id": image.owner})
    await svc.images.set_status(req.ctx, image.id, "active")
    return empty_response()


async def tag_add(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:modify_image", {"project_id": image.owner})
    await svc.images.add_tag(req.ctx, image.id, req.params["tag"])
    return empty_response()


async def tag_delete(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:modify_image", {"project_id": image.owner})
    await svc.images.delete_tag(req.ctx, image.id, req.params["tag"])
    return empty_response()


# -- members ---------------------------------------------------------------------------


async def member_index(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:get_members", {"project_id": image.owner})
    rows = await svc.images.members(req.ctx, image.id)
    return json_response(
        {"members": [views.member(r) for r in rows], "schema": "/v2/schemas/members"}
    )


async def member_show(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:get_member", {"project_id": image.owner})
    row = await svc.images.member(req.ctx, image.id, req.params["member_id"])
    return json_response(views.member(row))


async def member_create(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:add_member", {"project_id": image.owner})
    row = await svc.images.add_member(req.ctx, image.id, req.body.member)
    return json_response(views.member(row))


async def member_update(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    member_id = req.params["member_id"]
    req.authorize("image:modify_member", {"project_id": image.owner, "member_id": member_id})
    row = await svc.images.update_member(req.ctx, image.id, member_id, req.body.status)
    return json_response(views.member(row))


async def member_delete(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:delete_member", {"project_id": image.owner})
    await svc.images.delete_member(req.ctx, image.id, req.params["member_id"])
    return empty_response()
