"""Image request schemas.

Glance takes an image's free-form properties at the top level of the create
body, so that body is validated as one ``image`` field (``wrap_key``) whose
model keeps unknown keys; their values are checked by the service (strings,
as Glance's schema says)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stratus.common.api import BigInt, Query, Schema

# v2.1 is RFC 6902 ({"op": "replace", "path": ..., "value": ...}); the older
# v2.0 names the operation by its key ({"replace": "/name", "value": ...}).
PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
PATCH_OPS = ("add", "replace", "remove")
DATA_TYPES = ("application/octet-stream",)


class ImageCreate(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageCreateBody(Schema):
    wrap_key: ClassVar[str] = "image"
    image: ImageCreate


class PatchOp(Schema):
    op: str
    path: str
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _older_form(cls, data: Any) -> Any:
        """An operation in v2.0's form, as v2.1 writes it."""
        if isinstance(data, dict) and "op" not in data:
            named = [k for k in PATCH_OPS if k in data]
            if len(named) == 1:
                rest = {k: v for k, v in data.items() if k != named[0]}
                return {"op": named[0], "path": data[named[0]], **rest}
        return data


class PatchBody(Schema):
    wrap_key: ClassVar[str] = "ops"
    ops: list[PatchOp] = Field(max_length=500)


class MemberCreate(Schema):
    member: str = Field(min_length=1, max_length=255)


class MemberUpdate(Schema):
    status: str
    # openstacksdk sends the member id too; Glance reads only the status.
    member: str | None = None


class ImportMethod(Schema):
    name: str
    uri: str | None = Field(default=None, max_length=4096)
    glance_image_id: str | None = Field(default=None)
    glance_region: str | None = Field(default=None)
    glance_service_interface: str | None = Field(default=None)


class ImportBody(Schema):
    method: ImportMethod
    all_stores: bool | None = None
    all_stores_must_succeed: bool | None = None
    stores: list[str] | None = None


class ImageListQuery(Query):
    model_config = ConfigDict(extra="allow")
    limit: int = Field(default=25, ge=0)
    marker: str | None = None
    sort_key: str | None = None
    sort_dir: str | None = None
    sort: str | None = None
    name: str | None = None
    status: str | None = None
    visibility: str | None = None
    owner: str | None = None
    member_status: str | None = None
    size_min: BigInt | None = Field(default=None, ge=0)
    size_max: BigInt | None = Field(default=None, ge=0)
    # Core attributes match exactly, as in Glance (not as extra properties).
    size: BigInt | None = Field(default=None, ge=0)
    virtual_size: BigInt | None = Field(default=None, ge=0)
    min_disk: int | None = Field(default=None, ge=0, le=2**31 - 1)
    min_ram: int | None = Field(default=None, ge=0, le=2**31 - 1)
    checksum: str | None = None
    os_hash_value: str | None = None
    id: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    protected: str | None = None
    os_hidden: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    tag: str | None = None
