"""Trusts (OS-TRUST), endpoint filtering (OS-EP-FILTER) and policy blobs,
through the `openstack` CLI and raw HTTP, on the shared cloud."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.identity.helpers import (
    admin_token,
    client,
    grant,
    issue,
    make_project,
    make_user,
    password_auth,
    role_id,
    token_for,
    unique,
)
from tests.functional.identity.test_cli import openstack, openstack_json


def _error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """Keystone's error body, with the status both in the line and the body."""
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == status
    assert err["message"]
    return err


def _trust_token(server: Server, trustee: dict[str, Any], trust_id: str) -> httpx.Response:
    return issue(server, password_auth(trustee["id"], trustee["password"], {"OS-TRUST:trust": {"id": trust_id}}))


def _valid(server: Server, token: str) -> int:
    resp = httpx.get(
        f"{server.auth_url}/auth/tokens",
        headers={"X-Auth-Token": admin_token(server), "X-Subject-Token": token},
    )
    return resp.status_code


def _admin_id(server: Server) -> str:
    token = admin_token(server)
    resp = httpx.get(f"{server.auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    return str(resp.json()["token"]["user"]["id"])


def _no_traceback(server: Server) -> None:
    assert "Traceback" not in server.log.read_text(errors="replace")


# -- trusts ----------------------------------------------------------------------------


def test_trust_cli_create_list_show_and_token(server: Server) -> None:
    admin_id = _admin_id(server)
    with client(server) as c:
        project = make_project(c)
        grant(c, project["id"], admin_id, "member")
        trustee = make_user(c)  # no role of its own anywhere
    trust = openstack_json(
        server, "trust", "create", "--project", project["id"], "--role", "member", admin_id, trustee["id"]
    )
    assert trust["trustor_user_id"] == admin_id
    assert trust["trustee_user_id"] == trustee["id"]
    assert trust["project_id"] == project["id"]
    assert trust["is_impersonation"] is False
    listed = openstack_json(server, "trust", "list")
    assert trust["id"] in {t["ID"] for t in listed}
    shown = openstack_json(server, "trust", "show", trust["id"])
    assert shown["project_id"] == project["id"]
    assert "member" in json.dumps(shown["roles"])

    resp = _trust_token(server, trustee, trust["id"])
    assert resp.status_code == 201, resp.text
    body = resp.json()["token"]
    assert body["OS-TRUST:trust"] == {
        "id": trust["id"],
        "impersonation": False,
        "trustee_user": {"id": trustee["id"]},
        "trustor_user": {"id": admin_id},
    }
    assert body["user"]["id"] == trustee["id"]
    assert body["project"]["id"] == project["id"]
    names = {r["name"] for r in body["roles"]}
    assert "member" in names and "admin" not in names
    token = resp.headers["x-subject-token"]
    assert _valid(server, token) == 200
    # The trustee's token names the trust when validated, too.
    shown_token = httpx.get(
        f"{server.auth_url}/auth/tokens", headers={"X-Auth-Token": admin_token(server), "X-Subject-Token": token}
    ).json()["token"]
    assert shown_token["OS-TRUST:trust"]["id"] == trust["id"]
    # A trust-scoped token is not re-scoped, nor used to make trusts.
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}, "scope": {"project": {"id": project["id"]}}}}
    _error(issue(server, rescope), 403)
    with client(server, token) as tc:  # nor redelegated
        again = {"trustor_user_id": trustee["id"], "trustee_user_id": admin_id, "project_id": project["id"], "impersonation": False, "roles": [{"name": "member"}]}
        _error(tc.post("/OS-TRUST/trusts", json={"trust": again}), 403)

    # keystoneauth's trust scope, as the CLI of the trustee sends it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=server.auth_url,
        OS_IDENTITY_API_VERSION="3",
        OS_USER_ID=trustee["id"],
        OS_PASSWORD=trustee["password"],
        OS_TRUST_ID=trust["id"],
    )
    issued = openstack_json(server, "token", "issue", env=env)
    assert issued["project_id"] == project["id"] and issued["user_id"] == trustee["id"]

    openstack(server, "trust", "delete", trust["id"])
    assert _valid(server, token) == 404  # deleting the trust ends its tokens
    with client(server) as c:
        _error(c.get(f"/OS-TRUST/trusts/{trust['id']}"), 404)
        assert trust["id"] not in {t["id"] for t in c.get("/OS-TRUST/trusts").json()["trusts"]}
    _no_traceback(server)


