"""Where the identity API differed from Keystone for the interop guideline's
tests and the clients: token times, legacy endpoint regions, name lengths,
users in unknown domains."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.identity.helpers import (
    client,
    issue,
    make_project,
    unique,
    user_with_role,
)
from tests.functional.identity.test_cli import openstack


def test_token_times_are_the_same_when_issued_validated_and_rescoped(server: Server) -> None:
    """Keystone keeps whole seconds: the times a token is issued with are
    the ones its validation shows (Tempest compares the two bodies)."""
    user, project, token = user_with_role(server, "member")
    with client(server, token) as c:
        issued = issue(
            server,
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"id": user["id"], "password": user["password"]}},
                    }
                }
            },
        )
        assert issued.status_code == 201
        body = issued.json()["token"]
        subject = issued.headers["x-subject-token"]
        for stamp in (body["issued_at"], body["expires_at"]):
            assert stamp.endswith(".000000Z"), stamp
        validated = c.get("/auth/tokens", headers={"X-Subject-Token": subject})
        assert validated.status_code == 200
        assert validated.json()["token"] == body
        rescoped = issue(
            server,
            {
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": subject}},
                    "scope": {"project": {"id": project["id"]}},
                }
            },
        ).json()["token"]
        assert rescoped["expires_at"] == body["expires_at"]
        assert rescoped["issued_at"].endswith(".000000Z")


def test_a_legacy_region_on_an_endpoint_creates_it(server: Server) -> None:
    with client(server) as c:
        service = c.post("/services", json={"service": {"type": unique("t"), "name": "n"}})
        assert service.status_code == 201
        service_id = service.json()["service"]["id"]
        region = unique("Legacy")
        body = {"service_id": service_id, "interface": "public", "url": "http://127.0.0.1:9/"}
        resp = c.post("/endpoints", json={"endpoint": {**body, "region": region}})
        assert resp.status_code == 201, resp.text
        assert resp.json()["endpoint"]["region_id"] == region
        assert c.get(f"/regions/{region}").status_code == 200
        # region_id still names a region that must exist.
        resp = c.post("/endpoints", json={"endpoint": {**body, "region_id": unique("none")}})
        assert resp.status_code == 400
        # Given again for an existing region: reused.
        resp = c.post("/endpoints", json={"endpoint": {**body, "region": region}})
        assert resp.status_code == 201
        other = unique("Moved")
        endpoint = resp.json()["endpoint"]["id"]
        resp = c.patch(f"/endpoints/{endpoint}", json={"endpoint": {"region": other}})
        assert resp.status_code == 200 and resp.json()["endpoint"]["region_id"] == other
        assert c.get(f"/regions/{other}").status_code == 200


def test_names_over_64_characters_and_unknown_domains(server: Server) -> None:
    with client(server) as c:
        long = "p" * 65
        for kind in ("project", "domain"):
            resp = c.post(f"/{kind}s", json={kind: {"name": long}})
            assert resp.status_code == 400, (kind, resp.text)
            assert resp.json()["error"]["code"] == 400
        assert c.post("/projects", json={"project": {"name": "p" * 64}}).status_code == 201
        project = make_project(c)
        resp = c.patch(f"/projects/{project['id']}", json={"project": {"name": long}})
        assert resp.status_code == 400
        resp = c.post("/users", json={"user": {"name": unique("u"), "domain_id": "no-such"}})
        assert resp.status_code == 404
        assert "no-such" in resp.json()["error"]["message"]
    assert httpx.get(f"{server.auth_url}/users", timeout=30).status_code == 401


def _member_env(server: Server, user: dict[str, Any], project: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=server.auth_url,
        OS_USERNAME=user["name"],
        OS_PASSWORD=user["password"],
        OS_PROJECT_NAME=project["name"],
        OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default",
        OS_IDENTITY_API_VERSION="3",
    )
    return env


def test_ec2_credentials_with_the_cli(server: Server) -> None:
    """``openstack ec2 credentials create/list/show/delete`` as a member:
    the pair is its own, stored as a credential of type ec2."""
    user, project, token = user_with_role(server, "member")
    env = _member_env(server, user, project)
    made = json.loads(openstack(server, "ec2", "credentials", "create", "-f", "json", env=env))
    access, secret = made["access"], made["secret"]
    assert len(access) == 32 and len(secret) == 32
    assert made["project_id"] == project["id"] and made["user_id"] == user["id"]
    listed = json.loads(openstack(server, "ec2", "credentials", "list", "-f", "json", env=env))
    assert [(c["Access"], c["Secret"]) for c in listed] == [(access, secret)]
    shown = json.loads(
        openstack(server, "ec2", "credentials", "show", access, "-f", "json", env=env)
    )
    assert shown["secret"] == secret
    # The same pair through /v3/credentials: id = SHA-256 of the access key.
    with client(server, token) as c:
        resp = c.get(f"/credentials/{hashlib.sha256(access.encode()).hexdigest()}")
        assert resp.status_code == 200, resp.text
        cred = resp.json()["credential"]
        assert cred["type"] == "ec2" and json.loads(cred["blob"])["secret"] == secret
        # Another user's pairs are not this one's to see.
        other, _, _ = user_with_role(server, "member")
        assert c.get(f"/users/{other['id']}/credentials/OS-EC2").status_code == 403
    openstack(server, "ec2", "credentials", "delete", access, env=env)
    listed = json.loads(openstack(server, "ec2", "credentials", "list", "-f", "json", env=env))
    assert listed == []


def test_the_credentials_api(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    with client(server, token) as c:
        body = {"type": "totp", "user_id": user["id"], "blob": "JBSWY3DPEHPK3PXP"}
        resp = c.post("/credentials", json={"credential": body})
        assert resp.status_code == 201, resp.text
        cred = resp.json()["credential"]
        assert cred["blob"] == "JBSWY3DPEHPK3PXP" and cred["project_id"] is None
        resp = c.patch(f"/credentials/{cred['id']}", json={"credential": {"blob": "NEWSECRET"}})
        assert resp.status_code == 200 and resp.json()["credential"]["blob"] == "NEWSECRET"
        listed = c.get("/credentials").json()["credentials"]
        assert [x["id"] for x in listed] == [cred["id"]]
        # ec2 needs a project and an "access" in its JSON blob.
        ec2 = {"type": "ec2", "user_id": user["id"], "blob": "not json"}
        assert c.post("/credentials", json={"credential": ec2}).status_code == 400
        ec2 = {**ec2, "blob": json.dumps({"access": "a1", "secret": "s1"})}
        assert c.post("/credentials", json={"credential": ec2}).status_code == 400
        resp = c.post("/credentials", json={"credential": {**ec2, "project_id": project["id"]}})
        assert resp.status_code == 201
        assert resp.json()["credential"]["id"] == hashlib.sha256(b"a1").hexdigest()
        # A member may not store credentials for someone else, nor list all.
        other, _, _ = user_with_role(server, "member")
        foreign = {**body, "user_id": other["id"]}
        assert c.post("/credentials", json={"credential": foreign}).status_code == 403
        assert c.delete(f"/credentials/{cred['id']}").status_code == 204
        assert c.get(f"/credentials/{cred['id']}").status_code == 404
    # Deleting the user deletes its credentials.
    with client(server) as admin:
        assert admin.delete(f"/users/{user['id']}").status_code == 204
        left = admin.get("/credentials", params={"user_id": user["id"]}).json()["credentials"]
        assert left == []
