"""Acceptance: the `openstack` command line against Stratus, each command really run."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from tests import clirun
from tests.conftest import BIN, Server
from tests.functional.identity.helpers import (
    client,
    issue,
    make_project,
    make_user,
    password_auth,
    unique,
)


def run(server: Server, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return clirun.run(
        [str(BIN / "openstack"), *args],
        env=env if env is not None else server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def openstack(server: Server, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(server, *args, env=env)
    assert result.returncode == 0, f"openstack {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def openstack_json(server: Server, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(openstack(server, *args, "-f", "json", env=env))


def test_token_issue_catalog_and_endpoints(server: Server) -> None:
    token = openstack_json(server, "token", "issue")
    assert token["id"]
    assert len(token["project_id"]) == 32
    with client(server) as c:
        admin_project = c.get("/projects", params={"name": "admin"}).json()["projects"][0]
        resp = c.get("/auth/tokens", headers={"X-Subject-Token": token["id"]})
    assert resp.status_code == 200
    assert token["project_id"] == admin_project["id"]

    catalog = openstack_json(server, "catalog", "list")
    identity = [e for e in catalog if e["Type"] == "identity"]
    assert len(identity) == 1
    assert f"{server.url}/identity" in json.dumps(identity[0]["Endpoints"])

    endpoints = openstack_json(server, "endpoint", "list")
    interfaces = {e["Interface"] for e in endpoints if e["Service Type"] == "identity"}
    assert interfaces == {"public", "internal", "admin"}
    assert all(e["Region"] == "RegionOne" for e in endpoints if e["Service Type"] == "identity")


def test_project_create_list_show_set_delete(server: Server) -> None:
    name = unique("cli-proj")
    created = openstack_json(server, "project", "create", "--description", "first", name)
    assert created["name"] == name
    assert created["description"] == "first"
    assert created["domain_id"] == "default"

    listed = openstack_json(server, "project", "list")
    assert {"ID": created["id"], "Name": name} in listed

    openstack(server, "project", "set", "--description", "second", "--property", "colour=blue", name)
    shown = openstack_json(server, "project", "show", name)
    assert shown["id"] == created["id"]
    assert shown["description"] == "second"
    assert shown.get("colour") == "blue" or shown.get("properties", {}).get("colour") == "blue"

    openstack(server, "project", "delete", name)
    with client(server) as c:
        assert c.get(f"/projects/{created['id']}").status_code == 404


def test_user_create_list_set_password_delete(server: Server) -> None:
    name = unique("cli-user")
    created = openstack_json(server, "user", "create", "--password", "first-pass-1", name)
    assert created["name"] == name
    assert "password" not in created
    user_id = created["id"]

    listed = openstack_json(server, "user", "list")
    assert {"ID": user_id, "Name": name} in listed

    def auth(password: str) -> int:
        ref = {"name": name, "domain": {"name": "Default"}}
        return issue(server, password_auth(ref, password)).status_code

    assert auth("first-pass-1") == 201
    openstack(server, "user", "set", "--password", "second-pass-2", name)
    assert auth("second-pass-2") == 201
    assert auth("first-pass-1") == 401

    openstack(server, "user", "delete", name)
    with client(server) as c:
        assert c.get(f"/users/{user_id}").status_code == 404
    assert auth("second-pass-2") == 401


def test_role_add_and_assignment_list_names(server: Server) -> None:
    with client(server) as c:
        project = make_project(c)
        user = make_user(c)
    openstack(server, "role", "add", "--project", project["name"], "--user", user["name"], "member")
    rows = openstack_json(
        server, "role", "assignment", "list", "--names", "--project", project["name"], "--user", user["name"]
    )
    assert rows == [
        {
            "Role": "member",
            "User": f"{user['name']}@Default",
            "Group": "",
            "Project": f"{project['name']}@Default",
            "Domain": "",
            "System": "",
            "Inherited": False,
        }
    ]
    # The grant is real: the user now gets a token scoped to the project.
    resp = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    assert resp.status_code == 201, resp.text
    assert [r["name"] for r in resp.json()["token"]["roles"]].count("member") == 1


def test_group_create_and_add_user(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
    group_name = unique("cli-group")
    group = openstack_json(server, "group", "create", "--description", "a team", group_name)
    assert group["name"] == group_name
    openstack(server, "group", "add", "user", group_name, user["name"])
    with client(server) as c:
        assert c.head(f"/groups/{group['id']}/users/{user['id']}").status_code == 204
        members = c.get(f"/groups/{group['id']}/users").json()["users"]
    assert [m["id"] for m in members] == [user["id"]]


def test_application_credential_token_issue(server: Server) -> None:
    name = unique("cli-appcred")
    cred = openstack_json(server, "application", "credential", "create", name)
    assert cred["Name"] == name
    assert cred["Secret"]
    env = {k: v for k, v in server.env().items() if k not in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE")}
    token = openstack_json(
        server,
        "--os-auth-type", "v3applicationcredential",
        "--os-auth-url", server.auth_url,
        "--os-application-credential-id", cred["ID"],
        "--os-application-credential-secret", cred["Secret"],
        "token", "issue",
        env=env,
    )
    assert token["project_id"] == cred["Project ID"]
    with client(server) as c:
        body = c.get("/auth/tokens", headers={"X-Subject-Token": token["id"]}).json()["token"]
    assert body["methods"] == ["application_credential"]
    assert body["project"]["id"] == cred["Project ID"]
    assert body["application_credential"]["id"] == cred["ID"]


def test_token_revoke(server: Server) -> None:
    resp = issue(
        server,
        password_auth(
            {"name": "admin", "domain": {"id": "default"}},
            server.admin_password,
            {"project": {"name": "admin", "domain": {"id": "default"}}},
        ),
    )
    assert resp.status_code == 201
    victim = resp.headers["x-subject-token"]
    assert httpx.get(f"{server.auth_url}/projects", headers={"X-Auth-Token": victim}).status_code == 200

    openstack(server, "token", "revoke", victim)

    assert httpx.get(f"{server.auth_url}/projects", headers={"X-Auth-Token": victim}).status_code == 401
    with client(server) as c:
        assert c.get("/auth/tokens", headers={"X-Subject-Token": victim}).status_code == 404
        # Revoking one token leaves the caller's own token alone.
        assert c.get("/projects").status_code == 200
