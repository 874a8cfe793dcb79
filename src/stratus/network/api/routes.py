"""The network routes table (all under /network)."""

from __future__ import annotations

from stratus.common.api import NoBody, Route
from stratus.network.api import (
    agents,
    discovery,
    floatingips,
    networks,
    ports,
    quotas,
    routers,
    security_groups,
    subnetpools,
    subnets,
    tags,
    topology,
)
from stratus.network.api import schemas as s

V = "/v2.0"
SG = f"{V}/security-groups"
RULES = f"{V}/security-group-rules"
TAGS = f"{V}/{{resources}}/{{resource_id}}/tags"

ROUTES: list[Route] = [
    Route("GET", "/", discovery.versions, public=True),
    Route("GET", V, discovery.version, public=True),
    Route("GET", f"{V}/", discovery.version, public=True),
    Route("GET", f"{V}/extensions", discovery.extensions),
    Route("GET", f"{V}/extensions/{{alias}}", discovery.extension),
    # networks
    Route("GET", f"{V}/networks", networks.index),
    Route("POST", f"{V}/networks", networks.create, body=s.NetworkCreateBody),
    Route("GET", f"{V}/networks/{{network_id}}", networks.show),
    Route("PUT", f"{V}/networks/{{network_id}}", networks.update, body=s.NetworkUpdateBody),
    Route("DELETE", f"{V}/networks/{{network_id}}", networks.delete),
    # subnets
    Route("GET", f"{V}/subnets", subnets.index),
    Route("POST", f"{V}/subnets", subnets.create, body=s.SubnetCreateBody),
    Route("GET", f"{V}/subnets/{{subnet_id}}", subnets.show),
    Route("PUT", f"{V}/subnets/{{subnet_id}}", subnets.update, body=s.SubnetUpdateBody),
    Route("DELETE", f"{V}/subnets/{{subnet_id}}", subnets.delete),
    # subnet pools
    Route("GET", f"{V}/subnetpools", subnetpools.index),
    Route("POST", f"{V}/subnetpools", subnetpools.create, body=s.SubnetPoolCreateBody),
    Route("GET", f"{V}/subnetpools/{{subnetpool_id}}", subnetpools.show),
    Route(
        "PUT", f"{V}/subnetpools/{{subnetpool_id}}", subnetpools.update, body=s.SubnetPoolUpdateBody
    ),
    Route("DELETE", f"{V}/subnetpools/{{subnetpool_id}}", subnetpools.delete),
    # ports
    Route("GET", f"{V}/ports", ports.index),
    Route("POST", f"{V}/ports", ports.create, body=s.PortCreateBody),
    Route("GET", f"{V}/ports/{{port_id}}", ports.show),
    Route("PUT", f"{V}/ports/{{port_id}}", ports.update, body=s.PortUpdateBody),
    Route("DELETE", f"{V}/ports/{{port_id}}", ports.delete),
    # routers
    Route("GET", f"{V}/routers", routers.index),
    Route("POST", f"{V}/routers", routers.create, body=s.RouterCreateBody),
    Route("GET", f"{V}/routers/{{router_id}}", routers.show),
    Route("PUT", f"{V}/routers/{{router_id}}", routers.update, body=s.RouterUpdateBody),
    Route("DELETE", f"{V}/routers/{{router_id}}", routers.delete),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/add_router_interface",
        routers.add_interface,
        body=s.RouterInterfaceBody,
    ),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/remove_router_interface",
        routers.remove_interface,
        body=s.RouterInterfaceBody,
    ),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/add_extraroutes",
        routers.add_extraroutes,
        body=s.RouterRoutesBody,
    ),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/remove_extraroutes",
        routers.remove_extraroutes,
        body=s.RouterRoutesBody,
    ),
    # floating IPs
    Route("GET", f"{V}/floatingips", floatingips.index),
    Route("POST", f"{V}/floatingips", floatingips.create, body=s.FloatingIPCreateBody),
    Route("GET", f"{V}/floatingips/{{floatingip_id}}", floatingips.show),
    Route(
        "PUT", f"{V}/floatingips/{{floatingip_id}}", floatingips.update, body=s.FloatingIPUpdateBody
    ),
    Route("DELETE", f"{V}/floatingips/{{floatingip_id}}", floatingips.delete),
    # security groups and rules
    Route("GET", SG, security_groups.index),
    Route("POST", SG, security_groups.create, body=s.SecurityGroupCreateBody),
    Route("GET", f"{SG}/{{security_group_id}}", security_groups.show),
    Route(
        "PUT", f"{SG}/{{security_group_id}}", security_groups.update, body=s.SecurityGroupUpdateBody
    ),
    Route("DELETE", f"{SG}/{{security_group_id}}", security_groups.delete),
    Route("GET", RULES, security_groups.rule_index),
    Route("POST", RULES, security_groups.rule_create, body=s.RuleCreateBody),
    Route("GET", f"{RULES}/{{rule_id}}", security_groups.rule_show),
    Route("DELETE", f"{RULES}/{{rule_id}}", security_groups.rule_delete),
    # quotas
    Route("GET", f"{V}/quotas", quotas.index),
    Route("GET", f"{V}/quotas/tenant", quotas.tenant),
    Route("GET", f"{V}/quotas/project", quotas.project),
    Route("GET", f"{V}/quotas/{{project_id}}", quotas.show),
    Route("PUT", f"{V}/quotas/{{project_id}}", quotas.update, body=s.QuotaUpdateBody),
    Route("DELETE", f"{V}/quotas/{{project_id}}", quotas.delete),
    Route("GET", f"{V}/quotas/{{project_id}}/default", quotas.defaults),
    Route("GET", f"{V}/quotas/{{project_id}}/details", quotas.details),
    # get me a network
    Route("GET", f"{V}/auto-allocated-topology/{{project_id}}", topology.show),
    Route("DELETE", f"{V}/auto-allocated-topology/{{project_id}}", topology.delete),
    # agents
    Route("GET", f"{V}/agents", agents.index),
    Route("GET", f"{V}/agents/{{agent_id}}", agents.show),
    Route("PUT", f"{V}/agents/{{agent_id}}", agents.update, body=s.AgentUpdateBody),
    Route("DELETE", f"{V}/agents/{{agent_id}}", agents.delete),
    # tags of any taggable resource
    Route("GET", TAGS, tags.index),
    Route("PUT", TAGS, tags.replace, body=s.TagsBody),
    Route("POST", TAGS, tags.add_many, body=s.TagsBody),
    Route("DELETE", TAGS, tags.clear),
    Route("GET", f"{TAGS}/{{tag}}", tags.show),
    Route("PUT", f"{TAGS}/{{tag}}", tags.add, body=NoBody),
    Route("DELETE", f"{TAGS}/{{tag}}", tags.remove),
]
