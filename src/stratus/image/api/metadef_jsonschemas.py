"""The JSON schema documents of the metadata definitions catalogue, served
under /v2/schemas/metadefs (their names and shapes follow Glance's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TYPES = ["array", "boolean", "integer", "number", "object", "string", None]


def _definitions() -> dict[str, Any]:
    return {
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {
            "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]
        },
        "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "property": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["title", "type"],
                "properties": _property_fields(),
            },
        },
    }


def _times() -> dict[str, Any]:
    return {
        "created_at": {"type": "string", "readOnly": True, "format": "date-time"},
        "updated_at": {"type": "string", "readOnly": True, "format": "date-time"},
    }


def _property_fields() -> dict[str, Any]:
    return {
        "name": {"type": "string", "maxLength": 255},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": TYPES},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": TYPES}, "enum": {"type": "array"}},
        },
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    }


def _plural(name: str, key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
        "properties": {
            key: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
    }


def association() -> dict[str, Any]:
    return {
        "name": "resource_type_association",
        "properties": {
            "name": {"type": "string", "maxLength": 80, "description": "A resource type"},
            "prefix": {"type": "string", "maxLength": 80},
            "properties_target": {"type": "string", "maxLength": 80},
            **_times(),
        },
        "required": ["name"],
        "additionalProperties": False,
    }


def namespace() -> dict[str, Any]:
    return {
        "name": "namespace",
        "properties": {
            "namespace": {"type": "string", "maxLength": 80, "description": "The unique name"},
            "display_name": {"type": "string", "maxLength": 80},
            "description": {"type": "string", "maxLength": 500},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "protected": {"type": "boolean"},
            "owner": {"type": "string", "maxLength": 255},
            **_times(),
            "schema": {"type": "string", "readOnly": True},
            "self": {"type": "string", "readOnly": True},
            "resource_type_associations": {"type": "array", "items": association()},
            "properties": {"$ref": "#/definitions/property"},
            "objects": {"type": "array", "items": obj()},
            "tags": {"type": "array", "items": tag()},
        },
        "required": ["namespace"],
        "additionalProperties": False,
        "definitions": _definitions(),
    }


def obj() -> dict[str, Any]:
    return {
        "name": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            **_times(),
            "schema": {"type": "string", "readOnly": True},
            "self": {"type": "string", "readOnly": True},
        },
        "required": ["name"],
        "additionalProperties": False,
        "definitions": _definitions(),
    }


def prop() -> dict[str, Any]:
    return {
        "name": "property",
        "properties": _property_fields(),
        "required": ["name", "title", "type"],
        "additionalProperties": False,
        "definitions": _definitions(),
    }


def properties() -> dict[str, Any]:
    return {
        "name": "properties",
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
        "properties": {
            "properties": {"$ref": "#/definitions/property"},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "definitions": _definitions(),
    }


def tag() -> dict[str, Any]:
    return {
        "name": "tag",
        "properties": {"name": {"type": "string", "maxLength": 255}, **_times()},
        "required": ["name"],
        "additionalProperties": False,
    }


def resource_type() -> dict[str, Any]:
    return association()


DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "namespace": namespace,
    "namespaces": lambda: _plural("namespaces", "namespaces", namespace()),
    "object": obj,
    "objects": lambda: _plural("objects", "objects", obj()),
    "property": prop,
    "properties": properties,
    "tag": tag,
    "tags": lambda: _plural("tags", "tags", tag()),
    "resource_type": resource_type,
    "resource_types": lambda: _plural(
        "resource_type_associations", "resource_type_associations", association()
    ),
}
