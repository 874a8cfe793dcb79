"""What the orchestration handlers share."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.orchestration import models as m
from stratus.orchestration.errors import Forbidden
from stratus.orchestration.service import OrchestrationService


def svc(req: ApiRequest[OrchestrationService]) -> OrchestrationService:
    return req.service


def check_project(req: ApiRequest[OrchestrationService]) -> None:
    """The project in the URL must be the token's (Heat's tenant check)."""
    project = req.params.get("project_id")
    if project and project != req.ctx.project_id and not req.ctx.is_admin:
        raise Forbidden("The project in the URL is not the token's project.")


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on", "t", "y")


async def visible(req: ApiRequest[OrchestrationService], action: str) -> m.Stack:
    """The stack the URL names (name and id), authorized for ``action``."""
    check_project(req)
    stack = await svc(req).stacks.get(req.ctx, req.params["stack_name"], req.params["stack_id"])
    req.authorize(action, {"project_id": stack.project_id})
    return stack


def redirect(req: ApiRequest[OrchestrationService], stack: m.Stack, rest: str = "") -> Response:
    """Heat's lookup answer: 302 to the stack's canonical URL (name/id)."""
    url = f"{req.base_url}/v1/{stack.project_id}/stacks/{quote(stack.name)}/{stack.id}"
    if rest:
        url += f"/{rest}"
    qs = req.raw.scope.get("query_string", b"").decode("latin-1")
    return empty_response(302, {"Location": url + (f"?{qs}" if qs else "")})
