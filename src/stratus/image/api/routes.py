"""The image routes table."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, RawBody, Route
from stratus.image.api import data, discovery, images, tasks
from stratus.image.api import schemas as s

ROUTES: list[Route] = [
    Route("GET", "/", discovery.versions, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/versions", discovery.versions_list, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v2/schemas/{name}", discovery.schema, body=NoBody, query=NoQuery),
    Route("GET", "/v2/info/import", data.import_info, body=NoBody, query=NoQuery),
    Route("GET", "/v2/info/stores", data.stores_info, body=NoBody, query=NoQuery),
    Route("GET", "/v2/images", images.index, body=NoBody, query=s.ImageListQuery),
    Route("POST", "/v2/images", images.create, query=NoQuery, body=s.ImageCreateBody),
    Route("GET", "/v2/images/{image_id}", images.show, body=NoBody, query=NoQuery),
    Route(
        "PATCH",
        "/v2/images/{image_id}",
        images.update,
        query=NoQuery,
        body=s.PatchBody,
        content_types=s.PATCH_TYPES,
    ),
    Route("DELETE", "/v2/images/{image_id}", images.delete, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        "/v2/images/{image_id}/file",
        data.upload,
        query=NoQuery,
        body=RawBody,
        content_types=s.DATA_TYPES,
    ),
    Route("GET", "/v2/images/{image_id}/file", data.download, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        "/v2/images/{image_id}/stage",
        data.stage,
        query=NoQuery,
        body=RawBody,
        content_types=s.DATA_TYPES,
    ),
    Route("POST", "/v2/images/{image_id}/import", data.import_, query=NoQuery, body=s.ImportBody),
    Route(
        "POST",
        "/v2/images/{image_id}/actions/deactivate",
        images.deactivate,
        query=NoQuery,
        body=NoBody,
    ),
    Route(
        "POST",
        "/v2/images/{image_id}/actions/reactivate",
        images.reactivate,
        query=NoQuery,
        body=NoBody,
    ),
    Route("PUT", "/v2/images/{image_id}/tags/{tag}", images.tag_add, body=NoBody, query=NoQuery),
    Route(
        "DELETE", "/v2/images/{image_id}/tags/{tag}", images.tag_delete, body=NoBody, query=NoQuery
    ),
    Route("GET", "/v2/images/{image_id}/members", images.member_index, body=NoBody, query=NoQuery),
    Route(
        "POST",
        "/v2/images/{image_id}/members",
        images.member_create,
        query=NoQuery,
        body=s.MemberCreate,
    ),
    Route(
        "GET",
        "/v2/images/{image_id}/members/{member_id}",
        images.member_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v2/images/{image_id}/members/{member_id}",
        images.member_update,
        query=NoQuery,
        body=s.MemberUpdate,
    ),
    Route(
        "DELETE",
        "/v2/images/{image_id}/members/{member_id}",
        images.member_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route("GET", "/v2/images/{image_id}/tasks", tasks.image_tasks, body=NoBody, query=NoQuery),
    Route("GET", "/v2/tasks", tasks.index, body=NoBody, query=NoQuery),
    Route("GET", "/v2/tasks/{task_id}", tasks.show, body=NoBody, query=NoQuery),
]
