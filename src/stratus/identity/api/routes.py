"""The identity routes table: method, path, handler and request schemas."""

from __future__ import annotations

from typing import Any

from stratus.common.api import NoBody, NoQuery, Route
from stratus.identity.api import (
    catalog,
    credentials,
    discovery,
    domain_configs,
    endpoint_groups,
    limits,
    policies,
    projects,
    roles,
    stored_credentials,
    tokens,
    trusts,
    users,
)
from stratus.identity.api import schemas as s


def _grant_routes() -> list[Route]:
    out: list[Route] = []
    kinds = [
        ("projects/{target_id}", "project", False),
        ("domains/{target_id}", "domain", False),
        ("system", "system", False),
        ("OS-INHERIT/domains/{target_id}", "domain", True),
        ("OS-INHERIT/projects/{target_id}", "project", True),
    ]
    for target_path, target, inherited in kinds:
        for actor in ("user", "group"):
            h = roles.grant_handlers(actor, target, inherited)
            base = f"/v3/{target_path}/{actor}s/{{actor_id}}/roles"
            suffix = "/inherited_to_projects" if inherited else ""
            one = f"{base}/{{role_id}}{suffix}"
            out += [
                Route("GET", f"{base}{suffix}", h["list"], body=NoBody, query=NoQuery),
                Route("PUT", one, h["create"], body=NoBody, query=NoQuery),
                Route("HEAD", one, h["check"], body=NoBody, query=NoQuery),
                Route("GET", one, h["check"], body=NoBody, query=NoQuery),
                Route("DELETE", one, h["delete"], body=NoBody, query=NoQuery),
            ]
    return out


def _r(method: str, path: str, handler: Any, body: Any = NoBody, query: Any = NoQuery) -> Route:
    return Route(method, path, handler, body=body, query=query)


_TRUST = "/v3/OS-TRUST/trusts/{trust_id}"
_GROUP = "/v3/OS-EP-FILTER/endpoint_groups/{group_id}"
_GROUP_PROJECT = f"{_GROUP}/projects/{{project_id}}"
_PROJECT_ENDPOINT = "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
eg = endpoint_groups

# Trusts (OS-TRUST), endpoint filtering (OS-EP-FILTER) and policy blobs.
_EXTENSION_ROUTES: list[Route] = [
    _r("GET", "/v3/OS-TRUST/trusts", trusts.index, query=s.TrustListQuery),
    _r("POST", "/v3/OS-TRUST/trusts", trusts.create, body=s.TrustCreateBody),
    _r("GET", _TRUST, trusts.show),
    _r("DELETE", _TRUST, trusts.delete),
    _r("GET", f"{_TRUST}/roles", trusts.role_index),
    _r("GET", f"{_TRUST}/roles/{{role_id}}", trusts.role_show),
    _r("HEAD", f"{_TRUST}/roles/{{role_id}}", trusts.role_show),
    _r("GET", "/v3/OS-EP-FILTER/endpoint_groups", eg.index, query=s.EndpointGroupListQuery),
    _r("POST", "/v3/OS-EP-FILTER/endpoint_groups", eg.create, body=s.EndpointGroupCreateBody),
    _r("GET", _GROUP, eg.show),
    _r("HEAD", _GROUP, eg.show),
    _r("PATCH", _GROUP, eg.update, body=s.EndpointGroupUpdateBody),
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
    _r("GET", "/v3/policies", policies.index, query=s.PolicyListQuery),
    _r("POST", "/v3/policies", policies.create, body=s.PolicyCreateBody),
    _r("GET", "/v3/policies/{policy_id}", policies.show),
    _r("PATCH", "/v3/policies/{policy_id}", policies.update, body=s.PolicyUpdateBody),
    _r("DELETE", "/v3/policies/{policy_id}", policies.delete),
]


