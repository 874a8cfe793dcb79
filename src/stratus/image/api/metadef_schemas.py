"""Request schemas of the metadata definitions API, as strict as Glance's
JSON schemas: unknown keys refused, booleans real booleans, a property's
``type`` one of JSON schema's, its ``title`` required.

Bodies that clients send back after reading a resource may carry its
read-only attributes (``created_at``, ``self``...): accepted and ignored."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from stratus.common.api import Query, Schema

PropertyType = Literal["array", "boolean", "integer", "number", "object", "string"]
Count = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
Number = StrictInt | StrictFloat
Name80 = Annotated[str, Field(min_length=1, max_length=80)]
Name255 = Annotated[str, Field(min_length=1, max_length=255)]


class ReadOnlyIgnored(Schema):
    created_at: str | None = Field(default=None, exclude=True)
    updated_at: str | None = Field(default=None, exclude=True)
    self_: str | None = Field(default=None, alias="self", exclude=True)
    schema_: str | None = Field(default=None, alias="schema", exclude=True)


class PropertyItems(Schema):
    type: PropertyType | None = None
    enum: list[Any] | None = None


class PropertyDefinition(Schema):
    """A property's definition; its name is the key it is given under."""

    title: str = Field(max_length=255)
    type: PropertyType
    description: str | None = None
    operators: list[str] | None = None
    minimum: Number | None = None
    maximum: Number | None = None
    maxLength: Count | None = None  # noqa: N815 (Glance's names)
    minLength: Count | None = None  # noqa: N815
    pattern: str | None = None
    enum: list[Any] | None = None
    readonly: StrictBool | None = None
    default: Any = None
    items: PropertyItems | None = None
    maxItems: Count | None = None  # noqa: N815
    minItems: Count | None = None  # noqa: N815
    uniqueItems: StrictBool | None = None  # noqa: N815
    additionalItems: StrictBool | None = None  # noqa: N815

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _finite(self) -> PropertyDefinition:
        """Numbers JSON can carry (1e400 parses as infinity, which no
        database's JSON column stores)."""
        try:
            json.dumps(self.model_dump(), allow_nan=False)
        except ValueError:
            raise ValueError("numbers must be finite") from None
        return self

    @field_validator("operators")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("operators must not repeat")
        return value


class PropertyBody(PropertyDefinition):
    name: Name255


class ObjectBody(ReadOnlyIgnored):
    name: Name80
    description: str | None = None
    required: list[str] | None = None
    properties: dict[Name255, PropertyDefinition] | None = None


class TagName(Schema):
    name: Name255


class TagBody(ReadOnlyIgnored):
    name: Name255


class TagsBody(Schema):
    tags: list[TagName] = Field(max_length=1000)


class AssociationBody(ReadOnlyIgnored):
    name: Name80
    prefix: str | None = Field(default=None, max_length=80)
    properties_target: str | None = Field(default=None, max_length=80)


class NamespaceBody(ReadOnlyIgnored):
    namespace: Name80
    display_name: str | None = Field(default=None, max_length=80)
    description: str | None = Field(default=None, max_length=500)
    visibility: Literal["public", "private"] | None = None
    protected: StrictBool | None = None
    owner: str | None = Field(default=None, max_length=255)
    properties: dict[Name255, PropertyDefinition] | None = None
    objects: list[ObjectBody] | None = None
    tags: list[TagName | Name255] | None = None
    resource_type_associations: list[AssociationBody] | None = None


class NamespaceListQuery(Query):
    limit: int = Field(default=25, ge=1)
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    visibility: str | None = None
    resource_types: str | None = None


class NamespaceShowQuery(Query):
    resource_type: str | None = None
