"""Network agents (admin only), as Neutron lists its agents."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, one, svc
from stratus.network.service import NetworkService


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.AGENT_KINDS)
    agents = svc(req).agents
    # As Neutron filters a list by its policy: others see no agents.
    rows = await agents.find(q.strings()) if req.allowed("network:get_agent", {}) else []
    return listing.respond(
        req, "agents", [views.agent(a, agents) for a in rows], q, views.AGENT_KINDS
    )


async def show(req: ApiRequest[NetworkService]) -> Response:
    authorize(req, "network:get_agent", {})
    agents = svc(req).agents
    return one(req, "agent", views.agent(await agents.get(req.params["agent_id"]), agents))


async def update(req: ApiRequest[NetworkService]) -> Response:
    authorize(req, "network:update_agent", {})
    agents = svc(req).agents
    row = await agents.update(req.params["agent_id"], req.body.agent.model_dump(exclude_unset=True))
    return one(req, "agent", views.agent(row, agents))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    authorize(req, "network:delete_agent", {})
    await svc(req).agents.delete(req.params["agent_id"])
    return empty_response()