def test_trust_impersonation_uses_and_role_removal(server: Server) -> None:
    with client(server) as c:
        project = make_project(c)
        trustor = make_user(c)
        trustee = make_user(c)
        other = make_user(c)
        grant(c, project["id"], trustor["id"], "member")
        grant(c, project["id"], other["id"], "member")
    trustor_token = token_for(server, trustor["id"], trustor["password"], project["id"])
    body = {
        "trust": {
            "trustor_user_id": trustor["id"],
            "trustee_user_id": trustee["id"],
            "project_id": project["id"],
            "impersonation": True,
            "remaining_uses": 1,
            "roles": [{"name": "reader"}],
        }
    }
    with client(server, trustor_token) as tc:
        resp = tc.post("/OS-TRUST/trusts", json=body)
        assert resp.status_code == 201, resp.text
        once = resp.json()["trust"]
        assert once["remaining_uses"] == 1
        assert [r["name"] for r in once["roles"]] == ["reader"]
        unlimited = tc.post(
            "/OS-TRUST/trusts",
            json={"trust": {**body["trust"], "impersonation": False, "remaining_uses": None}},
        )
        assert unlimited.status_code == 201, unlimited.text
        unlimited_id = unlimited.json()["trust"]["id"]
        mine = tc.get("/OS-TRUST/trusts", params={"trustor_user_id": trustor["id"]}).json()["trusts"]
        assert {t["id"] for t in mine} == {once["id"], unlimited_id}
        # Another user's trusts are not the trustor's to list.
        _error(tc.get("/OS-TRUST/trusts", params={"trustor_user_id": other["id"]}), 403)
        roles = tc.get(f"/OS-TRUST/trusts/{once['id']}/roles").json()["roles"]
        assert [r["name"] for r in roles] == ["reader"]
        reader = role_id(client(server), "reader")
        assert tc.get(f"/OS-TRUST/trusts/{once['id']}/roles/{reader}").status_code == 200
        member = role_id(client(server), "member")
        _error(tc.get(f"/OS-TRUST/trusts/{once['id']}/roles/{member}"), 404)

    # With impersonation the token's user is the trustor; one use, then none.
    first = _trust_token(server, trustee, once["id"])
    assert first.status_code == 201, first.text
    token = first.json()["token"]
    assert token["user"]["id"] == trustor["id"]
    assert token["OS-TRUST:trust"]["impersonation"] is True
    assert [r["name"] for r in token["roles"]] == ["reader"]
    _error(_trust_token(server, trustee, once["id"]), 404)

    # The trustee sees the trust; a stranger does not; only the trustor deletes.
    trustee_token = token_for(server, trustee["id"], trustee["password"])
    other_token = token_for(server, other["id"], other["password"], project["id"])
    with client(server, trustee_token) as ec:
        assert ec.get(f"/OS-TRUST/trusts/{unlimited_id}").status_code == 200
        listed = ec.get("/OS-TRUST/trusts").json()["trusts"]
        assert unlimited_id in {t["id"] for t in listed}
        _error(ec.delete(f"/OS-TRUST/trusts/{unlimited_id}"), 403)
    with client(server, other_token) as oc:
        _error(oc.get(f"/OS-TRUST/trusts/{unlimited_id}"), 403)
        assert unlimited_id not in {t["id"] for t in oc.get("/OS-TRUST/trusts").json()["trusts"]}
        # Only the trustee uses a trust.
        _error(_trust_token(server, other, unlimited_id), 403)

    # The trustor losing the role ends the trust's tokens.
    resp = _trust_token(server, trustee, unlimited_id)
    assert resp.status_code == 201, resp.text
    trust_token = resp.headers["x-subject-token"]
    assert _valid(server, trust_token) == 200
    with client(server) as c:
        assert c.delete(f"/projects/{project['id']}/users/{trustor['id']}/roles/{member}").status_code == 204
    assert _valid(server, trust_token) == 404
    _error(_trust_token(server, trustee, unlimited_id), 403)
    _no_traceback(server)


