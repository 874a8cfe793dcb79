"""The network routes table (all under /network)."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, Route
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
    Route("GET", "/", discovery.versions, public=True, body=NoBody, query=NoQuery),
    Route("GET", V, discovery.version, public=True, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/", discovery.version, public=True, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/extensions", discovery.extensions, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/extensions/{{alias}}", discovery.extension, body=NoBody, query=NoQuery),
    # networks
    Route("GET", f"{V}/networks", networks.index, body=NoBody, query=NoQuery),
    Route("POST", f"{V}/networks", networks.create, body=s.NetworkCreateBody, query=NoQuery),
    Route("GET", f"{V}/networks/{{network_id}}", networks.show, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        f"{V}/networks/{{network_id}}",
        networks.update,
        body=s.NetworkUpdateBody,
        query=NoQuery,
    ),
    Route("DELETE", f"{V}/networks/{{network_id}}", networks.delete, body=NoBody, query=NoQuery),
    # subnets
    Route("GET", f"{V}/subnets", subnets.index, body=NoBody, query=NoQuery),
    Route("POST", f"{V}/subnets", subnets.create, body=s.SubnetCreateBody, query=NoQuery),
    Route("GET", f"{V}/subnets/{{subnet_id}}", subnets.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", f"{V}/subnets/{{subnet_id}}", subnets.update, body=s.SubnetUpdateBody, query=NoQuery
    ),
    Route("DELETE", f"{V}/subnets/{{subnet_id}}", subnets.delete, body=NoBody, query=NoQuery),
    # subnet pools
    Route("GET", f"{V}/subnetpools", subnetpools.index, body=NoBody, query=NoQuery),
    Route(
        "POST", f"{V}/subnetpools", subnetpools.create, body=s.SubnetPoolCreateBody, query=NoQuery
    ),
    Route(
        "GET", f"{V}/subnetpools/{{subnetpool_id}}", subnetpools.show, body=NoBody, query=NoQuery
    ),
    Route(
        "PUT",
        f"{V}/subnetpools/{{subnetpool_id}}",
        subnetpools.update,
        body=s.SubnetPoolUpdateBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{V}/subnetpools/{{subnetpool_id}}",
        subnetpools.delete,
        body=NoBody,
        query=NoQuery,
    ),
    # ports
    Route("GET", f"{V}/ports", ports.index, body=NoBody, query=NoQuery),
    Route("POST", f"{V}/ports", ports.create, body=s.PortCreateBody, query=NoQuery),
    Route("GET", f"{V}/ports/{{port_id}}", ports.show, body=NoBody, query=NoQuery),
    Route("PUT", f"{V}/ports/{{port_id}}", ports.update, body=s.PortUpdateBody, query=NoQuery),
    Route("DELETE", f"{V}/ports/{{port_id}}", ports.delete, body=NoBody, query=NoQuery),
    # routers
    Route("GET", f"{V}/routers", routers.index, body=NoBody, query=NoQuery),
    Route("POST", f"{V}/routers", routers.create, body=s.RouterCreateBody, query=NoQuery),
    Route("GET", f"{V}/routers/{{router_id}}", routers.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", f"{V}/routers/{{router_id}}", routers.update, body=s.RouterUpdateBody, query=NoQuery
    ),
    Route("DELETE", f"{V}/routers/{{router_id}}", routers.delete, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/add_router_interface",
        routers.add_interface,
        body=s.RouterInterfaceBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/remove_router_interface",
        routers.remove_interface,
        body=s.RouterInterfaceBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/add_extraroutes",
        routers.add_extraroutes,
        body=s.RouterRoutesBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{V}/routers/{{router_id}}/remove_extraroutes",
        routers.remove_extraroutes,
        body=s.RouterRoutesBody,
        query=NoQuery,
    ),
    # floating IPs
    Route("GET", f"{V}/floatingips", floatingips.index, body=NoBody, query=NoQuery),
    Route(
        "POST", f"{V}/floatingips", floatingips.create, body=s.FloatingIPCreateBody, query=NoQuery
    ),
    Route(
        "GET", f"{V}/floatingips/{{floatingip_id}}", floatingips.show, body=NoBody, query=NoQuery
    ),
    Route(
        "PUT",
        f"{V}/floatingips/{{floatingip_id}}",
        floatingips.update,
        body=s.FloatingIPUpdateBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{V}/floatingips/{{floatingip_id}}",
        floatingips.delete,
        body=NoBody,
        query=NoQuery,
    ),
    # security groups and rules
    Route("GET", SG, security_groups.index, body=NoBody, query=NoQuery),
    Route("POST", SG, security_groups.create, body=s.SecurityGroupCreateBody, query=NoQuery),
    Route("GET", f"{SG}/{{security_group_id}}", security_groups.show, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        f"{SG}/{{security_group_id}}",
        security_groups.update,
        body=s.SecurityGroupUpdateBody,
        query=NoQuery,
    ),
    Route(
        "DELETE", f"{SG}/{{security_group_id}}", security_groups.delete, body=NoBody, query=NoQuery
    ),
    Route("GET", RULES, security_groups.rule_index, body=NoBody, query=NoQuery),
    Route("POST", RULES, security_groups.rule_create, body=s.RuleCreateBody, query=NoQuery),
    Route("GET", f"{RULES}/{{rule_id}}", security_groups.rule_show, body=NoBody, query=NoQuery),
    Route(
        "DELETE", f"{RULES}/{{rule_id}}", security_groups.rule_delete, body=NoBody, query=NoQuery
    ),
    # quotas
    Route("GET", f"{V}/quotas", quotas.index, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/quotas/tenant", quotas.tenant, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/quotas/project", quotas.project, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/quotas/{{project_id}}", quotas.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", f"{V}/quotas/{{project_id}}", quotas.update, body=s.QuotaUpdateBody, query=NoQuery
    ),
    Route("DELETE", f"{V}/quotas/{{project_id}}", quotas.delete, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/quotas/{{project_id}}/default", quotas.defaults, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/quotas/{{project_id}}/details", quotas.details, body=NoBody, query=NoQuery),
    # get me a network
    Route(
        "GET",
        f"{V}/auto-allocated-topology/{{project_id}}",
        topology.show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{V}/auto-allocated-topology/{{project_id}}",
        topology.delete,
        body=NoBody,
        query=NoQuery,
    ),
    # agents
    Route("GET", f"{V}/agents", agents.index, body=NoBody, query=NoQuery),
    Route("GET", f"{V}/agents/{{agent_id}}", agents.show, body=NoBody, query=NoQuery),
    Route("PUT", f"{V}/agents/{{agent_id}}", agents.update, body=s.AgentUpdateBody, query=NoQuery),
    Route("DELETE", f"{V}/agents/{{agent_id}}", agents.delete, body=NoBody, query=NoQuery),
    # tags of any taggable resource
    Route("GET", TAGS, tags.index, body=NoBody, query=NoQuery),
    Route("PUT", TAGS, tags.replace, body=s.TagsBody, query=NoQuery),
    Route("POST", TAGS, tags.add_many, body=s.TagsBody, query=NoQuery),
    Route("DELETE", TAGS, tags.clear, body=NoBody, query=NoQuery),
    Route("GET", f"{TAGS}/{{tag}}", tags.show, body=NoBody, query=NoQuery),
    Route("PUT", f"{TAGS}/{{tag}}", tags.add, body=NoBody, query=NoQuery),
    Route("DELETE", f"{TAGS}/{{tag}}", tags.remove, body=NoBody, query=NoQuery),
]
