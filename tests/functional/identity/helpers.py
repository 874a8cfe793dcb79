"""Small helpers for the identity tests: raw HTTP as admin or as any user."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Server

_ADMIN_TOKENS: dict[Path, str] = {}  # by data folder: a later cloud may reuse a port


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def admin_token(server: Server) -> str:
    """One admin token per server (tests that revoke tokens make their own)."""
    token = _ADMIN_TOKENS.get(server.data_dir)
    if token is None or httpx.get(
        f"{server.auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    ).status_code != 200:
        token = server.admin_token()
        _ADMIN_TOKENS[server.data_dir] = token
    return token


def client(server: Server, token: str | None = None) -> httpx.Client:
    """An httpx client rooted at /identity/v3, sending ``token`` (admin's by default)."""
    headers = {"X-Auth-Token": token if token is not None else admin_token(server)}
    return httpx.Client(base_url=server.auth_url, headers=headers, timeout=30)


def password_auth(
    user: dict[str, Any] | str,
    password: str,
    scope: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A POST /v3/auth/tokens body; ``user`` is an id or a full user reference."""
    ref = {"id": user} if isinstance(user, str) else user
    body: dict[str, Any] = {
        "auth": {"identity": {"methods": ["password"], "password": {"user": {**ref, "password": password}}}}
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def issue(server: Server, body: dict[str, Any], **params: str) -> httpx.Response:
    return httpx.post(f"{server.auth_url}/auth/tokens", json=body, params=params, timeout=30)


def token_for(server: Server, user_id: str, password: str, project_id: str | None = None) -> str:
    scope = {"project": {"id": project_id}} if project_id else None
    resp = issue(server, password_auth(user_id, password, scope))
    assert resp.status_code == 201, resp.text
    return resp.headers["x-subject-token"]


def create(c: httpx.Client, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v3/{kind}s with {kind: body}; return the created entity."""
    resp = c.post(f"/{kind}s", json={kind: body})
    assert resp.status_code == 201, resp.text
    return resp.json()[kind]


def make_project(c: httpx.Client, **attrs: Any) -> dict[str, Any]:
    return create(c, "project", {"name": unique("proj"), "domain_id": "default", **attrs})


def make_user(c: httpx.Client, password: str = "s3cret-pass", **attrs: Any) -> dict[str, Any]:
    user = create(c, "user", {"name": unique("user"), "domain_id": "default", "password": password, **attrs})
    user["password"] = password
    return user


def role_id(c: httpx.Client, name: str) -> str:
    resp = c.get("/roles", params={"name": name})
    assert resp.status_code == 200, resp.text
    roles = resp.json()["roles"]
    assert len(roles) == 1, roles
    return roles[0]["id"]


def grant(c: httpx.Client, project_id: str, user_id: str, role: str) -> None:
    resp = c.put(f"/projects/{project_id}/users/{user_id}/roles/{role_id(c, role)}")
    assert resp.status_code == 204, resp.text


def user_with_role(server: Server, role: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A fresh project and user holding ``role`` on it; returns (user, project, token)."""
    with client(server) as c:
        project = make_project(c)
        user = make_user(c)
        grant(c, project["id"], user["id"], role)
    return user, project, token_for(server, user["id"], user["password"], project["id"])
