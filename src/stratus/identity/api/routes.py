"""The identity routes table: method, path, handler and request schemas."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, Route
from stratus.identity.api import auth_schemas as a
from stratus.identity.api import (
    catalog,
    credentials,
    discovery,
    projects,
    roles,
    tokens,
    users,
)
from stratus.identity.api import schemas as s
from stratus.identity.api.extension_routes import EXTENSION_ROUTES


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


ROUTES: list[Route] = [
    # discovery
    Route("GET", "/", discovery.versions, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v3", discovery.version, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v3/", discovery.version, body=NoBody, query=NoQuery, public=True),
    # auth
    Route(
        "POST", "/v3/auth/tokens", tokens.create, body=a.AuthBody, query=s.TokenQuery, public=True
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
        body=a.AppCredCreateBody,
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
    *EXTENSION_ROUTES,
]
