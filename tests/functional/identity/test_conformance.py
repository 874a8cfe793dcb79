"""Where the identity API differed from Keystone for the interop guideline's
tests and the clients: token times, legacy endpoint regions, name lengths,
users in unknown domains."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.functional.identity.helpers import (
    client,
    issue,
    make_project,
    unique,
    user_with_role,
)


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
