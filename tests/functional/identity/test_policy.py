"""Default policy as non-admin users see it: members and readers of one project."""

from __future__ import annotations

from tests.conftest import Server
from tests.functional.identity.helpers import (
    client,
    make_project,
    make_user,
    unique,
    user_with_role,
)


def test_member_cannot_create_users(server: Server) -> None:
    user, _, token = user_with_role(server, "member")
    with client(server, token) as c:
        resp = c.post("/users", json={"user": {"name": unique("u"), "domain_id": "default"}})
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == 403
    with client(server) as admin:
        assert admin.get("/users", params={"name": user["name"]}).json()["users"][0]["id"] == user["id"]


def test_member_sees_own_project_not_another(server: Server) -> None:
    _, project_a, token = user_with_role(server, "member")
    with client(server) as admin:
        project_b = make_project(admin)
    with client(server, token) as c:
        own = c.get(f"/projects/{project_a['id']}")
        other = c.get(f"/projects/{project_b['id']}")
        admin_project = c.get("/projects", params={"name": "admin"})
    assert own.status_code == 200
    assert own.json()["project"]["name"] == project_a["name"]
    assert other.status_code in (403, 404)
    assert project_b["name"] not in other.text
    assert admin_project.status_code == 403


def test_member_cannot_create_projects_or_grant_roles(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server) as admin:
        admin_role = admin.get("/roles", params={"name": "admin"}).json()["roles"][0]["id"]
    with client(server, token) as c:
        assert c.post("/projects", json={"project": {"name": unique("p")}}).status_code == 403
        escalate = c.put(f"/projects/{project['id']}/users/{user['id']}/roles/{admin_role}")
        assert escalate.status_code == 403
        assert c.get("/role_assignments").status_code == 403
    with client(server) as admin:
        roles = admin.get(
            "/role_assignments", params={"user.id": user["id"], "include_names": "1"}
        ).json()["role_assignments"]
    assert [a["role"]["name"] for a in roles] == ["member"]


def test_reader_writes_refused(server: Server) -> None:
    user, project, token = user_with_role(server, "reader")
    with client(server, token) as c:
        create_project = c.post("/projects", json={"project": {"name": unique("p")}})
        update_own = c.patch(f"/projects/{project['id']}", json={"project": {"description": "hacked"}})
        create_user = c.post("/users", json={"user": {"name": unique("u")}})
        update_self = c.patch(f"/users/{user['id']}", json={"user": {"name": "renamed"}})
        tag_own = c.put(f"/projects/{project['id']}/tags/evil")
    assert create_project.status_code == 403
    assert update_own.status_code == 403
    assert create_user.status_code == 403
    assert update_self.status_code == 403
    assert tag_own.status_code == 403
    with client(server) as admin:
        now = admin.get(f"/projects/{project['id']}").json()["project"]
        me = admin.get(f"/users/{user['id']}").json()["user"]
    assert now["description"] == project["description"]
    assert now["tags"] == []
    assert me["name"] == user["name"]


def test_reader_reads_own_project_and_own_user(server: Server) -> None:
    user, project, token = user_with_role(server, "reader")
    with client(server, token) as c:
        own_project = c.get(f"/projects/{project['id']}")
        own_user = c.get(f"/users/{user['id']}")
        own_groups = c.get(f"/users/{user['id']}/groups")
        own_projects = c.get(f"/users/{user['id']}/projects")
    assert own_project.status_code == 200
    assert own_project.json()["project"]["id"] == project["id"]
    assert own_user.status_code == 200
    assert own_user.json()["user"]["name"] == user["name"]
    assert "password" not in own_user.json()["user"]
    assert own_groups.status_code == 200
    assert own_projects.status_code == 200
    assert [p["id"] for p in own_projects.json()["projects"]] == [project["id"]]


def test_nobody_sees_another_users_resources(server: Server) -> None:
    alice, project_a, token_a = user_with_role(server, "member")
    bob, project_b, token_b = user_with_role(server, "member")
    with client(server, token_b) as c:
        cred = c.post(
            f"/users/{bob['id']}/application_credentials",
            json={"application_credential": {"name": unique("bob-cred")}},
        )
        assert cred.status_code == 201, cred.text
        cred_id = cred.json()["application_credential"]["id"]
    with client(server, token_a) as c:
        checks = {
            "other user": c.get(f"/users/{bob['id']}"),
            "other user's projects": c.get(f"/users/{bob['id']}/projects"),
            "other user's groups": c.get(f"/users/{bob['id']}/groups"),
            "other project": c.get(f"/projects/{project_b['id']}"),
            "other project's tags": c.get(f"/projects/{project_b['id']}/tags"),
            "other user's app creds": c.get(f"/users/{bob['id']}/application_credentials"),
            "other user's app cred": c.get(f"/users/{bob['id']}/application_credentials/{cred_id}"),
            "user list": c.get("/users"),
            "project list": c.get("/projects"),
            "group list": c.get("/groups"),
            "other's token": c.get("/auth/tokens", headers={"X-Subject-Token": token_b}),
        }
        delete_cred = c.delete(f"/users/{bob['id']}/application_credentials/{cred_id}")
        revoke_other = c.delete("/auth/tokens", headers={"X-Subject-Token": token_b})
    for what, resp in checks.items():
        assert resp.status_code in (403, 404), f"{what}: {resp.status_code} {resp.text}"
        assert bob["name"] not in resp.text, what
        assert project_b["name"] not in resp.text, what
    assert delete_cred.status_code in (403, 404)
    assert revoke_other.status_code in (403, 404)
    with client(server, token_b) as c:
        assert c.get(f"/users/{bob['id']}/application_credentials/{cred_id}").status_code == 200
    # Alice's own view works.
    with client(server, token_a) as c:
        assert c.get(f"/users/{alice['id']}").status_code == 200
        assert c.get(f"/projects/{project_a['id']}").status_code == 200


def test_user_changes_own_password_but_not_anothers(server: Server) -> None:
    """As Keystone's: the change is not policy-checked; only the user's
    original password opens it, whoever's token comes with it."""
    alice, _, token_a = user_with_role(server, "member")
    with client(server) as admin:
        bob = make_user(admin)
    with client(server, token_a) as c:
        other = c.post(
            f"/users/{bob['id']}/password",
            json={"user": {"password": "taken-over-1", "original_password": "not-bobs-password"}},
        )
        own = c.post(
            f"/users/{alice['id']}/password",
            json={"user": {"password": "new-alice-pass", "original_password": alice["password"]}},
        )
    assert other.status_code == 401
    assert own.status_code == 204, own.text
