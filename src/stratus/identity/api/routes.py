"""The identity routes table: method, path, handler and request schemas."""

from __future__ import annotations

from stratus.common.api import Route
from stratus.identity.api import (
    catalog,
    credentials,
    discovery,
    limits,
    projects,
    roles,
    tokens,
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
                Route("GET", f"{base}{suffix}", h["list"]),
                Route("PUT", one, h["create"]),
                Route("HEAD", one, h["check"]),
                Route("GET", one, h["check"]),
                Route("DELETE", one, h["delete"]),
            ]
    return out


ROUTES: list[Route] = [
    # discovery
    Route("GET", "/", discovery.versions, public=True),
    Route("GET", "/v3", discovery.version, public=True),
    Route("GET", "/v3/", discovery.version, public=True),
    # auth
    Route(
        "POST", "/v3/auth/tokens", tokens.create, body=s.AuthBody, query=s.TokenQuery, public=True
    ),
    Route("GET", "/v3/auth/tokens", tokens.show, query=s.TokenQuery),
    Route("HEAD", "/v3/auth/tokens", tokens.show, query=s.TokenQuery),
    Route("DELETE", "/v3/auth/tokens", tokens.delete),
    Route("GET", "/v3/auth/projects", tokens.projects),
    Route("GET", "/v3/auth/domains", tokens.domains),
    Route("GET", "/v3/auth/system", tokens.system),
    Route("GET", "/v3/auth/catalog", tokens.catalog),
    # domains
    Route("GET", "/v3/domains", projects.domain_index, query=s.DomainListQuery),
    Route("POST", "/v3/domains", projects.domain_create, body=s.DomainCreateBody),
    Route("GET", "/v3/domains/{domain_id}", projects.domain_show),
    Route("PATCH", "/v3/domains/{domain_id}", projects.domain_update, body=s.DomainUpdateBody),
    Route("DELETE", "/v3/domains/{domain_id}", projects.domain_delete),
    # projects
    Route("GET", "/v3/projects", projects.index, query=s.ProjectListQuery),
    Route("POST", "/v3/projects", projects.create, body=s.ProjectCreateBody),
    Route("GET", "/v3/projects/{project_id}", projects.show),
    Route("PATCH", "/v3/projects/{project_id}", projects.update, body=s.ProjectUpdateBody),
    Route("DELETE", "/v3/projects/{project_id}", projects.delete),
    Route("GET", "/v3/projects/{project_id}/tags", projects.tag_index),
    Route("PUT", "/v3/projects/{project_id}/tags", projects.tags_update, body=s.TagsBody),
    Route("DELETE", "/v3/projects/{project_id}/tags", projects.tags_delete),
    Route("GET", "/v3/projects/{project_id}/tags/{tag}", projects.tag_show),
    Route("HEAD", "/v3/projects/{project_id}/tags/{tag}", projects.tag_show),
    Route("PUT", "/v3/projects/{project_id}/tags/{tag}", projects.tag_create),
    Route("DELETE", "/v3/projects/{project_id}/tags/{tag}", projects.tag_delete),
    # users
    Route("GET", "/v3/users", users.index, query=s.UserListQuery),
    Route("POST", "/v3/users", users.create, body=s.UserCreateBody),
    Route("GET", "/v3/users/{user_id}", users.show),
    Route("PATCH", "/v3/users/{user_id}", users.update, body=s.UserUpdateBody),
    Route("DELETE", "/v3/users/{user_id}", users.delete),
    Route("POST", "/v3/users/{user_id}/password", users.change_password, body=s.PasswordChangeBody),
    Route("GET", "/v3/users/{user_id}/groups", users.user_groups, query=s.GroupListQuery),
    Route("GET", "/v3/users/{user_id}/projects", projects.user_projects, query=s.ProjectListQuery),
    # application credentials
    Route(
        "GET",
        "/v3/users/{user_id}/application_credentials",
        credentials.index,
        query=s.AppCredListQuery,
    ),
    Route(
        "POST",
        "/v3/users/{user_id}/application_credentials",
        credentials.create,
        body=s.AppCredCreateBody,
    ),
    Route("GET", "/v3/users/{user_id}/application_credentials/{credential_id}", credentials.show),
    Route(
        "DELETE", "/v3/users/{user_id}/application_credentials/{credential_id}", credentials.delete
    ),
    # groups
    Route("GET", "/v3/groups", users.group_index, query=s.GroupListQuery),
    Route("POST", "/v3/groups", users.group_create, body=s.GroupCreateBody),
    Route("GET", "/v3/groups/{group_id}", users.group_show),
    Route("PATCH", "/v3/groups/{group_id}", users.group_update, body=s.GroupUpdateBody),
    Route("DELETE", "/v3/groups/{group_id}", users.group_delete),
    Route("GET", "/v3/groups/{group_id}/users", users.member_index, query=s.UserListQuery),
    Route("PUT", "/v3/groups/{group_id}/users/{user_id}", users.member_add),
    Route("HEAD", "/v3/groups/{group_id}/users/{user_id}", users.member_check),
    Route("GET", "/v3/groups/{group_id}/users/{user_id}", users.member_check),
    Route("DELETE", "/v3/groups/{group_id}/users/{user_id}", users.member_remove),
    # roles
    Route("GET", "/v3/roles", roles.index, query=s.RoleListQuery),
    Route("POST", "/v3/roles", roles.create, body=s.RoleCreateBody),
    Route("GET", "/v3/roles/{role_id}", roles.show),
    Route("PATCH", "/v3/roles/{role_id}", roles.update, body=s.RoleUpdateBody),
    Route("DELETE", "/v3/roles/{role_id}", roles.delete),
    Route("GET", "/v3/role_inferences", roles.inference_index),
    Route("GET", "/v3/roles/{prior_role_id}/implies", roles.implied_index),
    Route("GET", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.implied_show),
    Route("HEAD", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.implied_show),
    Route("PUT", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.implied_create),
    Route("DELETE", "/v3/roles/{prior_role_id}/implies/{implied_role_id}", roles.implied_delete),
    Route("GET", "/v3/role_assignments", roles.assignment_index, query=s.AssignmentQuery),
    *_grant_routes(),
    # catalog
    Route("GET", "/v3/regions", catalog.region_index, query=s.RegionListQuery),
    Route("POST", "/v3/regions", catalog.region_create, body=s.RegionCreateBody),
    Route("GET", "/v3/regions/{region_id}", catalog.region_show),
    Route("PUT", "/v3/regions/{region_id}", catalog.region_put, body=s.RegionCreateBody),
    Route("PATCH", "/v3/regions/{region_id}", catalog.region_update, body=s.RegionUpdateBody),
    Route("DELETE", "/v3/regions/{region_id}", catalog.region_delete),
    Route("GET", "/v3/services", catalog.service_index, query=s.ServiceListQuery),
    Route("POST", "/v3/services", catalog.service_create, body=s.ServiceCreateBody),
    Route("GET", "/v3/services/{service_id}", catalog.service_show),
    Route("PATCH", "/v3/services/{service_id}", catalog.service_update, body=s.ServiceUpdateBody),
    Route("DELETE", "/v3/services/{service_id}", catalog.service_delete),
    Route("GET", "/v3/endpoints", catalog.endpoint_index, query=s.EndpointListQuery),
    Route("POST", "/v3/endpoints", catalog.endpoint_create, body=s.EndpointCreateBody),
    Route("GET", "/v3/endpoints/{endpoint_id}", catalog.endpoint_show),
    Route(
        "PATCH", "/v3/endpoints/{endpoint_id}", catalog.endpoint_update, body=s.EndpointUpdateBody
    ),
    Route("DELETE", "/v3/endpoints/{endpoint_id}", catalog.endpoint_delete),
    # unified limits
    Route("GET", "/v3/registered_limits", limits.registered_index, query=s.LimitListQuery),
    Route(
        "POST", "/v3/registered_limits", limits.registered_create, body=s.RegisteredLimitsCreateBody
    ),
    Route("GET", "/v3/registered_limits/{limit_id}", limits.registered_show),
    Route(
        "PATCH",
        "/v3/registered_limits/{limit_id}",
        limits.registered_update,
        body=s.RegisteredLimitUpdateBody,
    ),
    Route("DELETE", "/v3/registered_limits/{limit_id}", limits.registered_delete),
    Route("GET", "/v3/limits/model", limits.model),
    Route("GET", "/v3/limits", limits.index, query=s.LimitListQuery),
    Route("POST", "/v3/limits", limits.create, body=s.LimitsCreateBody),
    Route("GET", "/v3/limits/{limit_id}", limits.show),
    Route("PATCH", "/v3/limits/{limit_id}", limits.update, body=s.LimitUpdateBody),
    Route("DELETE", "/v3/limits/{limit_id}", limits.delete),
]
