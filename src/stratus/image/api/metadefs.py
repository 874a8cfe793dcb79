"""The metadata definitions API (/v2/metadefs): namespaces, resource type
associations, objects, properties and tags."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.image import models as m
from stratus.image.api import metadef_views as views
from stratus.image.api.metadef_schemas import NamespaceListQuery
from stratus.image.errors import BadRequest
from stratus.image.service import ImageService
from stratus.image.service.metadefs import NamespaceQuery

MAX_LIMIT = 1000


def _ns(req: ApiRequest[ImageService]) -> str:
    return req.params["namespace"]


async def _authorize(req: ApiRequest[ImageService], action: str) -> m.MetadefNamespace:
    """The namespace of the URL (404 when not visible), then the rule."""
    ns = await req.service.metadefs.namespace(req.ctx, _ns(req))
    req.authorize(f"image:{action}", {"project_id": ns.owner})
    return ns


def _created(body: dict[str, Any], location: str) -> Response:
    return json_response(body, status=201, headers={"Location": location})


# -- namespaces ------------------------------------------------------------------------


async def namespace_index(req: ApiRequest[ImageService]) -> Response:
    req.authorize("image:get_metadef_namespaces")
    q: NamespaceListQuery = req.query
    query = NamespaceQuery(
        limit=min(q.limit, MAX_LIMIT),
        marker=q.marker,
        sort_key=q.sort_key,
        sort_dir=q.sort_dir,
        visibility=q.visibility,
        resource_types=[x.strip() for x in (q.resource_types or "").split(",") if x.strip()],
    )
    rows, next_marker = await req.service.metadefs.list_namespaces(req.ctx, query)
    assocs = await req.service.metadefs.associations_of(rows)
    body: dict[str, Any] = {
        "namespaces": [views.namespace(ns, associations=assocs[ns.id]) for ns in rows],
        "first": views.NS_PATH,
        "schema": "/v2/schemas/metadefs/namespaces",
    }
    if next_marker is not None:
        params = [(k, v) for k, v in req.raw.query_params.multi_items() if k != "marker"]
        params.append(("marker", next_marker))
        body["next"] = f"{views.NS_PATH}?{urlencode(params)}"
    return json_response(body)


async def namespace_show(req: ApiRequest[ImageService]) -> Response:
    ns = await _authorize(req, "get_metadef_namespace")
    contents = await req.service.metadefs.contents(ns)
    return json_response(views.namespace(ns, contents, req.query.resource_type))


async def namespace_create(req: ApiRequest[ImageService]) -> Response:
    attrs = req.body.model_dump(exclude_unset=True)
    if attrs.get("tags"):
        attrs["tags"] = [t if isinstance(t, dict) else {"name": t} for t in attrs["tags"]]
    owner = attrs.get("owner") or req.ctx.project_id
    req.authorize("image:add_metadef_namespace", {"project_id": owner})
    ns = await req.service.metadefs.create_namespace(req.ctx, attrs)
    contents = await req.service.metadefs.contents(ns)
    return _created(views.namespace(ns, contents), f"{req.base_url}{views.NS_PATH}/{ns.namespace}")


async def namespace_update(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "modify_metadef_namespace")
    # A PUT: what the body leaves out goes back to its default, as in Glance.
    attrs = req.body.model_dump(include={"namespace", "display_name", "description"})
    attrs["visibility"] = req.body.visibility
    attrs["protected"] = req.body.protected
    attrs["owner"] = req.body.owner
    ns = await req.service.metadefs.update_namespace(req.ctx, _ns(req), attrs)
    return json_response(views.namespace(ns))


async def namespace_delete(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "delete_metadef_namespace")
    await req.service.metadefs.delete_namespace(req.ctx, _ns(req))
    return empty_response()


# -- resource types --------------------------------------------------------------------


async def resource_type_index(req: ApiRequest[ImageService]) -> Response:
    req.authorize("image:list_metadef_resource_types")
    rows = await req.service.metadefs.resource_types()
    return json_response({"resource_types": [views.resource_type(n, c) for n, c in rows]})


async def association_index(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_resource_type")
    rows = await req.service.metadefs.associations(req.ctx, _ns(req))
    return json_response({"resource_type_associations": [views.association(a) for a in rows]})


async def association_create(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "add_metadef_resource_type_association")
    attrs = req.body.model_dump(exclude_unset=True)
    row = await req.service.metadefs.associate(req.ctx, _ns(req), attrs)
    return _created(
        views.association(row), f"{req.base_url}{views.NS_PATH}/{_ns(req)}/resource_types"
    )


async def association_delete(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "remove_metadef_resource_type_association")
    await req.service.metadefs.dissociate(req.ctx, _ns(req), req.params["resource_type"])
    return empty_response()


# -- objects ---------------------------------------------------------------------------


def _object_attrs(req: ApiRequest[ImageService]) -> dict[str, Any]:
    body = req.body
    return {
        "name": body.name,
        "description": body.description,
        "required": body.required or [],
        "properties": {
            k: v.model_dump(exclude_unset=True) for k, v in (body.properties or {}).items()
        },
    }


async def object_index(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_objects")
    rows = await req.service.metadefs.items(req.ctx, _ns(req), m.MetadefObject)
    return json_response(
        {
            "objects": [views.obj(_ns(req), o) for o in rows],
            "first": f"{views.NS_PATH}/{_ns(req)}/objects",
            "schema": "/v2/schemas/metadefs/objects",
        }
    )


async def object_show(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_object")
    row = await req.service.metadefs.item(req.ctx, _ns(req), m.MetadefObject, req.params["object"])
    return json_response(views.obj(_ns(req), row))


async def object_create(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "add_metadef_object")
    row = await req.service.metadefs.add_item(
        req.ctx, _ns(req), m.MetadefObject, _object_attrs(req)
    )
    body = views.obj(_ns(req), row)
    return _created(body, f"{req.base_url}{body['self']}")


async def object_update(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "modify_metadef_object")
    row = await req.service.metadefs.update_item(
        req.ctx, _ns(req), m.MetadefObject, req.params["object"], _object_attrs(req)
    )
    return json_response(views.obj(_ns(req), row))


async def object_delete(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "delete_metadef_object")
    await req.service.metadefs.delete_item(
        req.ctx, _ns(req), m.MetadefObject, req.params.get("object")
    )
    return empty_response()


# -- properties ------------------------------------------------------------------------


def _property_attrs(req: ApiRequest[ImageService]) -> dict[str, Any]:
    definition = req.body.model_dump(exclude_unset=True)
    return {"name": definition.pop("name"), "schema": definition}


async def property_index(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_properties")
    rows = await req.service.metadefs.items(req.ctx, _ns(req), m.MetadefProperty)
    return json_response(
        {
            "properties": {p.name: p.schema for p in rows},
            "first": f"{views.NS_PATH}/{_ns(req)}/properties",
            "schema": "/v2/schemas/metadefs/properties",
        }
    )


async def property_show(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_property")
    row = await req.service.metadefs.item(
        req.ctx, _ns(req), m.MetadefProperty, req.params["property"]
    )
    return json_response(views.prop(row))


async def property_create(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "add_metadef_property")
    row = await req.service.metadefs.add_item(
        req.ctx, _ns(req), m.MetadefProperty, _property_attrs(req)
    )
    return _created(
        views.prop(row), f"{req.base_url}{views.NS_PATH}/{_ns(req)}/properties/{row.name}"
    )


async def property_update(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "modify_metadef_property")
    row = await req.service.metadefs.update_item(
        req.ctx, _ns(req), m.MetadefProperty, req.params["property"], _property_attrs(req)
    )
    return json_response(views.prop(row))


async def property_delete(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "remove_metadef_property")
    await req.service.metadefs.delete_item(
        req.ctx, _ns(req), m.MetadefProperty, req.params.get("property")
    )
    return empty_response()


# -- tags ------------------------------------------------------------------------------


async def tag_index(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_tags")
    rows = await req.service.metadefs.items(req.ctx, _ns(req), m.MetadefTag)
    return json_response({"tags": [views.tag(t) for t in rows]})


async def tag_show(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "get_metadef_tag")
    row = await req.service.metadefs.item(req.ctx, _ns(req), m.MetadefTag, req.params["tag"])
    return json_response(views.tag(row))


def _tag_name(name: str) -> str:
    if not 0 < len(name) <= 255:
        raise BadRequest("A tag's name has 1 to 255 characters.")
    return name


async def tag_create(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "add_metadef_tag")
    _tag_name(req.params["tag"])
    row = await req.service.metadefs.add_item(
        req.ctx, _ns(req), m.MetadefTag, {"name": req.params["tag"]}
    )
    return _created(views.tag(row), f"{req.base_url}{views.NS_PATH}/{_ns(req)}/tags/{row.name}")


async def tags_create(req: ApiRequest[ImageService]) -> Response:
    """POST .../tags: replaces the namespace's tags, or adds to them with
    ``X-Openstack-Append: true``."""
    await _authorize(req, "add_metadef_tags")
    append = req.raw.headers.get("x-openstack-append", "").lower() == "true"
    names = [t.name for t in req.body.tags]
    rows = await req.service.metadefs.replace_tags(req.ctx, _ns(req), names, append)
    return json_response({"tags": [{"name": t.name} for t in rows]}, status=201)


async def tag_update(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "modify_metadef_tag")
    row = await req.service.metadefs.update_item(
        req.ctx, _ns(req), m.MetadefTag, req.params["tag"], {"name": req.body.name}
    )
    return json_response(views.tag(row))


async def tag_delete(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "delete_metadef_tag")
    await req.service.metadefs.delete_item(req.ctx, _ns(req), m.MetadefTag, req.params.get("tag"))
    return empty_response()


async def tags_delete(req: ApiRequest[ImageService]) -> Response:
    await _authorize(req, "delete_metadef_tags")
    await req.service.metadefs.delete_item(req.ctx, _ns(req), m.MetadefTag, None)
    return empty_response()
