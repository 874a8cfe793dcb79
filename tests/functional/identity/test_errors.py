"""Errors over raw HTTP: Keystone's error format, the right status, no leaks, no 500s."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from stratus.identity.service.keys import KeyRepository
from stratus.identity.service.tokens import PROJECT, TokenFormatter, TokenPayload, new_audit_id
from tests.conftest import Server
from tests.functional.identity.helpers import (
    admin_token,
    client,
    issue,
    make_project,
    make_user,
    password_auth,
    unique,
)


def assert_keystone_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["error"]
    assert set(error) >= {"code", "title", "message"}
    assert error["code"] == status
    assert isinstance(error["title"], str) and error["title"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_wrong_password_and_unknown_user_look_the_same(server: Server) -> None:
    with client(server) as c:
        user = make_user(c)
    wrong_password = issue(server, password_auth({"name": user["name"], "domain": {"id": "default"}}, "nope"))
    unknown_user = issue(server, password_auth({"name": unique("ghost"), "domain": {"id": "default"}}, "nope"))
    wrong_by_id = issue(server, password_auth(user["id"], "nope"))
    unknown_by_id = issue(server, password_auth("0" * 32, "nope"))
    for resp in (wrong_password, unknown_user, wrong_by_id, unknown_by_id):
        assert_keystone_error(resp, 401)
        assert "x-subject-token" not in resp.headers
    assert wrong_password.json() == unknown_user.json() == wrong_by_id.json() == unknown_by_id.json()
    text = wrong_password.text.lower()
    assert user["name"] not in wrong_password.text
    assert user["id"] not in wrong_by_id.text
    for word in ("not found", "no such", "unknown user", "wrong password", "incorrect password"):
        assert word not in text


def test_malformed_json_is_400(server: Server) -> None:
    resp = httpx.post(
        f"{server.auth_url}/auth/tokens", content=b'{"auth": {', headers={"Content-Type": "application/json"}
    )
    assert_keystone_error(resp, 400)
    with client(server) as c:
        resp = c.post("/projects", content=b"not json at all", headers={"Content-Type": "application/json"})
        assert_keystone_error(resp, 400)
        resp = c.post("/projects", json=["a", "list"])
        assert_keystone_error(resp, 400)


def test_missing_fields_are_400(server: Server) -> None:
    with client(server) as c:
        assert_keystone_error(c.post("/projects", json={}), 400)
        assert_keystone_error(c.post("/projects", json={"project": {}}), 400)
        assert_keystone_error(c.post("/users", json={"user": {"domain_id": "default"}}), 400)
        assert_keystone_error(c.post("/roles", json={"role": {}}), 400)
    assert_keystone_error(issue(server, {"auth": {}}), 400)
    assert_keystone_error(issue(server, {"auth": {"identity": {"methods": ["password"]}}}), 400)


def test_unknown_field_in_envelope_is_400(server: Server) -> None:
    with client(server) as c:
        resp = c.post("/projects", json={"project": {"name": unique("p")}, "extra": 1})
        error = assert_keystone_error(resp, 400)
        assert "extra" in error["message"]
    body = password_auth({"name": "admin", "domain": {"id": "default"}}, server.admin_password)
    body["auth"]["bogus"] = True
    assert_keystone_error(issue(server, body), 400)


def test_garbled_token_is_401(server: Server) -> None:
    token: str | bytes
    for token in ("garbage", "gAAAAABgarbled" + "A" * 100, "é-not-ascii".encode("latin-1"), "x" * 5000):
        resp = httpx.get(f"{server.auth_url}/projects", headers={"X-Auth-Token": token})
        assert_keystone_error(resp, 401)
        assert resp.headers["www-authenticate"].startswith("Keystone uri=")


def test_missing_token_is_401(server: Server) -> None:
    resp = httpx.get(f"{server.auth_url}/projects")
    assert_keystone_error(resp, 401)


def test_expired_token_is_401(server: Server) -> None:
    """A token made with the server's own keys but already expired is refused."""
    with client(server) as c:
        me = c.get("/auth/tokens", headers={"X-Subject-Token": admin_token(server)}).json()["token"]
    keys = KeyRepository(server.data_dir / "fernet-keys").load()
    now = time.time()
    payload = TokenPayload(
        user_id=me["user"]["id"],
        methods=("password",),
        issued_at=now - 7200,
        expires_at=now - 3600,
        audit_ids=(new_audit_id(),),
        scope=PROJECT,
        scope_id=me["project"]["id"],
    )
    expired = TokenFormatter(keys).encode(payload)
    # The same token, unexpired, is accepted: the keys are right.
    fresh = TokenFormatter(keys).encode(
        TokenPayload(**{**{f: getattr(payload, f) for f in payload.__slots__}, "expires_at": now + 3600})
    )
    assert httpx.get(f"{server.auth_url}/projects", headers={"X-Auth-Token": fresh}).status_code == 200
    assert_keystone_error(httpx.get(f"{server.auth_url}/projects", headers={"X-Auth-Token": expired}), 401)
    with client(server) as c:
        assert_keystone_error(c.get("/auth/tokens", headers={"X-Subject-Token": expired}), 404)


