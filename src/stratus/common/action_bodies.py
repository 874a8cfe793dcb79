"""Bodies that name an action by their one key (OpenStack's
``POST .../action``: ``{"os-stop": null}``, ``{"reboot": {"type": "HARD"}}``).

Each action has a schema of its own, of one field aliased to its key.  The
body's key picks the schema; a body that names no single known action is
refused as the union of all of them refuses it (``union``, named
``ActionBody``): unknown keys, several actions, or none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator


class _Union(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one(self) -> _Union:
        if len(self.model_fields_set) != 1:
            raise ValueError("a server action body names exactly one action")
        return self


class ActionBodies:
    def __init__(self, schemas: Mapping[str, type[BaseModel]]) -> None:
        """``schemas``: action key -> its schema (one field, aliased to the key)."""
        self.keys = frozenset(schemas)
        fields: dict[str, Any] = {}
        for key, schema in schemas.items():
            ((name, info),) = schema.model_fields.items()
            fields[name] = (Optional[info.annotation], Field(default=None, alias=key))  # noqa: UP045
        self.union: type[BaseModel] = create_model("ActionBody", __base__=_Union, **fields)

    def key(self, raw: Any) -> str | None:
        """The action a body names, if it names exactly one known action."""
        if isinstance(raw, dict) and len(raw) == 1:
            (key,) = raw
            return key if key in self.keys else None
        return None
