"""Reading Cinder's request parameters: sizes, flags, sorting, paging, the
project in the URL; and what every handler needs from the request."""

from __future__ import annotations

import ast
import json
from typing import Any

from stratus.common.api import ApiRequest
from stratus.common.microversion import Version
from stratus.volume.errors import BadRequest
from stratus.volume.service import VolumeService

SORT_DIRS = ("asc", "desc")


def svc(req: ApiRequest[VolumeService]) -> VolumeService:
    return req.service  # type: ignore[no-any-return]


def version(req: ApiRequest[VolumeService]) -> Version:
    assert req.version is not None
    return req.version


def base(req: ApiRequest[VolumeService]) -> str:
    """This project's API root as the client reached it: .../volume/v3/<project>."""
    return f"{req.base_url}/v3/{req.params['project_id']}"


def check_project(req: ApiRequest[VolumeService]) -> None:
    """The project in the URL must be the token's (Cinder refuses others)."""
    project = req.params.get("project_id")
    if project and project != req.ctx.project_id and not req.ctx.is_admin:
        raise BadRequest(
            f"Malformed request url: project_id '{project}' does not match the token's project."
        )


def size(value: Any, what: str = "size") -> int:
    """A size in GiB: an integer, or a string of digits, at least 1."""
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip()) if value is not None else None
    except ValueError:
        number = None
    if number is None or (isinstance(value, float) and value != int(value)):
        raise BadRequest(
            f"Invalid input for field/attribute {what}. Value: {value}. "
            f"'{value}' is not of type 'integer'."
        )
    if number < 1:
        raise BadRequest(
            f"Invalid input received: {what} must be an integer (or a string of one) "
            f"greater than 0, not {value}."
        )
    if number > 2**31 - 1:
        raise BadRequest(f"Invalid input received: {what} {value} is too large.")
    return number


def flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes", "y", "on"):
        return True
    if text in ("false", "f", "0", "no", "n", "off"):
        return False
    raise BadRequest(f"Invalid input received: {what} must be a boolean, not {value!r}.")


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on", "t", "y")


def all_projects(req: ApiRequest[VolumeService]) -> bool:
    asked = truthy(getattr(req.query, "all_tenants", None))
    if asked and not req.ctx.is_admin:
        return False  # Cinder ignores all_tenants for users
    return asked


def limit(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid input received: limit must be an integer, not {value!r}."
        ) from exc
    if number < 0:
        raise BadRequest("Invalid input received: limit must be >= 0.")
    return number


def offset(value: str | None) -> int:
    if value is None:
        return 0
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid input received: offset must be an integer, not {value!r}."
        ) from exc
    if number < 0:
        raise BadRequest("Invalid input received: offset must be >= 0.")
    return number


def sort(q: Any, keys: set[str]) -> list[tuple[str, str]]:
    """``sort=k1:asc,k2`` or ``sort_key=k1,k2&sort_dir=desc``."""
    out: list[tuple[str, str]] = []
    if getattr(q, "sort", None):
        for part in q.sort.split(","):
            key, _, direction = part.strip().partition(":")
            out.append((key, (direction or "desc").lower()))
    elif getattr(q, "sort_key", None) or getattr(q, "sort_dir", None):
        direction = (q.sort_dir or "desc").lower()
        for key in (q.sort_key or "created_at").split(","):
            out.append((key.strip(), direction))
    for key, direction in out:
        if key not in keys:
            raise BadRequest(f"Invalid input received: Invalid sort key {key}.")
        if direction not in SORT_DIRS:
            raise BadRequest(f"Invalid input received: Invalid sort dir {direction}.")
    return out


def metadata_filter(value: str | None) -> dict[str, str]:
    """``metadata={"k": "v"}`` (JSON, or the Python dict text clients send)."""
    if not value:
        return {}
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(value)
        except (ValueError, SyntaxError):
            continue
        if isinstance(parsed, dict):
            return {str(k): str(v) for k, v in parsed.items()}
    raise BadRequest(f"Invalid input received: metadata filter {value!r} is not a dict.")


def name_of(body: Any) -> str | None:
    return body.name if body.name is not None else body.display_name


def description_of(body: Any) -> str | None:
    return body.description if body.description is not None else body.display_description