def _domain_config_routes() -> list[Route]:
    dc = domain_configs
    out = [
        _r("GET", "/v3/domains/config/default", dc.default),
        _r("GET", "/v3/domains/config/{group}/default", dc.default),
        _r("GET", "/v3/domains/config/{group}/{option}/default", dc.default),
        _r("PUT", "/v3/domains/{domain_id}/config", dc.put, body=s.DomainConfigBody),
    ]
    for tail in ("", "/{group}", "/{group}/{option}"):
        path = f"/v3/domains/{{domain_id}}/config{tail}"
        out += [
            _r("GET", path, dc.show),
            _r("HEAD", path, dc.show),
            _r("PATCH", path, dc.update, body=s.DomainConfigBody),
            _r("DELETE", path, dc.delete),
        ]
    return out


_EXTENSION_ROUTES += _domain_config_routes()


ROUTES: list[Route] = [
    # discovery
    Route("GET", "/", discovery.versions, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v3", discovery.version, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v3/", discovery.version, body=NoBody, query=NoQuery, public=True),
    # auth
    Route(
        "POST", "/v3/auth/tokens", tokens.create, body=s.AuthBody, query=s.TokenQuery, public=True
    ),
    Route("GET", "/v3/auth/tokens", tokens.show, body=NoBody, query=s.TokenQuery),
    Route("HEAD", "/v3/auth/tokens", tokens.show, body=NoBody, query=s.TokenQuery),
    Route("DELETE", "/v3/auth/tokens", tokens.delete, body=NoBody, query=NoQuery),
    Route("GET", "/v3/auth/projects", tokens.projects, body=NoBody, query=NoQuery),
    Route("GET", "/v3/auth/domains", tokens.domains, body=NoBody, query=NoQuery),
    Route("GET", "/v3/auth/system", tokens.system, body=NoBody, query=NoQuery),
    Route("GET", "/v3/auth/catalog", tokens.catalog, body=NoBody, query=NoQuery),
    # domains
    Route("GET", "/v3/domains", projects.domain_index, body=NoBody, query=s.DomainListQuery),
    Route("POST", "/v3/domains", projects.domain_create, query=NoQuery, body=s.DomainCreateBody),
    Route("GET", "/v3/domains/{domain_id}", projects.domain_show, body=NoBody, query=NoQuery),
    Route(
        "PATCH",
        "/v3/domains/{domain_id}",
        projects.domain_update,
        query=NoQuery,
        body=s.DomainUpdateBody,
    ),
    Route("DELETE", "/v3/domains/{domain_id}", projects.domain_delete, body=NoBody, query=NoQuery),
    # projects
    Route("GET", "/v3/projects", projects.index, body=NoBody, query=s.ProjectListQuery),
    Route("POST", "/v3/projects", projects.create, query=NoQuery, body=s.ProjectCreateBody),
    Route("GET", "/v3/projects/{project_id}", projects.show, body=NoBody, query=NoQuery),
    Route(
        "PATCH",
        "/v3/projects/{project_id}",
        projects.update,
        query=NoQuery,
        body=s.ProjectUpdateBody,
    ),
    Route("DELETE", "/v3/projects/{project_id}", projects.delete, body=NoBody, query=NoQuery),
    Route("GET", "/v3/projects/{project_id}/tags", projects.tag_index, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        "/v3/projects/{project_id}/tags",
        projects.tags_update,
        query=NoQuery,
        body=s.TagsBody,
    ),
    Route(
        "DELETE", "/v3/projects/{project_id}/tags", projects.tags_delete, body=NoBody, query=NoQuery
    ),
    Route(
        "GET", "/v3/projects/{project_id}/tags/{tag}", projects.tag_show, body=NoBody, query=NoQuery
    ),
    Route(
        "HEAD",
        "/v3/projects/{project_id}/tags/{tag}",
        projects.tag_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v3/projects/{project_id}/tags/{tag}",
        projects.tag_create,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v3/projects/{project_id}/tags/{tag}",
        projects.tag_delete,
        body=NoBody,
        query=NoQuery,
    ),
    # users
    Route("GET", "/v3/users", users.index, body=NoBody, query=s.UserListQuery),
    Route("POST", "/v3/users", users.create, query=NoQuery, body=s.UserCreateBody),
    Route("GET", "/v3/users/{user_id}", users.show, body=NoBody, query=NoQuery),
    Route("PATCH", "/v3/users/{user_id}", users.update, query=NoQuery, body=s.UserUpdateBody),
    Route("DELETE", "/v3/users/{user_id}", users.delete, body=NoBody, query=NoQuery),
    Route(
        "POST",
        "/v3/users/{user_id}/password",
        users.change_password,
        query=NoQuery,
        body=s.PasswordChangeBody,
        public=True,
    ),
    Route(
        "GET", "/v3/users/{user_id}/groups", users.user_groups, body=NoBody, query=s.GroupListQuery
    ),
    Route(
        "GET",
        "/v3/users/{user_id}/projects",
        projects.user_projects,
        body=NoBody,
        query=s.ProjectListQuery,
    ),
    # stored credentials and their EC2 view
    Route(
        "GET",
        "/v3/credentials",
        stored_credentials.index,
        body=NoBody,
        query=s.CredentialListQuery,
    ),
    Route(
        "POST",
        "/v3/credentials",
        stored_credentials.create,
        query=NoQuery,
        body=s.CredentialCreateBody,
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
        body=s.CredentialUpdateBody,
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
        body=s.Ec2CreateBody,
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
    # application credentials
    Route(
        "GET",
        "/v3/users/{user_id}/application_credentials",
        credentials.index,
        body=NoBody,
        query=s.AppCredListQuery,
    ),
    Route(
        "POST",
        "/v3/users/{user_id}/application_credentials",
        credentials.create,
        query=NoQuery,
        body=s.AppCredCreateBody,
    ),
    Route(
        "GET",
        "/v3/users/{user_id}/application_credentials/{credential_id}",
        credentials.show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v3/users/{user_id}/application_credentials/{credential_id}",
        credentials.delete,
        body=NoBody,
        query=NoQuery,
    ),
    # access rules of application credentials
    Route(
        "GET",
        "/v3/users/{user_id}/access_rules",
        credentials.rule_index,
        body=NoBody,
        query=s.AccessRuleListQuery,
    ),
    Route(
        "GET",
        "/v3/users/{user_id}/access_rules/{access_rule_id}",
        credentials.rule_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v3/users/{user_id}/access_rules/{access_rule_id}",
        credentials.rule_delete,
        body=NoBody,
        query=NoQuery,
    ),
    # groups
    Route("GET", "/v3/groups", users.group_index, body=NoBody, query=s.GroupListQuery),
    Route("POST", "/v3/groups", users.group_create, query=NoQuery, body=s.GroupCreateBody),
    Route("GET", "/v3/groups/{group_id}", users.group_show, body=NoBody, query=NoQuery),
    Route(
        "PATCH", "/v3/groups/{group_id}", users.group_update, query=NoQuery, body=s.GroupUpdateBody
    ),
    Route("DELETE", "/v3/groups/{group_id}", users.group_delete, body=NoBody, query=NoQuery),
    Route(
        "GET", "/v3/groups/{group_id}/users", users.member_index, body=NoBody, query=s.UserListQuery
    ),
    Route(
        "PUT", "/v3/groups/{group_id}/users/{user_id}", users.member_add, body=NoBody, query=NoQuery
    ),
    Route(
        "HEAD",
        "/v3/groups/{group_id}/users/{user_id}",
        users.member_check,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v3/groups/{group_id}/users/{user_id}",
        users.member_check,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v3/groups/{group_id}/users/{user_id}",
        users.member_remove,
        body=NoBody,
        query=NoQuery,
    ),
    # roles
    Route("GET", "/v3/roles", roles.index, body=NoBody, query=s.RoleListQuery),
    Route("POST", "/v3/roles", roles.create, query=NoQuery, body=s.RoleCreateBody),
    Route("GET", "/v3/roles/{role_id}", roles.show, body=NoBody, query=NoQuery),
    Route("PATCH", "/v3/roles/{role_id}", roles.update, query=NoQuery, body=s.RoleUpdateBody),
    Route("DELETE", "/v3/roles/{role_id}", roles.delete, body=NoBody, query=NoQuery),
    Route("GET", "/v3/role_inferences", roles.inference_index, body=NoBody, query=NoQuery),
    Route(
        "GET", "/v3/roles/{prior_role_id}/implies", roles.implied_index, body=NoBody, query=NoQuery
    ),
    Route(
        "GET",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        roles.implied_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "HEAD",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        roles.implied_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        roles.implied_create,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        roles.implied_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET", "/v3/role_assignments", roles.assignment_index, body=NoBody, query=s.AssignmentQuery
    ),
    *_grant_routes(),
    # catalog
    Route("GET", "/v3/regions", catalog.region_index, body=NoBody, query=s.RegionListQuery),
    Route("POST", "/v3/regions", catalog.region_create, query=NoQuery, body=s.RegionCreateBody),
    Route("GET", "/v3/regions/{region_id}", catalog.region_show, body=NoBody, query=NoQuery),
    Route(
        "PUT", "/v3/regions/{region_id}", catalog.region_put, query=NoQuery, body=s.RegionCreateBody
    ),
    Route(
        "PATCH",
        "/v3/regions/{region_id}",
        catalog.region_update,
        query=NoQuery,
        body=s.RegionUpdateBody,
    ),
    Route("DELETE", "/v3/regions/{region_id}", catalog.region_delete, body=NoBody, query=NoQuery),
    Route("GET", "/v3/services", catalog.service_index, body=NoBody, query=s.ServiceListQuery),
    Route("POST", "/v3/services", catalog.service_create, query=NoQuery, body=s.ServiceCreateBody),
    Route("GET", "/v3/services/{service_id}", catalog.service_show, body=NoBody, query=NoQuery),
    Route(
        "PATCH",
        "/v3/services/{service_id}",
        catalog.service_update,
        query=NoQuery,
        body=s.ServiceUpdateBody,
    ),
    Route(
        "DELETE", "/v3/services/{service_id}", catalog.service_delete, body=NoBody, query=NoQuery
    ),
    Route("GET", "/v3/endpoints", catalog.endpoint_index, body=NoBody, query=s.EndpointListQuery),
    Route(
        "POST", "/v3/endpoints", catalog.endpoint_create, query=NoQuery, body=s.EndpointCreateBody
    ),
    Route("GET", "/v3/endpoints/{endpoint_id}", catalog.endpoint_show, body=NoBody, query=NoQuery),
    Route(
        "PATCH",
        "/v3/endpoints/{endpoint_id}",
        catalog.endpoint_update,
        query=NoQuery,
        body=s.EndpointUpdateBody,
    ),
    Route(
        "DELETE", "/v3/endpoints/{endpoint_id}", catalog.endpoint_delete, body=NoBody, query=NoQuery
    ),
    # unified limits
    Route(
        "GET", "/v3/registered_limits", limits.registered_index, body=NoBody, query=s.LimitListQuery
    ),
    Route(
        "POST",
        "/v3/registered_limits",
        limits.registered_create,
        query=NoQuery,
        body=s.RegisteredLimitsCreateBody,
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
        body=s.RegisteredLimitUpdateBody,
    ),
    Route(
        "DELETE",
        "/v3/registered_limits/{limit_id}",
        limits.registered_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route("GET", "/v3/limits/model", limits.model, body=NoBody, query=NoQuery),
    Route("GET", "/v3/limits", limits.index, body=NoBody, query=s.LimitListQuery),
    Route("POST", "/v3/limits", limits.create, query=NoQuery, body=s.LimitsCreateBody),
    Route("GET", "/v3/limits/{limit_id}", limits.show, body=NoBody, query=NoQuery),
    Route("PATCH", "/v3/limits/{limit_id}", limits.update, query=NoQuery, body=s.LimitUpdateBody),
    Route("DELETE", "/v3/limits/{limit_id}", limits.delete, body=NoBody, query=NoQuery),
    *_EXTENSION_ROUTES,
]
