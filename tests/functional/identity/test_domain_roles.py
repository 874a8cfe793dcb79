"""Keystone's projects acting as domains (is_domain), domain-specific roles,
and a user changing its own password: with the real `openstack` CLI where
it has the command, raw HTTP for the rest."""

from __future__ import annotations

import os
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.identity.helpers import (
    client,
    create,
    issue,
    make_project,
    make_user,
    password_auth,
    role_id,
    token_for,
    unique,
)
from tests.functional.identity.test_cli import openstack, openstack_json


def user_env(server: Server, user: dict[str, Any], project: str | None = None) -> dict[str, str]:
    """The CLI's environment as ``user`` (by id), scoped to ``project`` or unscoped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=server.auth_url,
        OS_USER_ID=user["id"],
        OS_PASSWORD=user["password"],
        OS_IDENTITY_API_VERSION="3",
        OS_INTERFACE="public",
    )
    if project:
        env["OS_PROJECT_ID"] = project
    return env


def test_a_project_acting_as_a_domain(server: Server) -> None:
    name = unique("isdom")
    made = openstack_json(server, "project", "create", "--property", "is_domain=true", name)
    assert made["is_domain"] is True
    assert made.get("domain_id") is None and made.get("parent_id") is None
    dom = made["id"]
    # It is a domain: listed and shown as one, and usable as one.
    assert openstack_json(server, "domain", "show", dom)["name"] == name
    assert name in [d["Name"] for d in openstack_json(server, "domain", "list")]
    inside = openstack_json(server, "project", "create", "--domain", dom, unique("in"))
    assert inside["domain_id"] == dom and inside["parent_id"] == dom
    with client(server) as c:
        listed = c.get("/projects", params={"is_domain": "true"}).json()["projects"]
        assert {p["id"]: p["is_domain"] for p in listed}.get(dom) is True
        assert "default" in {p["id"] for p in listed}
        assert inside["id"] not in {p["id"] for p in listed}
        plain = c.get("/projects").json()["projects"]
        assert dom not in {p["id"] for p in plain}  # without the filter: projects only
        assert inside["id"] in {p["id"] for p in plain}
        shown = c.get(f"/projects/{dom}").json()["project"]
        assert shown["is_domain"] is True and shown["name"] == name
        # A domain's name is unique among domains; a domain has no parent.
        again = c.post("/projects", json={"project": {"name": name, "is_domain": True}})
        assert again.status_code == 409, again.text
        parented = c.post(
            "/projects", json={"project": {"name": unique("x"), "is_domain": True, "parent_id": dom}}
        )
        assert parented.status_code == 400, parented.text
        in_domain = c.post(
            "/projects", json={"project": {"name": unique("x"), "is_domain": True, "domain_id": "default"}}
        )
        assert in_domain.status_code == 400, in_domain.text
        flip = c.patch(f"/projects/{dom}", json={"project": {"is_domain": False}})
        assert flip.status_code == 400, flip.text
        renamed = c.patch(f"/projects/{dom}", json={"project": {"description": "as a project", "tags": ["t1"]}})
        assert renamed.status_code == 200 and renamed.json()["project"]["is_domain"] is True
        shown = c.get(f"/domains/{dom}").json()["domain"]
        assert (shown["description"], shown["tags"]) == ("as a project", ["t1"])
        assert c.patch(f"/domains/{dom}", json={"domain": {"tags": "t1"}}).status_code == 400
        # A user of the domain gets a domain-scoped token on it; a project scope
        # on it is refused, as Keystone refuses it (its domain_id is none).
        user = make_user(c, domain_id=dom)
        assert c.put(f"/domains/{dom}/users/{user['id']}/roles/{role_id(c, 'member')}").status_code == 204
    scoped = issue(server, password_auth(user["id"], user["password"], {"domain": {"id": dom}}))
    assert scoped.status_code == 201, scoped.text
    assert scoped.json()["token"]["domain"] == {"id": dom, "name": name}
    as_project = issue(server, password_auth(user["id"], user["password"], {"project": {"id": dom}}))
    assert as_project.status_code == 401
    with client(server) as c:
        # Deleted like a domain: only once disabled (and its contents go with it).
        enabled = c.delete(f"/projects/{dom}")
        assert enabled.status_code == 403, enabled.text
        assert c.patch(f"/projects/{dom}", json={"project": {"enabled": False}}).status_code == 200
        assert c.delete(f"/projects/{dom}").status_code == 204
        assert c.get(f"/domains/{dom}").status_code == 404
        assert c.get(f"/projects/{inside['id']}").status_code == 404


def test_domain_specific_roles_only_imply(server: Server) -> None:
    with client(server) as c:
        domain = create(c, "domain", {"name": unique("rdom")})
        project = make_project(c, domain_id=domain["id"])
        elsewhere = make_project(c)
        user = make_user(c, domain_id=domain["id"])
    dom = domain["id"]
    local_name, implied_name = unique("dsr"), unique("glob")
    local = openstack_json(server, "role", "create", "--domain", dom, local_name)
    assert local["domain_id"] == dom
    implied = openstack_json(server, "role", "create", implied_name)
    assert [r["Name"] for r in openstack_json(server, "role", "list", "--domain", dom)] == [local_name]
    assert local_name not in [r["Name"] for r in openstack_json(server, "role", "list")]
    # (`openstack implied role create` looks roles up among the global ones only)
    with client(server) as c:
        assert c.put(f"/roles/{local['id']}/implies/{implied['id']}").status_code == 201
    openstack(server, "role", "add", "--role-domain", dom, "--user", user["id"], "--project", project["id"], local_name)
    assigned = openstack_json(server, "role", "assignment", "list", "--user", user["id"])
    assert [a["Role"] for a in assigned] == [local["id"]]  # the assignment itself
    effective = openstack_json(server, "role", "assignment", "list", "--user", user["id"], "--effective")
    assert [(a["Role"], a["Project"]) for a in effective] == [(implied["id"], project["id"])]
    token = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    assert token.status_code == 201, token.text
    assert [r["name"] for r in token.json()["token"]["roles"]] == [implied_name]
    with client(server) as c:
        # Only on a project of the role's domain; a global role may not imply a domain one.
        mismatch = c.put(f"/projects/{elsewhere['id']}/users/{user['id']}/roles/{local['id']}")
        assert mismatch.status_code == 403, mismatch.text
        backwards = c.put(f"/roles/{implied['id']}/implies/{local['id']}")
        assert backwards.status_code == 403, backwards.text
        # A domain role that implies nothing gives no role at all: no token.
        bare = create(c, "role", {"name": unique("bare"), "domain_id": dom})
        other = make_user(c, domain_id=dom)
        assert c.put(f"/projects/{project['id']}/users/{other['id']}/roles/{bare['id']}").status_code == 204
        listed = c.get("/role_assignments", params={"user.id": other["id"], "effective": ""})
        assert listed.json()["role_assignments"] == []
    none = issue(server, password_auth(other["id"], other["password"], {"project": {"id": project["id"]}}))
    assert none.status_code == 401


def test_a_user_changes_its_own_password(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)  # no role anywhere: the CLI works unscoped
    openstack(
        server,
        "user",
        "password",
        "set",
        "--original-password",
        user["password"],
        "--password",
        "changed-by-cli-1",
        env=user_env(server, user),
    )
    assert issue(server, password_auth(user["id"], user["password"])).status_code == 401
    assert issue(server, password_auth(user["id"], "changed-by-cli-1")).status_code == 201
    # Keystone asks for no token: the original password is the proof.
    url = f"{server.auth_url}/users/{user['id']}/password"
    wrong = httpx.post(url, json={"user": {"original_password": "nope", "password": "x-123456"}})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401
    unknown = httpx.post(
        f"{server.auth_url}/users/{unique('nobody')}/password",
        json={"user": {"original_password": "nope", "password": "x-123456"}},
    )
    assert unknown.status_code == 401
    ok = httpx.post(url, json={"user": {"original_password": "changed-by-cli-1", "password": "no-token-2"}})
    assert ok.status_code == 204, ok.text
    assert token_for(server, user["id"], "no-token-2")


def test_grants_and_tags_on_a_domains_id_under_projects(server: Server) -> None:
    """A domain is a project too: Keystone takes its id where a path takes a
    project's, and keeps such a grant as a project grant on that id (a
    domain-scoped token does not get it), shown so in role_assignments."""
    with client(server) as c:
        domain = create(c, "domain", {"name": unique("gdom")})
        inside = make_project(c, domain_id=domain["id"])
        user = make_user(c, domain_id=domain["id"])
        group = create(c, "group", {"name": unique("grp"), "domain_id": domain["id"]})
        member = role_id(c, "member")
    dom, uid, gid = domain["id"], user["id"], group["id"]
    openstack(server, "role", "add", "--user", uid, "--project", dom, "member")
    listed = openstack_json(server, "role", "assignment", "list", "--project", dom)
    assert [(a["Role"], a["User"], a["Project"], a["Domain"]) for a in listed] == [(member, uid, dom, "")]
    with client(server) as c:
        user_path = f"/projects/{dom}/users/{uid}/roles"
        assert c.head(f"{user_path}/{member}").status_code == 204
        assert c.get(f"{user_path}/{member}").status_code == 204
        assert [r["id"] for r in c.get(user_path).json()["roles"]] == [member]
        # Not a domain grant: /v3/domains/{id} knows nothing of it.
        assert c.get(f"/domains/{dom}/users/{uid}/roles").json()["roles"] == []
        named = c.get("/role_assignments", params={"scope.project.id": dom, "include_names": ""})
        (shown,) = named.json()["role_assignments"]
        assert shown["scope"] == {"project": {"id": dom, "name": domain["name"]}}
        assert shown["links"]["assignment"].endswith(f"/v3/projects/{dom}/users/{uid}/roles/{member}")
        group_path = f"/projects/{dom}/groups/{gid}/roles"
        assert c.put(f"{group_path}/{member}").status_code == 204
        assert [r["id"] for r in c.get(group_path).json()["roles"]] == [member]
        assert c.delete(f"{group_path}/{member}").status_code == 204
        assert c.head(f"{group_path}/{member}").status_code == 404
        # Inherited from the domain's id: reaches the domain's projects.
        inherit = f"/OS-INHERIT/projects/{dom}/groups/{gid}/roles/{member}/inherited_to_projects"
        assert c.put(inherit).status_code == 204
        assert c.put(f"/groups/{gid}/users/{uid}").status_code == 204
        effective = c.get("/role_assignments", params={"user.id": uid, "effective": ""})
        scopes = [a["scope"] for a in effective.json()["role_assignments"]]
        assert {s["project"]["id"] for s in scopes} == {dom, inside["id"]}
        # A domain role fits no project acting as a domain; unknown ids stay 404.
        local = create(c, "role", {"name": unique("dsr"), "domain_id": dom})
        assert c.put(f"{user_path}/{local['id']}").status_code == 403
        assert c.put(f"/projects/{unique('none')}/users/{uid}/roles/{member}").status_code == 404
    token = issue(server, password_auth(uid, user["password"], {"project": {"id": inside["id"]}}))
    assert token.status_code == 201, token.text
    openstack(server, "role", "remove", "--user", uid, "--project", dom, "member")
    left = openstack_json(server, "role", "assignment", "list", "--project", dom)
    assert [(a["User"], a["Group"], a["Inherited"]) for a in left] == [("", gid, True)]
    with client(server) as c:
        assert c.head(f"{user_path}/{member}").status_code == 404
        assert c.delete(f"{user_path}/{member}").status_code == 404
        # Tags: the domain's own, the same through /v3/domains and /v3/projects.
        tags = f"/projects/{dom}/tags"
        assert c.get(tags).json() == {"tags": []}
        assert c.put(tags, json={"tags": ["a", "b"]}).json() == {"tags": ["a", "b"]}
        made = c.put(f"{tags}/c")
        assert made.status_code == 201 and made.headers["location"].endswith(f"/v3/projects/{dom}/tags/c")
        assert c.get(f"{tags}/c").status_code == 204
        assert c.delete(f"{tags}/a").status_code == 204
        assert c.get(f"{tags}/a").status_code == 404
        assert c.delete(f"{tags}/a").status_code == 404
        assert c.get(f"/domains/{dom}").json()["domain"]["tags"] == ["b", "c"]
        assert c.get(f"/projects/{dom}").json()["project"]["tags"] == ["b", "c"]
        assert c.put(tags, json={"tags": ["no/slash"]}).status_code == 400
        assert c.delete(tags).status_code == 204
        assert c.get(tags).json() == {"tags": []}
        assert c.get(f"/projects/{unique('none')}/tags").status_code == 404
