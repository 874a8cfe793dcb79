"""Rendering the metadata definitions catalogue in Glance's JSON shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.image import models as m
from stratus.image.api.views import isotime
from stratus.image.service.metadefs import Contents

NS_PATH = "/v2/metadefs/namespaces"


def _times(row: Any) -> dict[str, str | None]:
    return {"created_at": isotime(row.created_at), "updated_at": isotime(row.updated_at)}


def namespace(
    ns: m.MetadefNamespace,
    contents: Contents | None = None,
    resource_type: str | None = None,
    associations: list[m.MetadefResourceType] | None = None,
) -> dict[str, Any]:
    """With ``resource_type``, property names carry that association's
    prefix, as they are written on a resource of that type (Glance's
    ``?resource_type=``)."""
    body: dict[str, Any] = {
        "namespace": ns.namespace,
        "display_name": ns.display_name,
        "description": ns.description,
        "visibility": ns.visibility,
        "protected": ns.protected,
        "owner": ns.owner,
        **_times(ns),
        "self": f"{NS_PATH}/{ns.namespace}",
        "schema": "/v2/schemas/metadefs/namespace",
    }
    # Glance leaves out what is unset.
    body = {k: v for k, v in body.items() if v is not None}
    if associations:
        body["resource_type_associations"] = [association(a) for a in associations]
    if contents is not None:
        if contents.associations:
            body["resource_type_associations"] = [association(a) for a in contents.associations]
        prefix = next(
            (a.prefix or "" for a in contents.associations if a.name == resource_type), ""
        )
        if contents.properties:
            body["properties"] = {prefix + p.name: p.schema for p in contents.properties}
        if contents.objects:
            body["objects"] = [obj(ns.namespace, o, links=False) for o in contents.objects]
            if prefix:
                for o in body["objects"]:
                    o["properties"] = {prefix + k: v for k, v in o["properties"].items()}
        if contents.tags:
            body["tags"] = [{"name": t.name} for t in contents.tags]
    return body


def association(a: m.MetadefResourceType) -> dict[str, Any]:
    body = {"name": a.name, "prefix": a.prefix, "properties_target": a.properties_target}
    return {**{k: v for k, v in body.items() if v is not None}, **_times(a)}


def resource_type(name: str, created: datetime | None) -> dict[str, Any]:
    return {"name": name, "created_at": isotime(created), "updated_at": isotime(created)}


def obj(ns_name: str, o: m.MetadefObject, links: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": o.name,
        "required": o.required,
        "properties": o.properties,
        **_times(o),
    }
    if o.description is not None:
        body["description"] = o.description
    if links:
        body["self"] = f"{NS_PATH}/{ns_name}/objects/{o.name}"
        body["schema"] = "/v2/schemas/metadefs/object"
    return body


def prop(p: m.MetadefProperty) -> dict[str, Any]:
    return {"name": p.name, **p.schema}


def tag(t: m.MetadefTag) -> dict[str, Any]:
    return {"name": t.name, **_times(t)}
