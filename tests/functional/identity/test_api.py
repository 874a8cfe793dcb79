"""The Keystone v3 API as OpenStack clients use it, over raw HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.conftest import Server
from tests.functional.identity.helpers import (
    client,
    create,
    grant,
    issue,
    make_project,
    make_user,
    password_auth,
    role_id,
    token_for,
    unique,
    user_with_role,
)

ADMIN = {"name": "admin", "domain": {"id": "default"}}


def admin_auth(server: Server, scope: dict[str, Any] | None = None, **params: str) -> httpx.Response:
    return issue(server, password_auth(ADMIN, server.admin_password, scope), **params)


def token_body(server: Server, token: str) -> dict[str, Any]:
    with client(server) as c:
        resp = c.get("/auth/tokens", headers={"X-Subject-Token": token})
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


def role_names(token: dict[str, Any]) -> set[str]:
    return {r["name"] for r in token.get("roles", [])}


# -- discovery ------------------------------------------------------------------


def test_version_list(server: Server) -> None:
    resp = httpx.get(f"{server.url}/identity/")
    assert resp.status_code == 300
    values = resp.json()["versions"]["values"]
    v3 = [v for v in values if v["id"].startswith("v3")]
    assert len(v3) == 1
    assert v3[0]["status"] == "stable"
    assert {"rel": "self", "href": f"{server.auth_url}/"} in v3[0]["links"]


def test_version_without_token(server: Server) -> None:
    for path in ("/identity/v3", "/identity/v3/"):
        resp = httpx.get(f"{server.url}{path}")
        assert resp.status_code == 200
        version = resp.json()["version"]
        assert version["id"].startswith("v3.")
        assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"
        self_links = [link["href"] for link in version["links"] if link["rel"] == "self"]
        assert self_links == [f"{server.auth_url}/"]
        assert urlparse(self_links[0]).scheme == "http"


# -- token scopes ---------------------------------------------------------------


def test_unscoped_token(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
    resp = issue(server, password_auth(user["id"], user["password"]))
    assert resp.status_code == 201
    token = resp.json()["token"]
    assert token["user"]["id"] == user["id"]
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["methods"] == ["password"]
    assert "project" not in token and "domain" not in token and "system" not in token
    assert "roles" not in token or token["roles"] == []
    assert "catalog" not in token or token["catalog"] == []
    assert len(token["audit_ids"]) == 1


def test_project_scope_by_id_and_by_name(server: Server) -> None:
    user, project, _ = user_with_role(server, "member")
    by_id = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    by_name = issue(
        server,
        password_auth(
            {"name": user["name"], "domain": {"name": "Default"}},
            user["password"],
            {"project": {"name": project["name"], "domain": {"name": "Default"}}},
        ),
    )
    for resp in (by_id, by_name):
        assert resp.status_code == 201, resp.text
        token = resp.json()["token"]
        assert token["project"] == {"id": project["id"], "name": project["name"], "domain": {"id": "default", "name": "Default"}}
        assert role_names(token) == {"member", "reader"}
        assert token["is_domain"] is False
        assert any(s["type"] == "identity" for s in token["catalog"])


def test_scope_to_project_without_role_is_401(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        project = make_project(c)
    resp = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    assert resp.status_code == 401
    assert "x-subject-token" not in resp.headers


def test_domain_scope(server: Server) -> None:
    resp = admin_auth(server, {"domain": {"id": "default"}})
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["domain"] == {"id": "default", "name": "Default"}
    assert "project" not in token
    assert "admin" in role_names(token)
    by_name = admin_auth(server, {"domain": {"name": "Default"}})
    assert by_name.status_code == 201
    assert by_name.json()["token"]["domain"]["id"] == "default"


def test_system_scope(server: Server) -> None:
    resp = admin_auth(server, {"system": {"all": True}})
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["system"] == {"all": True}
    assert "project" not in token and "domain" not in token
    assert "admin" in role_names(token)
    # A user without a system grant cannot get a system-scoped token.
    user, _, _ = user_with_role(server, "member")
    denied = issue(server, password_auth(user["id"], user["password"], {"system": {"all": True}}))
    assert denied.status_code == 401


def test_token_method_rescoping(server: Server) -> None:
    user, project, _ = user_with_role(server, "member")
    unscoped = issue(server, password_auth(user["id"], user["password"]))
    assert unscoped.status_code == 201
    first = unscoped.json()["token"]
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped.headers["x-subject-token"]}},
            "scope": {"project": {"id": project["id"]}},
        }
    }
    rescoped = issue(server, body)
    assert rescoped.status_code == 201, rescoped.text
    token = rescoped.json()["token"]
    assert token["project"]["id"] == project["id"]
    assert token["user"]["id"] == user["id"]
    assert "token" in token["methods"]
    # The chain keeps the original audit id and cannot outlive the first token.
    assert token["audit_ids"][1] == first["audit_ids"][0]
    assert token["expires_at"] <= first["expires_at"]


def test_validate_token_get_and_head(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as c:
        got = c.get("/auth/tokens", headers={"X-Subject-Token": token})
        head = c.head("/auth/tokens", headers={"X-Subject-Token": token})
        nocat = c.get("/auth/tokens", headers={"X-Subject-Token": token}, params={"nocatalog": "1"})
        missing = c.get("/auth/tokens")
    assert got.status_code == 200
    assert got.headers["x-subject-token"] == token
    assert got.json()["token"]["user"]["id"] == user["id"]
    assert got.json()["token"]["project"]["id"] == project["id"]
    assert got.json()["token"]["catalog"]
    assert head.status_code == 200
    assert head.headers["x-subject-token"] == token
    assert head.content == b""
    assert nocat.status_code == 200
    assert "catalog" not in nocat.json()["token"]
    assert missing.status_code == 400
    # A user may validate their own token.
    with client(server, token) as c:
        assert c.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 200


def test_issue_nocatalog(server: Server) -> None:
    resp = admin_auth(server, {"project": {"name": "admin", "domain": {"id": "default"}}}, nocatalog="true")
    assert resp.status_code == 201
    assert "catalog" not in resp.json()["token"]


def test_auth_projects_domains_system(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as admin:
        make_project(admin)  # a project the user has no role on
    with client(server, token) as c:
        projects = c.get("/auth/projects")
        domains = c.get("/auth/domains")
        system = c.get("/auth/system")
    assert projects.status_code == 200
    assert [p["id"] for p in projects.json()["projects"]] == [project["id"]]
    assert domains.status_code == 200
    assert domains.json()["domains"] == []
    assert system.status_code == 200
    assert system.json()["system"] == []
    with client(server) as admin:
        assert admin.get("/auth/system").json()["system"] == [{"all": True}]
        assert "default" in [d["id"] for d in admin.get("/auth/domains").json()["domains"]]
        admin_projects = [p["name"] for p in admin.get("/auth/projects").json()["projects"]]
    assert "admin" in admin_projects


def test_catalog_substitutes_project_id(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as c:
        stype = unique("object-store")
        service = create(c, "service", {"type": stype, "name": unique("swift")})
        template = "http://x/v1/AUTH_$(project_id)s"
        endpoint = create(
            c, "endpoint",
            {"service_id": service["id"], "interface": "public", "url": template, "region_id": "RegionOne"},
        )
        listed = c.get("/endpoints", params={"service_id": service["id"]}).json()["endpoints"]
        assert [e["url"] for e in listed] == [template]
        assert c.get(f"/endpoints/{endpoint['id']}").json()["endpoint"]["url"] == template
    with client(server, token) as c:
        catalog = c.get("/auth/catalog")
    assert catalog.status_code == 200
    entries = [s for s in catalog.json()["catalog"] if s["type"] == stype]
    assert len(entries) == 1
    assert [e["url"] for e in entries[0]["endpoints"]] == [f"http://x/v1/AUTH_{project['id']}"]
    in_token = [s for s in token_body(server, token)["catalog"] if s["type"] == stype]
    assert [e["url"] for e in in_token[0]["endpoints"]] == [f"http://x/v1/AUTH_{project['id']}"]


def test_unscoped_token_has_no_catalog(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
    token = token_for(server, user["id"], user["password"])
    with client(server, token) as c:
        assert c.get("/auth/catalog").status_code == 403


# -- domains --------------------------------------------------------------------


def test_domain_crud(server: Server) -> None:
    name = unique("dom")
    with client(server) as c:
        domain = create(c, "domain", {"name": name, "description": "d"})
        assert domain["enabled"] is True
        assert c.get(f"/domains/{domain['id']}").json()["domain"]["name"] == name
        assert [d["id"] for d in c.get("/domains", params={"name": name}).json()["domains"]] == [domain["id"]]
        project = make_project(c, domain_id=domain["id"])
        assert project["domain_id"] == domain["id"]
        # An enabled domain cannot be deleted.
        refused = c.delete(f"/domains/{domain['id']}")
        assert refused.status_code in (400, 403, 409)
        assert c.get(f"/domains/{domain['id']}").status_code == 200
        patched = c.patch(f"/domains/{domain['id']}", json={"domain": {"enabled": False, "description": "e"}})
        assert patched.status_code == 200
        assert patched.json()["domain"]["enabled"] is False
        assert patched.json()["domain"]["description"] == "e"
        assert c.delete(f"/domains/{domain['id']}").status_code == 204
        assert c.get(f"/domains/{domain['id']}").status_code == 404
        # Its projects went with it.
        assert c.get(f"/projects/{project['id']}").status_code == 404


def test_default_domain_cannot_be_deleted_while_enabled(server: Server) -> None:
    with client(server) as c:
        assert c.delete("/domains/default").status_code in (400, 403, 409)
        assert c.get("/domains/default").status_code == 200


# -- projects and tags ----------------------------------------------------------


def test_project_tags(server: Server) -> None:
    with client(server) as c:
        project = make_project(c, tags=["blue", "green"])
        pid = project["id"]
        assert sorted(project["tags"]) == ["blue", "green"]
        assert sorted(c.get(f"/projects/{pid}/tags").json()["tags"]) == ["blue", "green"]
        put = c.put(f"/projects/{pid}/tags", json={"tags": ["red", "yellow"]})
        assert put.status_code == 200
        assert sorted(put.json()["tags"]) == ["red", "yellow"]
        assert c.put(f"/projects/{pid}/tags/purple").status_code == 201
        assert c.head(f"/projects/{pid}/tags/purple").status_code == 204
        assert c.get(f"/projects/{pid}/tags/purple").status_code == 204
        assert c.head(f"/projects/{pid}/tags/blue").status_code == 404
        assert c.delete(f"/projects/{pid}/tags/red").status_code == 204
        assert c.delete(f"/projects/{pid}/tags/red").status_code == 404
        assert sorted(c.get(f"/projects/{pid}").json()["project"]["tags"]) == ["purple", "yellow"]
        assert c.delete(f"/projects/{pid}/tags").status_code == 204
        assert c.get(f"/projects/{pid}/tags").json()["tags"] == []


def test_concurrent_tag_replacement_is_atomic(server: Server) -> None:
    """PUT /tags replaces the whole set: concurrent replacements leave one of them, whole."""
    from concurrent.futures import ThreadPoolExecutor

    token = client(server).headers["X-Auth-Token"]
    with client(server) as c:
        project = make_project(c)
    url = f"{server.auth_url}/projects/{project['id']}/tags"

    def put(i: int) -> int:
        body = {"tags": ["a", "b", f"c{i}"]}
        return httpx.put(url, json=body, headers={"X-Auth-Token": token}, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(put, range(8)))
    assert codes == [200] * 8
    with client(server) as c:
        tags = sorted(c.get(f"/projects/{project['id']}/tags").json()["tags"])
    assert len(tags) == 3 and tags[:2] == ["a", "b"] and tags[2].startswith("c"), tags


def test_project_tag_filters(server: Server) -> None:
    a, b = unique("ta"), unique("tb")
    with client(server) as c:
        both = make_project(c, tags=[a, b])
        only_a = make_project(c, tags=[a])
        only_b = make_project(c, tags=[b])

        def ids(**params: str) -> set[str]:
            resp = c.get("/projects", params=params)
            assert resp.status_code == 200, resp.text
            return {p["id"] for p in resp.json()["projects"]}

        assert ids(tags=f"{a},{b}") == {both["id"]}
        assert ids(tags=a) == {both["id"], only_a["id"]}
        assert ids(**{"tags-any": f"{a},{b}"}) == {both["id"], only_a["id"], only_b["id"]}
        not_a = ids(**{"not-tags": a})
        assert only_b["id"] in not_a
        assert both["id"] not in not_a and only_a["id"] not in not_a
        not_both = ids(**{"not-tags": f"{a},{b}"})
        assert both["id"] not in not_both
        assert only_a["id"] in not_both and only_b["id"] in not_both


# -- users ----------------------------------------------------------------------


def test_user_extra_attributes_and_no_password_echo(server: Server) -> None:
    with client(server) as c:
        resp = c.post(
            "/users",
            json={"user": {"name": unique("u"), "password": "pw-123456", "email": "a@example.org", "domain_id": "default"}},
        )
        assert resp.status_code == 201
        user = resp.json()["user"]
        assert user["email"] == "a@example.org"
        assert user["enabled"] is True
        assert user["domain_id"] == "default"
        assert "pw-123456" not in resp.text
        shown = c.get(f"/users/{user['id']}")
        assert shown.json()["user"]["email"] == "a@example.org"
        assert "password" not in shown.json()["user"]
        patched = c.patch(f"/users/{user['id']}", json={"user": {"email": "b@example.org", "password": "pw-654321"}})
        assert patched.status_code == 200
        assert patched.json()["user"]["email"] == "b@example.org"
        assert "pw-654321" not in patched.text
        listed = c.get("/users", params={"name": user["name"]})
        assert "pw-" not in listed.text
        assert listed.json()["users"][0]["email"] == "b@example.org"
    assert issue(server, password_auth(user["id"], "pw-654321")).status_code == 201


def test_change_own_password(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    other_token = token_for(server, user["id"], user["password"])
    with client(server, token) as c:
        wrong = c.post(
            f"/users/{user['id']}/password",
            json={"user": {"password": "brand-new-1", "original_password": "not-it"}},
        )
        assert wrong.status_code == 401
        assert c.get(f"/projects/{project['id']}").status_code == 200  # a failed change revokes nothing
        ok = c.post(
            f"/users/{user['id']}/password",
            json={"user": {"password": "brand-new-1", "original_password": user["password"]}},
        )
        assert ok.status_code == 204, ok.text
    for old in (token, other_token):
        assert httpx.get(f"{server.auth_url}/users/{user['id']}", headers={"X-Auth-Token": old}).status_code == 401
    assert issue(server, password_auth(user["id"], user["password"])).status_code == 401
    fresh = token_for(server, user["id"], "brand-new-1", project["id"])
    with client(server, fresh) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 200


# -- groups ---------------------------------------------------------------------


def test_group_membership(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        group = create(c, "group", {"name": unique("g"), "domain_id": "default"})
        gid, uid = group["id"], user["id"]
        assert c.head(f"/groups/{gid}/users/{uid}").status_code == 404
        assert c.put(f"/groups/{gid}/users/{uid}").status_code == 204
        assert c.head(f"/groups/{gid}/users/{uid}").status_code == 204
        assert [u["id"] for u in c.get(f"/groups/{gid}/users").json()["users"]] == [uid]
        assert [g["id"] for g in c.get(f"/users/{uid}/groups").json()["groups"]] == [gid]
        assert c.delete(f"/groups/{gid}/users/{uid}").status_code == 204
        assert c.head(f"/groups/{gid}/users/{uid}").status_code == 404
        assert c.get(f"/users/{uid}/groups").json()["groups"] == []
        assert c.put(f"/groups/{gid}/users/{'0' * 32}").status_code == 404


def test_group_role_gives_user_token_role(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        project = make_project(c)
        group = create(c, "group", {"name": unique("g"), "domain_id": "default"})
        assert c.put(f"/groups/{group['id']}/users/{user['id']}").status_code == 204
        rid = role_id(c, "member")
        assert c.put(f"/projects/{project['id']}/groups/{group['id']}/roles/{rid}").status_code == 204
        assert c.head(f"/projects/{project['id']}/groups/{group['id']}/roles/{rid}").status_code == 204
    token = token_for(server, user["id"], user["password"], project["id"])
    assert role_names(token_body(server, token)) == {"member", "reader"}
    with client(server, token) as c:
        assert [p["id"] for p in c.get("/auth/projects").json()["projects"]] == [project["id"]]
    with client(server) as c:
        # Removing the user from the group takes the role away.
        assert c.delete(f"/groups/{group['id']}/users/{user['id']}").status_code == 204
    resp = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    assert resp.status_code == 401


# -- role assignments -----------------------------------------------------------


def test_role_assignments_effective_and_names(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        project = make_project(c)
        group = create(c, "group", {"name": unique("g"), "domain_id": "default"})
        c.put(f"/groups/{group['id']}/users/{user['id']}")
        grant(c, project["id"], user["id"], "member")
        manager = role_id(c, "manager")
        assert c.put(f"/projects/{project['id']}/groups/{group['id']}/roles/{manager}").status_code == 204

        direct = c.get("/role_assignments", params={"scope.project.id": project["id"]}).json()["role_assignments"]
        assert len(direct) == 2
        assert {("user" in a, a["role"]["id"]) for a in direct} == {(True, role_id(c, "member")), (False, manager)}
        assert all(a["scope"] == {"project": {"id": project["id"]}} for a in direct)
        assert all("links" in a for a in direct)

        effective = c.get(
            "/role_assignments",
            params={"scope.project.id": project["id"], "effective": "true", "include_names": "true"},
        ).json()["role_assignments"]
        assert all(a["user"]["id"] == user["id"] for a in effective)  # groups expanded
        assert {a["role"]["name"] for a in effective} == {"manager", "member", "reader"}
        sample = effective[0]
        assert sample["user"]["name"] == user["name"]
        assert sample["user"]["domain"] == {"id": "default", "name": "Default"}
        assert sample["scope"]["project"]["name"] == project["name"]
        assert sample["scope"]["project"]["domain"]["name"] == "Default"

        by_user = c.get("/role_assignments", params={"user.id": user["id"]}).json()["role_assignments"]
        assert [(a["role"]["id"], a["scope"]["project"]["id"]) for a in by_user] == [
            (role_id(c, "member"), project["id"])
        ]
        by_user_effective = c.get(
            "/role_assignments", params={"user.id": user["id"], "effective": "1"}
        ).json()["role_assignments"]
        assert {a["role"]["id"] for a in by_user_effective} == {
            role_id(c, n) for n in ("manager", "member", "reader")
        }
        by_role = c.get(
            "/role_assignments", params={"role.id": manager, "scope.project.id": project["id"]}
        ).json()["role_assignments"]
        assert [a["group"]["id"] for a in by_role] == [group["id"]]


def test_member_grant_implies_reader_in_effective_listing(server: Server) -> None:
    user, project, _ = user_with_role(server, "member")
    with client(server) as c:
        rows = c.get(
            "/role_assignments", params={"user.id": user["id"], "effective": "", "include_names": ""}
        ).json()["role_assignments"]
    assert sorted(a["role"]["name"] for a in rows) == ["member", "reader"]
    assert all(a["scope"]["project"]["id"] == project["id"] for a in rows)


def test_system_grant(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        reader = role_id(c, "reader")
        assert c.head(f"/system/users/{user['id']}/roles/{reader}").status_code == 404
        assert c.put(f"/system/users/{user['id']}/roles/{reader}").status_code == 204
        assert c.head(f"/system/users/{user['id']}/roles/{reader}").status_code == 204
        listed = c.get(f"/system/users/{user['id']}/roles").json()["roles"]
        assert [r["id"] for r in listed] == [reader]
        rows = c.get("/role_assignments", params={"user.id": user["id"]}).json()["role_assignments"]
        assert [a["scope"] for a in rows] == [{"system": {"all": True}}]
    resp = issue(server, password_auth(user["id"], user["password"], {"system": {"all": True}}))
    assert resp.status_code == 201, resp.text
    assert resp.json()["token"]["system"] == {"all": True}
    assert role_names(resp.json()["token"]) == {"reader"}
    with client(server) as c:
        assert c.delete(f"/system/users/{user['id']}/roles/{reader}").status_code == 204
    assert issue(server, password_auth(user["id"], user["password"], {"system": {"all": True}})).status_code == 401


# -- catalog --------------------------------------------------------------------


def test_regions_services_endpoints_crud(server: Server) -> None:
    with client(server) as c:
        region = create(c, "region", {"id": unique("Region"), "description": "r"})
        assert c.get(f"/regions/{region['id']}").json()["region"]["description"] == "r"
        sub = create(c, "region", {"id": unique("Sub"), "parent_region_id": region["id"]})
        assert sub["parent_region_id"] == region["id"]
        assert c.patch(f"/regions/{region['id']}", json={"region": {"description": "r2"}}).json()["region"]["description"] == "r2"

        service = create(c, "service", {"type": unique("compute"), "name": "nova", "description": "s"})
        assert service["enabled"] is True
        assert c.patch(f"/services/{service['id']}", json={"service": {"name": "nova2"}}).json()["service"]["name"] == "nova2"
        assert c.get("/services", params={"type": service["type"]}).json()["services"][0]["id"] == service["id"]

        endpoint = create(
            c, "endpoint",
            {"service_id": service["id"], "interface": "internal", "url": "http://n:8774/v2.1", "region_id": region["id"]},
        )
        assert endpoint["region_id"] == region["id"]
        assert endpoint["region"] == region["id"]
        assert endpoint["enabled"] is True
        patched = c.patch(f"/endpoints/{endpoint['id']}", json={"endpoint": {"url": "http://n:9999/v2.1"}})
        assert patched.json()["endpoint"]["url"] == "http://n:9999/v2.1"
        listed = c.get("/endpoints", params={"service_id": service["id"], "interface": "internal"}).json()
        assert [e["id"] for e in listed["endpoints"]] == [endpoint["id"]]

        assert c.post("/endpoints", json={"endpoint": {"service_id": "0" * 32, "interface": "public", "url": "http://x"}}).status_code in (400, 404)

        assert c.delete(f"/endpoints/{endpoint['id']}").status_code == 204
        assert c.get(f"/endpoints/{endpoint['id']}").status_code == 404
        assert c.delete(f"/services/{service['id']}").status_code == 204
        assert c.get(f"/services/{service['id']}").status_code == 404
        # A region with children cannot go first.
        assert c.delete(f"/regions/{region['id']}").status_code in (400, 403, 409)
        assert c.delete(f"/regions/{sub['id']}").status_code == 204
        assert c.delete(f"/regions/{region['id']}").status_code == 204
        assert c.get(f"/regions/{region['id']}").status_code == 404


def test_deleting_service_removes_its_endpoints(server: Server) -> None:
    with client(server) as c:
        service = create(c, "service", {"type": unique("t")})
        endpoint = create(c, "endpoint", {"service_id": service["id"], "interface": "public", "url": "http://y"})
        assert c.delete(f"/services/{service['id']}").status_code == 204
        assert c.get(f"/endpoints/{endpoint['id']}").status_code == 404


# -- application credentials ----------------------------------------------------


def _app_cred(c: httpx.Client, user_id: str, **attrs: Any) -> httpx.Response:
    return c.post(f"/users/{user_id}/application_credentials", json={"application_credential": attrs})


def app_cred_auth(**ref: Any) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {"methods": ["application_credential"], "application_credential": ref}
        }
    }


def test_app_cred_roles_default_to_token_roles(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server, token) as c:
        resp = _app_cred(c, user["id"], name=unique("ac"), roles=[])
    assert resp.status_code == 201, resp.text
    cred = resp.json()["application_credential"]
    assert cred["project_id"] == project["id"]
    assert {r["name"] for r in cred["roles"]} == {"member", "reader"}
    assert cred["secret"]


def test_app_cred_explicit_role_subset(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server, token) as c:
        subset = _app_cred(c, user["id"], name=unique("ac"), roles=[{"name": "reader"}])
        too_much = _app_cred(c, user["id"], name=unique("ac"), roles=[{"name": "admin"}])
    assert subset.status_code == 201, subset.text
    cred = subset.json()["application_credential"]
    assert [r["name"] for r in cred["roles"]] == ["reader"]
    assert too_much.status_code in (400, 403)
    resp = issue(server, app_cred_auth(id=cred["id"], secret=cred["secret"]))
    assert resp.status_code == 201, resp.text
    assert role_names(resp.json()["token"]) == {"reader"}
    # Reader-only: the credential's token cannot do what a member's could not either,
    # and reading the own project still works.
    with client(server, resp.headers["x-subject-token"]) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 200


def test_app_cred_expiry_in_past_is_400(server: Server) -> None:
    user, _, token = user_with_role(server, "member")
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    with client(server, token) as c:
        resp = _app_cred(c, user["id"], name=unique("ac"), expires_at=past)
        assert resp.status_code == 400, resp.text
        assert c.get(f"/users/{user['id']}/application_credentials").json()["application_credentials"] == []


def test_app_cred_secret_shown_once_and_auth_by_id_and_by_name(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    name = unique("ac")
    with client(server, token) as c:
        created = _app_cred(c, user["id"], name=name, description="ci").json()["application_credential"]
        secret = created["secret"]
        shown = c.get(f"/users/{user['id']}/application_credentials/{created['id']}")
        listed = c.get(f"/users/{user['id']}/application_credentials")
        by_name = c.get(f"/users/{user['id']}/application_credentials", params={"name": name})
    assert shown.status_code == 200
    assert "secret" not in shown.json()["application_credential"]
    assert secret not in shown.text and secret not in listed.text
    assert [a["id"] for a in listed.json()["application_credentials"]] == [created["id"]]
    assert [a["id"] for a in by_name.json()["application_credentials"]] == [created["id"]]

    with_id = issue(server, app_cred_auth(id=created["id"], secret=secret))
    with_name_and_user_id = issue(server, app_cred_auth(name=name, user={"id": user["id"]}, secret=secret))
    with_name_and_user_name = issue(
        server, app_cred_auth(name=name, user={"name": user["name"], "domain": {"name": "Default"}}, secret=secret)
    )
    wrong_secret = issue(server, app_cred_auth(id=created["id"], secret=secret + "x"))
    for resp in (with_id, with_name_and_user_id, with_name_and_user_name):
        assert resp.status_code == 201, resp.text
        tok = resp.json()["token"]
        assert tok["project"]["id"] == project["id"]
        assert tok["user"]["id"] == user["id"]
        assert tok["application_credential"]["id"] == created["id"]
    assert wrong_secret.status_code == 401


def test_app_cred_delete_invalidates_its_tokens(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server, token) as c:
        cred = _app_cred(c, user["id"], name=unique("ac")).json()["application_credential"]
    ac_token = issue(server, app_cred_auth(id=cred["id"], secret=cred["secret"])).headers["x-subject-token"]
    with client(server, ac_token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 200
    with client(server, token) as c:
        assert c.delete(f"/users/{user['id']}/application_credentials/{cred['id']}").status_code == 204
        assert c.get(f"/users/{user['id']}/application_credentials/{cred['id']}").status_code == 404
    with client(server, ac_token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 401
    assert issue(server, app_cred_auth(id=cred["id"], secret=cred["secret"])).status_code == 401


def test_app_cred_token_cannot_be_rescoped(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as admin:
        other = make_project(admin)
        grant(admin, other["id"], user["id"], "member")
    with client(server, token) as c:
        cred = _app_cred(c, user["id"], name=unique("ac")).json()["application_credential"]
    ac_token = issue(server, app_cred_auth(id=cred["id"], secret=cred["secret"])).headers["x-subject-token"]
    for scope in ({"project": {"id": other["id"]}}, {"project": {"id": project["id"]}}):
        body = {"auth": {"identity": {"methods": ["token"], "token": {"id": ac_token}}, "scope": scope}}
        resp = issue(server, body)
        assert resp.status_code == 403, resp.text
        assert "x-subject-token" not in resp.headers


def test_app_cred_cannot_create_app_creds(server: Server) -> None:
    user, _, token = user_with_role(server, "member")
    with client(server, token) as c:
        cred = _app_cred(c, user["id"], name=unique("ac")).json()["application_credential"]
    ac_token = issue(server, app_cred_auth(id=cred["id"], secret=cred["secret"])).headers["x-subject-token"]
    with client(server, ac_token) as c:
        assert _app_cred(c, user["id"], name=unique("ac2")).status_code == 403


# -- listing --------------------------------------------------------------------


def test_pagination_follows_next_links(server: Server) -> None:
    prefix = unique("page")
    with client(server) as c:
        made = {make_project(c, name=f"{prefix}-{i}")["id"] for i in range(5)}
        first = c.get("/projects", params={"limit": 2, "name__startswith": prefix})
        assert first.status_code == 200
        assert len(first.json()["projects"]) == 2
        seen = [p["id"] for p in first.json()["projects"]]
        next_url = first.json()["links"]["next"]
        assert next_url
        query = parse_qs(urlparse(next_url).query)
        assert "marker" in query
        assert query["limit"] == ["2"]
        pages = 1
        while next_url:
            resp = c.get(next_url)
            assert resp.status_code == 200
            seen += [p["id"] for p in resp.json()["projects"]]
            next_url = resp.json()["links"]["next"]
            pages += 1
            assert pages < 10
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == made
    assert pages == 3


def test_pagination_over_all_projects_has_no_duplicates(server: Server) -> None:
    with client(server) as c:
        everything = [p["id"] for p in c.get("/projects").json()["projects"]]
        assert c.get("/projects").json()["links"]["next"] is None
        seen: list[str] = []
        url: str | None = "/projects?limit=2"
        while url:
            body = c.get(url).json()
            seen += [p["id"] for p in body["projects"]]
            url = body["links"]["next"]
    assert len(seen) == len(set(seen))
    assert set(everything) <= set(seen)


def test_name_filters(server: Server) -> None:
    stem = unique("filt")
    with client(server) as c:
        a = make_project(c, name=f"{stem}-alpha")
        b = make_project(c, name=f"{stem}-beta")
        exact = c.get("/projects", params={"name": a["name"]}).json()["projects"]
        assert [p["id"] for p in exact] == [a["id"]]
        contains = c.get("/projects", params={"name__contains": stem}).json()["projects"]
        assert {p["id"] for p in contains} == {a["id"], b["id"]}
        beta = c.get("/projects", params={"name__contains": f"{stem}-bet"}).json()["projects"]
        assert [p["id"] for p in beta] == [b["id"]]
        icase = c.get("/projects", params={"name__icontains": stem.upper()}).json()["projects"]
        assert {p["id"] for p in icase} == {a["id"], b["id"]}
        assert c.get("/projects", params={"name": stem}).json()["projects"] == []
        users = c.get("/users", params={"name__contains": "dmi"}).json()["users"]
        assert "admin" in [u["name"] for u in users]


# -- revocation by state change -------------------------------------------------


def test_disabling_user_invalidates_tokens(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server, token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 200
    with client(server) as admin:
        assert admin.patch(f"/users/{user['id']}", json={"user": {"enabled": False}}).status_code == 200
        assert admin.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    with client(server, token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 401
    assert issue(server, password_auth(user["id"], user["password"])).status_code == 401
    with client(server) as admin:
        admin.patch(f"/users/{user['id']}", json={"user": {"enabled": True}})
    # Re-enabling does not resurrect the old token; a new one works.
    with client(server, token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 401
    assert issue(server, password_auth(user["id"], user["password"])).status_code == 201


def test_deleting_project_invalidates_its_tokens(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    unscoped = token_for(server, user["id"], user["password"])
    with client(server) as admin:
        assert admin.delete(f"/projects/{project['id']}").status_code == 204
        assert admin.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    with client(server, token) as c:
        assert c.get(f"/users/{user['id']}").status_code == 401
    with client(server, unscoped) as c:
        assert c.get(f"/users/{user['id']}").status_code == 200
        assert c.get("/auth/projects").json()["projects"] == []


def test_removing_role_invalidates_project_token(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as admin:
        rid = role_id(admin, "member")
        assert admin.delete(f"/projects/{project['id']}/users/{user['id']}/roles/{rid}").status_code == 204
    with client(server, token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 401


def test_deleting_user_invalidates_tokens(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as admin:
        assert admin.delete(f"/users/{user['id']}").status_code == 204
        assert admin.get("/role_assignments", params={"user.id": user["id"]}).json()["role_assignments"] == []
    with client(server, token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 401



def test_domain_role_and_inherited_project_role(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        domain = create(c, "domain", {"name": unique("dom")})
        project = make_project(c, domain_id=domain["id"])
        reader, member = role_id(c, "reader"), role_id(c, "member")
        assert c.put(f"/domains/{domain['id']}/users/{user['id']}/roles/{reader}").status_code == 204
        inherited = f"/OS-INHERIT/domains/{domain['id']}/users/{user['id']}/roles/{member}/inherited_to_projects"
        assert c.put(inherited).status_code == 204
        assert c.head(inherited).status_code == 204
    dom_token = issue(server, password_auth(user["id"], user["password"], {"domain": {"id": domain["id"]}}))
    assert dom_token.status_code == 201, dom_token.text
    assert dom_token.json()["token"]["domain"]["id"] == domain["id"]
    assert role_names(dom_token.json()["token"]) == {"reader"}
    proj_token = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    assert proj_token.status_code == 201, proj_token.text
    assert role_names(proj_token.json()["token"]) == {"member", "reader"}
    unscoped = token_for(server, user["id"], user["password"])
    with client(server, unscoped) as c:
        assert [d["id"] for d in c.get("/auth/domains").json()["domains"]] == [domain["id"]]
        assert [p["id"] for p in c.get("/auth/projects").json()["projects"]] == [project["id"]]


def test_disabled_project_or_domain_refuses_tokens(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
        domain = create(c, "domain", {"name": unique("dom")})
        project = make_project(c, domain_id=domain["id"])
        grant(c, project["id"], user["id"], "member")
    scope = {"project": {"id": project["id"]}}
    token = token_for(server, user["id"], user["password"], project["id"])
    with client(server) as c:
        c.patch(f"/projects/{project['id']}", json={"project": {"enabled": False}})
    assert issue(server, password_auth(user["id"], user["password"], scope)).status_code == 401
    with client(server, token) as c:
        assert c.get(f"/projects/{project['id']}").status_code == 401
    with client(server) as c:
        c.patch(f"/projects/{project['id']}", json={"project": {"enabled": True}})
    assert issue(server, password_auth(user["id"], user["password"], scope)).status_code == 201
    with client(server) as c:
        c.patch(f"/domains/{domain['id']}", json={"domain": {"enabled": False}})
    assert issue(server, password_auth(user["id"], user["password"], scope)).status_code == 401