def test_trust_bad_input(server: Server) -> None:
    with client(server) as c:
        project = make_project(c)
        trustor = make_user(c)
        trustee = make_user(c)
        grant(c, project["id"], trustor["id"], "member")
    token = token_for(server, trustor["id"], trustor["password"], project["id"])
    good = {
        "trustor_user_id": trustor["id"],
        "trustee_user_id": trustee["id"],
        "project_id": project["id"],
        "impersonation": False,
        "roles": [{"name": "member"}],
    }
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with client(server, token) as tc:
        cases: list[tuple[dict[str, Any], int]] = [
            ({**good, "trustor_user_id": trustee["id"]}, 403),  # not the caller
            ({**good, "trustee_user_id": "nobody"}, 404),
            ({**good, "project_id": "nowhere"}, 404),
            ({**good, "roles": [{"name": "admin"}]}, 404),  # a role the trustor lacks
            ({**good, "roles": [{"name": "no-such-role"}]}, 404),
            ({**good, "roles": []}, 400),
            ({**good, "expires_at": past}, 400),
            ({**good, "remaining_uses": 0}, 400),
            ({**good, "allow_redelegation": True}, 403),
            ({k: v for k, v in good.items() if k != "impersonation"}, 400),
            ({**good, "color": "red"}, 400),
        ]
        for body, status in cases:
            _error(tc.post("/OS-TRUST/trusts", json={"trust": body}), status)
        _error(tc.get("/OS-TRUST/trusts/nope"), 404)
        _error(tc.delete("/OS-TRUST/trusts/nope"), 404)
        # An expired trust gives no token and is gone from sight.
        resp = tc.post("/OS-TRUST/trusts", json={"trust": {**good, "expires_at": soon}})
        assert resp.status_code == 201, resp.text
        short = resp.json()["trust"]["id"]
    _error(_trust_token(server, trustee, "no-such-trust"), 404)
    time.sleep(2.5)
    _error(_trust_token(server, trustee, short), 404)
    _no_traceback(server)


# -- endpoint filtering ------------------------------------------------------------------


