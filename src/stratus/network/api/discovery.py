"""Version discovery and ``/v2.0/extensions``: the extensions listed are
exactly those implemented."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.network.errors import ExtensionNotFound
from stratus.network.service import NetworkService

UPDATED = "2025-01-01T00:00:00-00:00"
# (alias, name, description)
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("agent", "agent", "The agent management extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    (
        "auto-allocated-topology",
        "Auto Allocated Topology Services",
        "Auto Allocated Topology Services.",
    ),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    (
        "default-subnetpools",
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the "
        "external gateway",
    ),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    (
        "extraroute-atomic",
        "Atomically add/remove extra routes",
        "Edit extra routes of a router on server side by atomically adding/removing extra routes",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    (
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("port-security", "Port Security", "Provides port security"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 "
        "Neutron networks and access to external networks via a NAT gateway.",
    ),
    ("security-group", "security-group", "The security groups extension."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, "
        "trunk, network_segment_range, router, network, policy, subnetpool, port, "
        "security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
        "standard attributes.",
    ),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
)
RESOURCES = (
    "subnet",
    "network",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "subnetpool",
)


def _extension(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


async def versions(req: ApiRequest[NetworkService]) -> Response:
    link = [{"rel": "self", "href": f"{req.base_url}/v2.0/"}]
    return json_response({"versions": [{"id": "v2.0", "status": "CURRENT", "links": link}]})


async def version(req: ApiRequest[NetworkService]) -> Response:
    base = f"{req.base_url}/v2.0"
    return json_response(
        {
            "resources": [
                {
                    "name": name,
                    "collection": f"{name}s",
                    "links": [{"rel": "self", "href": f"{base}/{name}s"}],
                }
                for name in RESOURCES
            ]
        }
    )


async def extensions(req: ApiRequest[NetworkService]) -> Response:
    return json_response({"extensions": [_extension(*e) for e in EXTENSIONS]})


async def extension(req: ApiRequest[NetworkService]) -> Response:
    alias = req.params["alias"]
    for found in EXTENSIONS:
        if found[0] == alias:
            return json_response({"extension": _extension(*found)})
    raise ExtensionNotFound(alias)
