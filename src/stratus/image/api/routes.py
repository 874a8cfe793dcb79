"""The image routes table."""

from __future__ import annotations

from stratus.common.api import NoBody, RawBody, Route
from stratus.image.api import data, discovery, images, tasks
from stratus.image.api import schemas as s

ROUTES: list[Route] = [
    Route("GET", "/", discovery.versions, public=True),
    Route("GET", "/versions", discovery.versions_list, public=True),
    Route("GET", "/v2/schemas/{name}", discovery.schema),
    Route("GET", "/v2/info/import", data.import_info),
    Route("GET", "/v2/info/stores", data.stores_info),
    Route("GET", "/v2/images", images.index, query=s.ImageListQuery),
    Route("POST", "/v2/images", images.create, body=s.ImageCreateBody),
    Route("GET", "/v2/images/{image_id}", images.show),
    Route(
        "PATCH",
        "/v2/images/{image_id}",
        images.update,
        body=s.PatchBody,
        content_types=s.PATCH_TYPES,
    ),
    Route("DELETE", "/v2/images/{image_id}", images.delete),
    Route(
        "PUT", "/v2/images/{image_id}/file", data.upload, body=RawBody, content_types=s.DATA_TYPES
    ),
    Route("GET", "/v2/images/{image_id}/file", data.download),
    Route(
        "PUT", "/v2/images/{image_id}/stage", data.stage, body=RawBody, content_types=s.DATA_TYPES
    ),
    Route("POST", "/v2/images/{image_id}/import", data.import_, body=s.ImportBody),
    Route("POST", "/v2/images/{image_id}/actions/deactivate", images.deactivate, body=NoBody),
    Route("POST", "/v2/images/{image_id}/actions/reactivate", images.reactivate, body=NoBody),
    Route("PUT", "/v2/images/{image_id}/tags/{tag}", images.tag_add),
    Route("DELETE", "/v2/images/{image_id}/tags/{tag}", images.tag_delete),
    Route("GET", "/v2/images/{image_id}/members", images.member_index),
    Route("POST", "/v2/images/{image_id}/members", images.member_create, body=s.MemberCreate),
    Route("GET", "/v2/images/{image_id}/members/{member_id}", images.member_show),
    Route(
        "PUT",
        "/v2/images/{image_id}/members/{member_id}",
        images.member_update,
        body=s.MemberUpdate,
    ),
    Route("DELETE", "/v2/images/{image_id}/members/{member_id}", images.member_delete),
    Route("GET", "/v2/images/{image_id}/tasks", tasks.image_tasks),
    Route("GET", "/v2/tasks", tasks.index),
    Route("GET", "/v2/tasks/{task_id}", tasks.show),
]
