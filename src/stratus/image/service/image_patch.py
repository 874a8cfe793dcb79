"""Glance's rules for an image's attributes: which ones a caller may set,
each one's valid values, and one JSON-patch operation of an update."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stratus.image import formats
from stratus.image import models as m
from stratus.image.errors import BadRequest, Conflict, Forbidden, TooMany

READ_ONLY = frozenset(
    {
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "stores",
        "os_glance_import_task",
    }
)
CORE = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "tags",
        "container_format",
        "disk_format",
        "min_disk",
        "min_ram",
        "owner",
    }
)
RESERVED_PREFIX = "os_glance"
MAX_TAGS = 128
MAX_PROPERTIES = 128
MEMBER_STATUSES = ("pending", "accepted", "rejected")
_PATH = re.compile(r"^/([^/~]|~0|~1)+$")


def check_value(key: str, value: Any) -> Any:
    """Validate one attribute's value the way Glance's schema does."""

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise BadRequest(f"Invalid value for '{key}': {what}.")

    if key == "name":
        need(
            value is None or (isinstance(value, str) and len(value) <= 255),
            "a string of at most 255 characters",
        )
    elif key == "visibility":
        need(value in m.VISIBILITIES, f"one of {', '.join(m.VISIBILITIES)}")
    elif key in ("protected", "os_hidden"):
        need(isinstance(value, bool), "true or false")
    elif key in ("min_disk", "min_ram"):
        need(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            "a whole number of at least 0",
        )
    elif key == "disk_format":
        need(
            value is None or value in formats.DISK_FORMATS,
            f"one of {', '.join(formats.DISK_FORMATS)}",
        )
    elif key == "container_format":
        need(
            value is None or value in formats.CONTAINER_FORMATS,
            f"one of {', '.join(formats.CONTAINER_FORMATS)}",
        )
    elif key == "tags":
        need(
            isinstance(value, list)
            and all(isinstance(t, str) and 0 < len(t) <= 255 for t in value),
            "a list of strings",
        )
        if len(value) > MAX_TAGS:
            raise TooMany(f"An image has at most {MAX_TAGS} tags.")
    elif key == "owner":
        need(value is None or (isinstance(value, str) and len(value) <= 255), "a project id")
    else:
        need(isinstance(value, str), "a string (custom properties are strings)")
        need(len(value) <= 65535, "at most 65535 characters")
    return value


def editable(image: m.Image) -> dict[str, Any]:
    return {
        "name": image.name,
        "visibility": image.visibility,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "owner": image.owner,
        "tags": [t.name for t in image.tags],
        "properties": dict(image.properties),
    }


def apply_patch(state: dict[str, Any], op: Mapping[str, Any], image: m.Image) -> None:
    """One JSON-patch operation, with Glance's rules: one level of paths,
    ``add`` replaces, read-only and reserved attributes refused."""
    kind = op.get("op")
    path = op.get("path")
    if kind not in ("add", "replace", "remove"):
        raise BadRequest(f"Unsupported patch operation {kind!r}: use add, replace or remove.")
    if not isinstance(path, str) or not _PATH.match(path):
        raise BadRequest(f"Invalid JSON pointer {path!r}: paths are one level deep, like /name.")
    key = path[1:].replace("~1", "/").replace("~0", "~")
    if key in READ_ONLY:
        raise Forbidden(f"Attribute '{key}' is read-only.")
    if key.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{key}' is reserved.")
    if kind in ("add", "replace") and "value" not in op:
        raise BadRequest(f"Operation {kind} needs a value.")
    if key in CORE:
        if kind == "remove":
            raise Forbidden(f"Properties {key} cannot be deleted.")
        state[key] = check_value(key, op["value"])
        return
    props = state["properties"]
    if kind == "remove":
        if key not in props:
            raise Conflict(f"Property {key} does not exist.")
        del props[key]
    elif kind == "replace" and key not in props:
        raise Conflict(f"Property {key} does not exist.")
    else:
        props[key] = check_value(key, op["value"])
