"""The JSON schema documents served under /v2/schemas (glanceclient reads
them to validate and to tell core attributes from custom properties)."""

from __future__ import annotations

from typing import Any

from stratus.image import formats
from stratus.image import models as m

_STATUSES = [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
]


def _nullable_string(description: str, max_length: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ["null", "string"], "description": description}
    if max_length:
        out["maxLength"] = max_length
    return out


def image() -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {
            "type": "string",
            "description": "The image's identifier (read-only)",
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
        },
        "name": _nullable_string("A name for people", 255),
        "status": {
            "type": "string",
            "readOnly": True,
            "description": "Where the image is in its life",
            "enum": _STATUSES,
        },
        "visibility": {
            "type": "string",
            "description": "Who can see the image",
            "enum": list(m.VISIBILITIES),
        },
        "protected": {"type": "boolean", "description": "A protected image cannot be deleted"},
        "os_hidden": {"type": "boolean", "description": "Left out of default image lists"},
        "checksum": _nullable_string("MD5 of the data (read-only)", 32) | {"readOnly": True},
        "os_hash_algo": _nullable_string("Algorithm of os_hash_value (read-only)", 64)
        | {"readOnly": True},
        "os_hash_value": _nullable_string("Secure hash of the data (read-only)", 128)
        | {"readOnly": True},
        "owner": _nullable_string("Project owning the image", 255),
        "size": {
            "type": ["null", "integer"],
            "readOnly": True,
            "description": "Bytes of data (read-only)",
        },
        "virtual_size": {
            "type": ["null", "integer"],
            "readOnly": True,
            "description": "Bytes of the virtual disk (read-only)",
        },
        "container_format": {
            "type": ["null", "string"],
            "enum": [None, *formats.CONTAINER_FORMATS],
            "description": "Format of the container",
        },
        "disk_format": {
            "type": ["null", "string"],
            "enum": [None, *formats.DISK_FORMATS],
            "description": "Format of the disk",
        },
        "created_at": {
            "type": "string",
            "readOnly": True,
            "description": "When the image was created",
        },
        "updated_at": {
            "type": "string",
            "readOnly": True,
            "description": "When the image last changed",
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 255},
            "description": "Labels",
        },
        "direct_url": {
            "type": "string",
            "readOnly": True,
            "description": "Where the data is (not shown)",
        },
        "min_ram": {
            "type": "integer",
            "minimum": 0,
            "description": "MiB of RAM a server needs to boot it",
        },
        "min_disk": {
            "type": "integer",
            "minimum": 0,
            "description": "GiB of disk a server needs to boot it",
        },
        "self": {"type": "string", "readOnly": True, "description": "The image's own URL"},
        "file": {"type": "string", "readOnly": True, "description": "The image data's URL"},
        "stores": {"type": "string", "readOnly": True, "description": "Stores holding the data"},
        "schema": {"type": "string", "readOnly": True, "description": "This schema's URL"},
        "locations": {"type": "array", "items": {"type": "object"}, "description": "Not shown"},
        "kernel_id": _nullable_string("Image of the kernel for an AMI-style image"),
        "ramdisk_id": _nullable_string("Image of the ramdisk for an AMI-style image"),
        "architecture": {"type": "string", "description": "CPU architecture the image needs"},
        "os_distro": {"type": "string", "description": "Operating system distribution"},
        "os_version": {"type": "string", "description": "Operating system version"},
        "instance_uuid": {"type": "string", "description": "Server the image was made from"},
    }
    return {
        "name": "image",
        "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [
            {"href": "{self}", "rel": "self"},
            {"href": "{file}", "rel": "enclosure"},
            {"href": "{schema}", "rel": "describedby"},
        ],
    }


def images() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"href": "{first}", "rel": "first"},
            {"href": "{next}", "rel": "next"},
            {"href": "{schema}", "rel": "describedby"},
        ],
    }


def member() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "image_id": {"type": "string", "description": "The image"},
            "member_id": {"type": "string", "description": "The project the image is shared with"},
            "status": {
                "type": "string",
                "enum": ["pending", "accepted", "rejected"],
                "description": "The member project's answer",
            },
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "schema": {"type": "string", "readOnly": True},
        },
    }


def members() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member()},
            "schema": {"type": "string"},
        },
        "links": [{"href": "{schema}", "rel": "describedby"}],
    }


def task() -> dict[str, Any]:
    return {
        "name": "task",
        "properties": {
            key: {"type": kind, "description": desc}
            for key, kind, desc in (
                ("id", "string", "The task's identifier"),
                ("type", "string", "What the task does"),
                ("status", "string", "pending, processing, success or failure"),
                ("input", "object", "What the task was given"),
                ("result", ["null", "object"], "What the task produced"),
                ("owner", "string", "Project owning the task"),
                ("message", "string", "Why the task failed, if it did"),
                ("image_id", "string", "The image the task works on"),
                ("expires_at", ["null", "string"], "When the record goes"),
                ("created_at", "string", "When the task started"),
                ("updated_at", "string", "When the task last changed"),
                ("self", "string", "The task's URL"),
                ("schema", "string", "This schema's URL"),
            )
        },
    }


def tasks() -> dict[str, Any]:
    return {
        "name": "tasks",
        "properties": {"tasks": {"type": "array", "items": task()}, "schema": {"type": "string"}},
    }


DOCUMENTS = {
    "image": image,
    "images": images,
    "member": member,
    "members": members,
    "task": task,
    "tasks": tasks,
}
