"""The identity API's extension routes: trusts (OS-TRUST), endpoint
filtering (OS-EP-FILTER), policy blobs, domain-specific configuration,
stored credentials (and their EC2 view) and unified limits."""

from __future__ import annotations

from typing import Any

from stratus.common.api import NoBody, NoQuery, Route
from stratus.identity.api import (
    domain_configs,
    endpoint_groups,
    limits,
    policies,
    stored_credentials,
    trusts,
)
from stratus.identity.api import extension_schemas as x


def _r(method: str, path: str, handler: Any, body: Any = NoBody, query: Any = NoQuery) -> Route:
    return Route(method, path, handler, body=body, query=query)


_TRUST = "/v3/OS-TRUST/trusts/{trust_id}"
_GROUP = "/v3/OS-EP-FILTER/endpoint_groups/{group_id}"
_GROUP_PROJECT = f"{_GROUP}/projects/{{project_id}}"
_PROJECT_ENDPOINT = "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
eg = endpoint_groups

# Trusts (OS-TRUST), endpoint filtering (OS-EP-FILTER) and policy blobs.
EXTENSION_ROUTES: list[Route] = [
    _r("GET", "/v3/OS-TRUST/trusts", trusts.index, query=x.TrustListQuery),
    _r("POST", "/v3/OS-TRUST/trusts", trusts.create, body=x.TrustCreateBody),
    _r("GET", _TRUST, trusts.show),
    _r("DELETE", _TRUST, trusts.delete),
    _r("GET", f"{_TRUST}/roles", trusts.role_index),
    _r("GET", f"{_TRUST}/roles/{{role_id}}", trusts.role_show),
    _r("HEAD", f"{_TRUST}/roles/{{role_id}}", trusts.role_show),
    _r("GET", "/v3/OS-EP-FILTER/endpoint_groups", eg.index, query=x.EndpointGroupListQuery),
    _r("POST", "/v3/OS-EP-FILTER/endpoint_groups", eg.create, body=x.EndpointGroupCreateBody),
    _r("GET", _GROUP, eg.show),
    _r("HEAD", _GROUP, eg.show),
    _r("PATCH", _GROUP, eg.update, body=x.EndpointGroupUpdateBody),
    _r("DELETE", _GROUP, eg.delete),
    _r("GET", f"{_GROUP}/projects", eg.project_index),
    _r("GET", f"{_GROUP}/endpoints", eg.endpoint_index),
    _r("PUT", _GROUP_PROJECT, eg.project_add),
    _r("GET", _GROUP_PROJECT, eg.project_check),
    _r("HEAD", _GROUP_PROJECT, eg.project_check),
    _r("DELETE", _GROUP_PROJECT, eg.project_remove),
    _r("GET", "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups", eg.groups_for_project),
    _r("GET", "/v3/OS-EP-FILTER/projects/{project_id}/endpoints", eg.project_endpoints),
    _r("PUT", _PROJECT_ENDPOINT, eg.endpoint_add),
    _r("GET", _PROJECT_ENDPOINT, eg.endpoint_check),
    _r("HEAD", _PROJECT_ENDPOINT, eg.endpoint_check),
    _r("DELETE", _PROJECT_ENDPOINT, eg.endpoint_remove),
    _r("GET", "/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects", eg.endpoint_projects),
    _r("GET", "/v3/policies", policies.index, query=x.PolicyListQuery),
    _r("POST", "/v3/policies", policies.create, body=x.PolicyCreateBody),
    _r("GET", "/v3/policies/{policy_id}", policies.show),
    _r("PATCH", "/v3/policies/{policy_id}", policies.update, body=x.PolicyUpdateBody),
    _r("DELETE", "/v3/policies/{policy_id}", policies.delete),
]


def _domain_config_routes() -> list[Route]:
    dc = domain_configs
    out = [
        _r("GET", "/v3/domains/config/default", dc.default),
        _r("GET", "/v3/domains/config/{group}/default", dc.default),
        _r("GET", "/v3/domains/config/{group}/{option}/default", dc.default),
        _r("PUT", "/v3/domains/{domain_id}/config", dc.put, body=x.DomainConfigBody),
    ]
    for tail in ("", "/{group}", "/{group}/{option}"):
        path = f"/v3/domains/{{domain_id}}/config{tail}"
        out += [
            _r("GET", path, dc.show),
            _r("HEAD", path, dc.show),
            _r("PATCH", path, dc.update, body=x.DomainConfigBody),
            _r("DELETE", path, dc.delete),
        ]
    return out


EXTENSION_ROUTES += _domain_config_routes()

EXTENSION_ROUTES += [
    # stored credentials and their EC2 view
    Route(
        "GET",
        "/v3/credentials",
        stored_credentials.index,
        body=NoBody,
        query=x.CredentialListQuery,
    ),
    Route(
        "POST",
        "/v3/credentials",
        stored_credentials.create,
        query=NoQuery,
        body=x.CredentialCreateBody,
    ),
    Route(
        "GET",
        "/v3/credentials/{credential_id}",
        stored_credentials.show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PATCH",
        "/v3/credentials/{credential_id}",
        stored_credentials.update,
        query=NoQuery,
        body=x.CredentialUpdateBody,
    ),
    Route(
        "DELETE",
        "/v3/credentials/{credential_id}",
        stored_credentials.delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v3/users/{user_id}/credentials/OS-EC2",
        stored_credentials.ec2_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        "/v3/users/{user_id}/credentials/OS-EC2",
        stored_credentials.ec2_create,
        query=NoQuery,
        body=x.Ec2CreateBody,
    ),
    Route(
        "GET",
        "/v3/users/{user_id}/credentials/OS-EC2/{access}",
        stored_credentials.ec2_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v3/users/{user_id}/credentials/OS-EC2/{access}",
        stored_credentials.ec2_delete,
        body=NoBody,
        query=NoQuery,
    ),
    # unified limits
    Route(
        "GET", "/v3/registered_limits", limits.registered_index, body=NoBody, query=x.LimitListQuery
    ),
    Route(
        "POST",
        "/v3/registered_limits",
        limits.registered_create,
        query=NoQuery,
        body=x.RegisteredLimitsCreateBody,
    ),
    Route(
        "GET",
        "/v3/registered_limits/{limit_id}",
        limits.registered_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PATCH",
        "/v3/registered_limits/{limit_id}",
        limits.registered_update,
        query=NoQuery,
        body=x.RegisteredLimitUpdateBody,
    ),
    Route(
        "DELETE",
        "/v3/registered_limits/{limit_id}",
        limits.registered_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route("GET", "/v3/limits/model", limits.model, body=NoBody, query=NoQuery),
    Route("GET", "/v3/limits", limits.index, body=NoBody, query=x.LimitListQuery),
    Route("POST", "/v3/limits", limits.create, query=NoQuery, body=x.LimitsCreateBody),
    Route("GET", "/v3/limits/{limit_id}", limits.show, body=NoBody, query=NoQuery),
    Route("PATCH", "/v3/limits/{limit_id}", limits.update, query=NoQuery, body=x.LimitUpdateBody),
    Route("DELETE", "/v3/limits/{limit_id}", limits.delete, body=NoBody, query=NoQuery),
]