def test_endpoint_groups_filter_the_catalog(server: Server, tmp_path: Path) -> None:
    with client(server) as c:
        project = make_project(c)
        second = make_project(c)
        user = make_user(c)
        grant(c, project["id"], user["id"], "member")
        grant(c, second["id"], user["id"], "member")
        identity = c.get("/services", params={"type": "identity"}).json()["services"][0]
        endpoints = c.get("/endpoints", params={"service_id": identity["id"]}).json()["endpoints"]
    public = next(e for e in endpoints if e["interface"] == "public")
    internal = next(e for e in endpoints if e["interface"] == "internal")
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps({"interface": "public", "service_id": identity["id"]}))
    name = unique("epg")
    group = openstack_json(server, "endpoint", "group", "create", name, str(filters))
    assert group["filters"] == {"interface": "public", "service_id": identity["id"]}
    openstack(server, "endpoint", "group", "add", "project", group["id"], project["id"])
    assert name in {g["Name"] for g in openstack_json(server, "endpoint", "group", "list")}

    token = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    catalog = token.json()["token"]["catalog"]
    assert [s["type"] for s in catalog] == ["identity"]
    assert [e["id"] for e in catalog[0]["endpoints"]] == [public["id"]]
    # Another project with no association sees the whole catalog.
    unfiltered = issue(server, password_auth(user["id"], user["password"], {"project": {"id": second["id"]}}))
    assert len(unfiltered.json()["token"]["catalog"]) > 1

    # A project's endpoint, associated directly.
    openstack(server, "endpoint", "add", "project", internal["id"], second["id"])
    listed = openstack_json(server, "endpoint", "list", "--project", second["id"])
    assert [e["ID"] for e in listed] == [internal["id"]]
    narrowed = issue(server, password_auth(user["id"], user["password"], {"project": {"id": second["id"]}}))
    assert [e["id"] for s in narrowed.json()["token"]["catalog"] for e in s["endpoints"]] == [internal["id"]]

    base = "/OS-EP-FILTER"
    with client(server) as c:
        assert c.head(f"{base}/endpoint_groups/{group['id']}/projects/{project['id']}").status_code == 200
        _error(c.get(f"{base}/endpoint_groups/{group['id']}/projects/{second['id']}"), 404)
        projects = c.get(f"{base}/endpoint_groups/{group['id']}/projects").json()["projects"]
        assert [p["id"] for p in projects] == [project["id"]]
        members = c.get(f"{base}/endpoint_groups/{group['id']}/endpoints").json()["endpoints"]
        assert [e["id"] for e in members] == [public["id"]]
        assert c.head(f"{base}/projects/{second['id']}/endpoints/{internal['id']}").status_code == 204
        _error(c.get(f"{base}/projects/{project['id']}/endpoints/{internal['id']}"), 404)
        on = c.get(f"{base}/endpoints/{internal['id']}/projects").json()["projects"]
        assert [p["id"] for p in on] == [second["id"]]
        assert [e["id"] for e in c.get(f"{base}/projects/{project['id']}/endpoints").json()["endpoints"]] == [public["id"]]
        # bad input
        _error(c.post(f"{base}/endpoint_groups", json={"endpoint_group": {"name": "x", "filters": {"colour": "red"}}}), 400)
        _error(c.post(f"{base}/endpoint_groups", json={"endpoint_group": {"name": "x", "filters": {"interface": "outer"}}}), 400)
        _error(c.post(f"{base}/endpoint_groups", json={"endpoint_group": {"filters": {}}}), 400)
        _error(c.get(f"{base}/endpoint_groups/nope"), 404)
        _error(c.put(f"{base}/endpoint_groups/nope/projects/{project['id']}"), 404)
        _error(c.put(f"{base}/endpoint_groups/{group['id']}/projects/nope"), 404)
        _error(c.put(f"{base}/projects/{project['id']}/endpoints/nope"), 404)
        patched = c.patch(f"{base}/endpoint_groups/{group['id']}", json={"endpoint_group": {"description": "public only"}})
        assert patched.status_code == 200 and patched.json()["endpoint_group"]["description"] == "public only"
        # Removing the associations gives the projects their full catalog back.
        assert c.delete(f"{base}/endpoint_groups/{group['id']}/projects/{project['id']}").status_code == 204
        assert c.delete(f"{base}/projects/{second['id']}/endpoints/{internal['id']}").status_code == 204
        _error(c.delete(f"{base}/projects/{second['id']}/endpoints/{internal['id']}"), 404)
    user_token = token_for(server, user["id"], user["password"], project["id"])
    with client(server, user_token) as uc:
        _error(uc.get(f"{base}/endpoint_groups"), 403)
    again = issue(server, password_auth(user["id"], user["password"], {"project": {"id": project["id"]}}))
    assert len(again.json()["token"]["catalog"]) > 1
    openstack(server, "endpoint", "group", "delete", group["id"])
    with client(server) as c:
        _error(c.get(f"{base}/endpoint_groups/{group['id']}"), 404)
    _no_traceback(server)


# -- policies -------------------------------------------------------------------------------


def test_policy_cli_and_errors(server: Server, tmp_path: Path) -> None:
    rules = tmp_path / "policy.json"
    rules.write_text('{"compute:create": "role:member"}')
    created = openstack_json(server, "policy", "create", "--type", "application/json", str(rules))
    assert created["type"] == "application/json"
    assert json.loads(created["rules"]) == {"compute:create": "role:member"}
    listed = openstack_json(server, "policy", "list")
    assert created["id"] in {p["ID"] for p in listed}
    with client(server) as c:
        shown = c.get(f"/policies/{created['id']}").json()["policy"]
        assert shown["blob"] == created["rules"] and shown["type"] == "application/json"
        only = c.get("/policies", params={"type": "application/json"}).json()["policies"]
        assert created["id"] in {p["id"] for p in only}
        assert c.get("/policies", params={"type": "text/plain"}).json()["policies"] == []
        patched = c.patch(f"/policies/{created['id']}", json={"policy": {"blob": "{}"}})
        assert patched.status_code == 200 and patched.json()["policy"]["blob"] == "{}"
        _error(c.post("/policies", json={"policy": {"type": "application/json"}}), 400)
        _error(c.post("/policies", json={"policy": {"blob": "{}"}}), 400)
        _error(c.patch(f"/policies/{created['id']}", json={"policy": {"blob": None}}), 400)
        _error(c.get("/policies/nope"), 404)
    user_token = token_for(server, *_member(server))
    with client(server, user_token) as uc:
        _error(uc.get("/policies"), 403)
        _error(uc.delete(f"/policies/{created['id']}"), 403)
    openstack(server, "policy", "delete", created["id"])
    with client(server) as c:
        _error(c.get(f"/policies/{created['id']}"), 404)
        _error(c.delete(f"/policies/{created['id']}"), 404)
    _no_traceback(server)


