"""What the database service's handlers share."""

from __future__ import annotations

from stratus.common.api import ApiRequest
from stratus.database.errors import BadRequest
from stratus.database.service import DatabaseService


def svc(req: ApiRequest[DatabaseService]) -> DatabaseService:
    return req.service


def base(req: ApiRequest[DatabaseService]) -> str:
    return f"{req.base_url}/v1.0/{req.params.get('project_id', req.ctx.project_id)}"


def check_project(req: ApiRequest[DatabaseService]) -> None:
    """The project in the URL must be the token's (as Trove's tenant check)."""
    project = req.params.get("project_id")
    if project and project != req.ctx.project_id and not req.ctx.is_admin:
        raise BadRequest(f"Malformed request url: project_id '{project}' does not match the "
                         "token's project.")  # fmt: skip


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")
