"""The image routes table."""

from __future__ import annotations

from pydantic import BaseModel

from stratus.common.api import Handler, NoBody, NoQuery, RawBody, Route
from stratus.image.api import data, discovery, images, metadefs, tasks
from stratus.image.api import metadef_schemas as ms
from stratus.image.api import schemas as s

_METADEFS: list[tuple[str, str, Handler, type[BaseModel], type[BaseModel]]] = [
    ("GET", "/resource_types", metadefs.resource_type_index, NoBody, NoQuery),
    ("GET", "/namespaces", metadefs.namespace_index, NoBody, ms.NamespaceListQuery),
    ("POST", "/namespaces", metadefs.namespace_create, ms.NamespaceBody, NoQuery),
    ("GET", "/namespaces/{namespace}", metadefs.namespace_show, NoBody, ms.NamespaceShowQuery),
    (
        "PUT",
        "/namespaces/{namespace}",
        metadefs.namespace_update,
        ms.NamespaceBody,
        NoQuery,
    ),
    ("DELETE", "/namespaces/{namespace}", metadefs.namespace_delete, NoBody, NoQuery),
    (
        "GET",
        "/namespaces/{namespace}/resource_types",
        metadefs.association_index,
        NoBody,
        NoQuery,
    ),
    (
        "POST",
        "/namespaces/{namespace}/resource_types",
        metadefs.association_create,
        ms.AssociationBody,
        NoQuery,
    ),
    (
        "DELETE",
        "/namespaces/{namespace}/resource_types/{resource_type}",
        metadefs.association_delete,
        NoBody,
        NoQuery,
    ),
    ("GET", "/namespaces/{namespace}/objects", metadefs.object_index, NoBody, NoQuery),
    (
        "POST",
        "/namespaces/{namespace}/objects",
        metadefs.object_create,
        ms.ObjectBody,
        NoQuery,
    ),
    ("DELETE", "/namespaces/{namespace}/objects", metadefs.object_delete, NoBody, NoQuery),
    (
        "GET",
        "/namespaces/{namespace}/objects/{object}",
        metadefs.object_show,
        NoBody,
        NoQuery,
    ),
    (
        "PUT",
        "/namespaces/{namespace}/objects/{object}",
        metadefs.object_update,
        ms.ObjectBody,
        NoQuery,
    ),
    (
        "DELETE",
        "/namespaces/{namespace}/objects/{object}",
        metadefs.object_delete,
        NoBody,
        NoQuery,
    ),
    (
        "GET",
        "/namespaces/{namespace}/properties",
        metadefs.property_index,
        NoBody,
        NoQuery,
    ),
    (
        "POST",
        "/namespaces/{namespace}/properties",
        metadefs.property_create,
        ms.PropertyBody,
        NoQuery,
    ),
    (
        "DELETE",
        "/namespaces/{namespace}/properties",
        metadefs.property_delete,
        NoBody,
        NoQuery,
    ),
    (
        "GET",
        "/namespaces/{namespace}/properties/{property}",
        metadefs.property_show,
        NoBody,
        NoQuery,
    ),
    (
        "PUT",
        "/namespaces/{namespace}/properties/{property}",
        metadefs.property_update,
        ms.PropertyBody,
        NoQuery,
    ),
    (
        "DELETE",
        "/namespaces/{namespace}/properties/{property}",
        metadefs.property_delete,
        NoBody,
        NoQuery,
    ),
    ("GET", "/namespaces/{namespace}/tags", metadefs.tag_index, NoBody, NoQuery),
    ("POST", "/namespaces/{namespace}/tags", metadefs.tags_create, ms.TagsBody, NoQuery),
    ("DELETE", "/namespaces/{namespace}/tags", metadefs.tags_delete, NoBody, NoQuery),
    ("GET", "/namespaces/{namespace}/tags/{tag}", metadefs.tag_show, NoBody, NoQuery),
    ("POST", "/namespaces/{namespace}/tags/{tag}", metadefs.tag_create, NoBody, NoQuery),
    (
        "PUT",
        "/namespaces/{namespace}/tags/{tag}",
        metadefs.tag_update,
        ms.TagBody,
        NoQuery,
    ),
    (
        "DELETE",
        "/namespaces/{namespace}/tags/{tag}",
        metadefs.tag_delete,
        NoBody,
        NoQuery,
    ),
]

ROUTES: list[Route] = [
    Route("GET", "/", discovery.versions, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/versions", discovery.versions_list, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v2/schemas/{name}", discovery.schema, body=NoBody, query=NoQuery),
    Route(
        "GET", "/v2/schemas/metadefs/{name}", discovery.metadef_schema, body=NoBody, query=NoQuery
    ),
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
    *[
        Route(method, f"/v2/metadefs{path}", handler, body=body, query=query)
        for method, path, handler, body, query in _METADEFS
    ],
]