def _member(server: Server) -> tuple[str, str, str]:
    with client(server) as c:
        project = make_project(c)
        user = make_user(c)
        grant(c, project["id"], user["id"], "member")
    return user["id"], user["password"], project["id"]


# -- domain-specific configuration -------------------------------------------------------


def test_domain_config(server: Server) -> None:
    with client(server) as c:
        domain = c.post("/domains", json={"domain": {"name": unique("dom")}}).json()["domain"]
        base = f"/domains/{domain['id']}/config"
        _error(c.get(base), 404)  # none yet
        config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://ldap.example", "password": "s3cret"}}
        created = c.put(base, json={"config": config})
        assert created.status_code == 201, created.text
        # The password is kept but never shown.
        assert created.json()["config"] == {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://ldap.example"}}
        assert c.get(base).json()["config"] == created.json()["config"]
        assert c.get(f"{base}/ldap").json()["config"] == {"ldap": {"url": "ldap://ldap.example"}}
        assert c.get(f"{base}/ldap/url").json()["config"] == {"url": "ldap://ldap.example"}
        _error(c.get(f"{base}/ldap/user_tree_dn"), 404)
        patched = c.patch(f"{base}/ldap", json={"config": {"ldap": {"user_tree_dn": "ou=Users"}}})
        assert patched.status_code == 200, patched.text
        assert patched.json()["config"]["ldap"] == {"url": "ldap://ldap.example", "user_tree_dn": "ou=Users"}
        one = c.patch(f"{base}/ldap/url", json={"config": {"url": "ldaps://other"}})
        assert one.json()["config"]["ldap"]["url"] == "ldaps://other"
        assert c.delete(f"{base}/ldap/user_tree_dn").status_code == 204
        assert c.get(f"{base}/ldap").json()["config"] == {"ldap": {"url": "ldaps://other"}}
        replaced = c.put(base, json={"config": {"identity": {"driver": "sql"}}})
        assert replaced.status_code == 200 and replaced.json()["config"] == {"identity": {"driver": "sql"}}
        # Keystone's refusals: unsupported groups and options are 403, missing ones 404.
        _error(c.put(base, json={"config": {"catalog": {"driver": "sql"}}}), 403)
        _error(c.put(base, json={"config": {"ldap": {"colour": "red"}}}), 403)
        _error(c.put(base, json={"config": {}}), 403)
        _error(c.put(base, json={"settings": {}}), 400)
        _error(c.patch(f"{base}/ldap", json={"config": {"ldap": {"url": "ldap://x"}}}), 404)
        _error(c.put("/domains/nope/config", json={"config": {"identity": {"driver": "sql"}}}), 404)
        defaults = c.get("/domains/config/default").json()["config"]
        assert defaults["identity"]["driver"] == "sql" and "password" not in defaults["ldap"]
        assert c.get("/domains/config/ldap/url/default").json()["config"] == {"url": "ldap://localhost"}
        _error(c.get("/domains/config/catalog/default"), 403)
        assert c.delete(base).status_code == 204
        _error(c.get(base), 404)
        _error(c.delete(base), 404)
    user_token = token_for(server, *_member(server))
    with client(server, user_token) as uc:
        _error(uc.get("/domains/config/default"), 403)
    _no_traceback(server)