def test_request_id_on_every_response(server: Server) -> None:
    with client(server) as c:
        responses = [
            httpx.get(f"{server.url}/identity/"),
            httpx.get(server.auth_url),
            c.get("/projects"),
            c.get("/projects/nope"),
            c.post("/projects", json={}),
            httpx.get(f"{server.auth_url}/projects"),
            c.get("/no/such/route"),
            issue(server, password_auth("0" * 32, "x")),
            c.delete("/projects"),
        ]
    ids = [r.headers.get("x-openstack-request-id") for r in responses]
    assert all(ids), [(r.request.url, r.status_code) for r in responses if not r.headers.get("x-openstack-request-id")]
    assert all(i.startswith("req-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_get_by_name_is_404_then_name_filter_finds(server: Server) -> None:
    with client(server) as c:
        by_name = c.get("/projects/admin")
        error = assert_keystone_error(by_name, 404)
        assert "admin" in error["message"]
        found = c.get("/projects", params={"name": "admin"}).json()["projects"]
        assert len(found) == 1 and found[0]["name"] == "admin"
        assert_keystone_error(c.get("/users/admin"), 404)
        assert c.get("/users", params={"name": "admin"}).json()["users"][0]["name"] == "admin"


@pytest.mark.parametrize("kind", ["project", "user", "group", "role", "domain"])
def test_duplicate_names_are_409(server: Server, kind: str) -> None:
    name = unique(f"dup-{kind}")
    body: dict[str, Any] = {"name": name}
    if kind in ("project", "user", "group"):
        body["domain_id"] = "default"
    with client(server) as c:
        assert c.post(f"/{kind}s", json={kind: body}).status_code == 201
        assert_keystone_error(c.post(f"/{kind}s", json={kind: body}), 409)
        assert len(c.get(f"/{kind}s", params={"name": name}).json()[f"{kind}s"]) == 1


def test_duplicate_name_on_rename_is_409(server: Server) -> None:
    with client(server) as c:
        first, second = make_project(c), make_project(c)
        resp = c.patch(f"/projects/{second['id']}", json={"project": {"name": first["name"]}})
        assert_keystone_error(resp, 409)
        assert c.get(f"/projects/{second['id']}").json()["project"]["name"] == second["name"]


def test_unknown_route_is_404_json(server: Server) -> None:
    with client(server) as c:
        assert_keystone_error(c.get("/no/such/thing"), 404)
        assert_keystone_error(c.get("/projectz"), 404)
    assert_keystone_error(httpx.get(f"{server.url}/identity/v2.0/tenants"), 404)


def test_wrong_method_is_405_json(server: Server) -> None:
    with client(server) as c:
        assert_keystone_error(c.put("/projects", json={}), 405)


def test_no_500_on_odd_input(server: Server) -> None:
    """A grab bag of odd requests: none may crash the server."""
    with client(server) as c:
        project = make_project(c)
        odd = [
            c.get("/projects", params={"limit": "-1"}),
            c.get("/projects", params={"limit": "abc"}),
            c.get("/projects", params={"enabled": "maybe"}),
            c.get("/projects", params={"name__contains": "%_\\"}),
            c.get("/role_assignments", params={"user.id": "nope", "effective": "true"}),
            c.post("/projects", json={"project": {"name": "x" * 300}}),
            c.post("/projects", json={"project": {"name": 12}}),
            c.post("/projects", json={"project": {"name": unique("p"), "parent_id": "nope"}}),
            c.post("/projects", json={"project": {"name": unique("p"), "domain_id": "nope"}}),
            c.post("/projects", json={"project": {"name": unique("p"), "tags": ["a/b"]}}),
            c.post("/projects", json={"project": {"name": unique("p"), "enabled": "yes please"}}),
            c.patch(f"/projects/{project['id']}", json={"project": {"id": "other"}}),
            c.patch(f"/projects/{project['id']}", json={"project": {"domain_id": "other"}}),
            c.put(f"/projects/{project['id']}/tags", json={"tags": "notalist"}),
            c.put(f"/projects/{project['id']}/users/nope/roles/nope"),
            c.post("/users", json={"user": {"name": unique("u"), "password": None}}),
            c.post("/users", json={"user": {"name": unique("u"), "domain_id": "nope"}}),
            c.post("/endpoints", json={"endpoint": {"url": "http://x", "interface": "sideways", "service_id": "x"}}),
            c.post("/regions", json={"region": {"id": "bad/region"}}),
            c.get("/auth/tokens"),
            c.get("/auth/tokens", headers={"X-Subject-Token": "garbage"}),
            c.post("/users/nope/password", json={"user": {"password": "a", "original_password": "b"}}),
            c.post("/projects", content=b"\xff\xfe", headers={"Content-Type": "application/json"}),
            c.post("/projects", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            issue(server, {"auth": {"identity": {"methods": ["totp"]}}}),
            issue(server, {"auth": {"identity": {"methods": ["token"], "token": {"id": "garbage"}}}}),
            issue(
                server,
                password_auth({"name": "admin", "domain": {"id": "default"}}, server.admin_password,
                              {"project": {"name": "admin"}}),
            ),
            issue(
                server,
                password_auth({"name": "admin"}, server.admin_password),
            ),
        ]
    for resp in odd:
        assert resp.status_code < 500, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
        if resp.status_code >= 400:
            assert_keystone_error(resp, resp.status_code)


def test_nul_character_is_not_500(server: Server) -> None:
    """A NUL character anywhere in the input is refused or ignored, never a crash."""
    with client(server) as c:
        responses = [
            c.get("/projects", params={"marker": "\x00"}),
            c.get("/projects", params={"name": "a\x00b"}),
            c.get("/projects", params={"name__contains": "a\x00b"}),
            c.get("/projects", params={"tags": "a\x00"}),
            c.get("/projects", params={"domain_id": "\x00"}),
            c.get("/users", params={"name": "a\x00"}),
            c.get("/projects/a%00b"),
            c.get("/users/a%00b"),
            c.get("/domains/%00"),
            c.post("/projects", json={"project": {"name": unique("nul") + "\x00"}}),
            c.post("/users", json={"user": {"name": unique("nul") + "\x00"}}),
            c.post("/roles", json={"role": {"name": unique("nul") + "\x00"}}),
            c.post("/regions", json={"region": {"id": unique("nul") + "\x00"}}),
        ]
    for resp in responses:
        assert resp.status_code < 500, f"{resp.request.method} {resp.request.url}: {resp.status_code}"
        if resp.status_code >= 400:
            assert_keystone_error(resp, resp.status_code)


def test_nul_character_in_login_is_401_not_500(server: Server) -> None:
    """Unauthenticated callers must not be able to crash the token endpoint."""
    by_name = issue(server, password_auth({"name": "ad\x00min", "domain": {"id": "default"}}, "x"))
    by_id = issue(server, password_auth("ad\x00min", "x"))
    for resp in (by_name, by_id):
        assert resp.status_code in (400, 401), resp.text
        assert_keystone_error(resp, resp.status_code)


def test_huge_limit_is_not_500(server: Server) -> None:
    with client(server) as c:
        resp = c.get("/projects", params={"limit": "99999999999999999999"})
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        assert any(p["name"] == "admin" for p in resp.json()["projects"])
    else:
        assert_keystone_error(resp, 400)


@pytest.mark.parametrize("attr", ["name", "enabled"])
def test_null_user_attribute_is_400(server: Server, attr: str) -> None:
    with client(server) as c:
        user = make_user(c)
        resp = c.patch(f"/users/{user['id']}", json={"user": {attr: None}})
        assert_keystone_error(resp, 400)
        shown = c.get(f"/users/{user['id']}").json()["user"]
    assert shown["name"] == user["name"]
    assert shown["enabled"] is True


@pytest.mark.parametrize("kind", ["project", "user", "group", "role", "domain"])
def test_whitespace_only_name_is_400(server: Server, kind: str) -> None:
    """Keystone's name schema requires a non-blank character."""
    with client(server) as c:
        resp = c.post(f"/{kind}s", json={kind: {"name": "   "}})
    assert_keystone_error(resp, 400)


def _parallel(count: int, call: Any) -> list[int]:
    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(lambda i: call(i).status_code, range(count)))


@pytest.mark.parametrize("kind", ["project", "user", "group", "role", "domain"])
def test_concurrent_duplicate_creates_are_409_not_500(server: Server, kind: str) -> None:
    name = f"race-{kind}-{uuid.uuid4().hex[:8]}"
    token = admin_token(server)
    url = f"{server.auth_url}/{kind}s"
    codes = _parallel(
        16, lambda _: httpx.post(url, json={kind: {"name": name}}, headers={"X-Auth-Token": token}, timeout=30)
    )
    assert codes == [201] + [409] * 15
    with client(server) as c:
        assert len(c.get(f"/{kind}s", params={"name": name}).json()[f"{kind}s"]) == 1


def test_concurrent_idempotent_puts_are_not_500(server: Server) -> None:
    """PUT of a grant, a membership or a tag may be repeated, also at the same time."""
    token = admin_token(server)
    with client(server) as c:
        user = make_user(c)
        project = make_project(c)
        group = c.post("/groups", json={"group": {"name": unique("g")}}).json()["group"]
        rid = c.get("/roles", params={"name": "member"}).json()["roles"][0]["id"]
    headers = {"X-Auth-Token": token}
    base = server.auth_url
    grant_url = f"{base}/projects/{project['id']}/users/{user['id']}/roles/{rid}"
    member_url = f"{base}/groups/{group['id']}/users/{user['id']}"
    tag_url = f"{base}/projects/{project['id']}/tags/shared"
    assert _parallel(8, lambda _: httpx.put(grant_url, headers=headers, timeout=30)) == [204] * 8
    assert _parallel(8, lambda _: httpx.put(member_url, headers=headers, timeout=30)) == [204] * 8
    assert _parallel(8, lambda _: httpx.put(tag_url, headers=headers, timeout=30)) == [201] * 8
    with client(server) as c:
        rows = c.get("/role_assignments", params={"user.id": user["id"]}).json()["role_assignments"]
        assert len(rows) == 1
        assert c.get(f"/projects/{project['id']}/tags").json()["tags"] == ["shared"]
