"""Application credentials with access rules: stored, shown on the credential
and its token, shared between a user's credentials, and enforced by every
service's token check (a request no rule allows is a 401, as
keystonemiddleware answers)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.functional.identity.helpers import client, issue, unique, user_with_role
from tests.functional.identity.test_cli import openstack_json
from tests.functional.identity.test_remote_auth import validator

SERVERS = {"service": "compute", "path": "/v2.1/servers", "method": "GET"}
KEYPAIR = {"service": "compute", "path": "/v2.1/os-keypairs/{name}", "method": "GET"}
IMAGES = {"service": "compute", "path": "/v2.1/images", "method": "GET"}  # Nova's image proxy
ACCOUNT = {"service": "object-store", "path": "/v1/{account}", "method": "GET"}


def _create(c: httpx.Client, user_id: str, rules: list[dict[str, Any]]) -> httpx.Response:
    body = {"application_credential": {"name": unique("ac"), "access_rules": rules}}
    return c.post(f"/users/{user_id}/application_credentials", json=body)


async def _remote_paths(server: Server, token: str) -> set[str] | None:
    """The paths of the token's access rules, as a service that validates
    tokens through the identity API sees them."""
    remote = validator(server)
    try:
        rules = (await remote.validate(token, "req-access-rules")).access_rules
    finally:
        await remote.close()
    return None if rules is None else {r.path for r in rules}


def _token(server: Server, cred: dict[str, Any]) -> httpx.Response:
    ref = {"id": cred["id"], "secret": cred["secret"]}
    body = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": ref}}}
    resp = issue(server, body)
    assert resp.status_code == 201, resp.text
    return resp


def test_access_rules_are_stored_shown_and_enforced_by_every_service(server: Server) -> None:
    user, project, token = user_with_role(server, "member")
    uid = user["id"]
    with client(server, token) as c:
        resp = _create(c, uid, [SERVERS, KEYPAIR, IMAGES, ACCOUNT, dict(SERVERS)])
        assert resp.status_code == 201, resp.text
        cred = resp.json()["application_credential"]
        rules = {(r["service"], r["path"], r["method"]): r["id"] for r in cred["access_rules"]}
        assert set(rules) == {tuple(r.values()) for r in (SERVERS, KEYPAIR, IMAGES, ACCOUNT)}
        servers_rule = rules[tuple(SERVERS.values())]
        # A second credential names a rule by id: the user's rule is shared.
        again = _create(c, uid, [{"id": servers_rule}])
        assert again.status_code == 201, again.text
        second = again.json()["application_credential"]
        assert [r["id"] for r in second["access_rules"]] == [servers_rule]
        # Bad rules are refused before anything is stored.
        assert _create(c, uid, [{**SERVERS, "method": "FETCH"}]).status_code == 400
        assert _create(c, uid, [{**SERVERS, "path": "v2.1/servers"}]).status_code == 400
        assert _create(c, uid, [{"service": "compute"}]).status_code == 400
        assert _create(c, uid, [{"id": "0" * 32}]).status_code == 404

        listed = c.get(f"/users/{uid}/access_rules").json()["access_rules"]
        assert {r["id"] for r in listed} == set(rules.values())
        shown = c.get(f"/users/{uid}/access_rules/{servers_rule}")
        assert shown.json()["access_rule"]["path"] == "/v2.1/servers"
        again_shown = c.get(f"/users/{uid}/application_credentials/{cred['id']}").json()
        by_id = sorted(again_shown["application_credential"]["access_rules"], key=lambda r: r["id"])
        assert by_id == sorted(cred["access_rules"], key=lambda r: r["id"])
        # In use by a credential: Keystone's 403.
        in_use = c.delete(f"/users/{uid}/access_rules/{servers_rule}")
        assert in_use.status_code == 403, in_use.text
        assert in_use.json()["error"]["code"] == 403

    issued = _token(server, cred)
    assert sorted(r["id"] for r in issued.json()["token"]["application_credential"]["access_rules"]) == sorted(
        rules.values()
    )
    restricted = {"X-Auth-Token": issued.headers["x-subject-token"]}
    url = server.url
    with httpx.Client(headers=restricted, timeout=30) as h:
        assert h.get(f"{url}/compute/v2.1/servers").status_code == 200
        # {name} matches one path segment: the call reaches Nova, which has no such key pair.
        missing = h.get(f"{url}/compute/v2.1/os-keypairs/{unique('nokey')}")
        assert missing.status_code == 404 and "itemNotFound" in missing.json()
        # Nova's image proxy calls the image API with the caller's token and
        # the service's beside it, which the image API lets through.
        proxied = h.get(f"{url}/compute/v2.1/images")
        assert proxied.status_code == 200 and "images" in proxied.json(), proxied.text
        # Swift's paths are below its mount too: /v1/<account> wherever it is served.
        for prefix in ("", "/object-store"):
            listed = h.get(f"{url}{prefix}/v1/AUTH_{project['id']}")
            assert listed.status_code in (200, 204), listed.text
        # The caller's own token as X-Service-Token vouches for nothing.
        own = {"X-Service-Token": token}
        assert h.get(f"{url}/image/v2/images", headers=own).status_code == 401
        refused = [
            h.post(f"{url}/compute/v2.1/servers", json={"server": {"name": "x"}}),
            h.get(f"{url}/compute/v2.1/servers/detail"),
            h.get(f"{url}/compute/v2.1/os-keypairs"),
            h.get(f"{url}/image/v2/images"),
            h.get(f"{url}/network/v2.0/networks"),
            h.get(f"{url}/volume/v3/{project['id']}/volumes"),
            h.get(f"{url}/identity/v3/users/{uid}"),
            h.put(f"{url}/v1/AUTH_{project['id']}/c"),
            h.head(f"{url}/v1/AUTH_{project['id']}"),
        ]
        for resp in refused:
            assert resp.status_code == 401, (resp.request.method, resp.request.url, resp.text)
        # Nothing was created by the refused POST.
        assert h.get(f"{url}/compute/v2.1/servers").json()["servers"] == []

    # A scaled-out service (remote validation) learns the rules too.
    remote = asyncio.run(_remote_paths(server, restricted["X-Auth-Token"]))
    assert remote == {r["path"] for r in (SERVERS, KEYPAIR, IMAGES, ACCOUNT)}
    # A validator that does not say it enforces access rules is not given the token.
    subject = {"X-Subject-Token": issued.headers["x-subject-token"]}
    with client(server) as admin:
        assert admin.get("/auth/tokens", headers=subject).status_code == 404
        enforcing = admin.get("/auth/tokens", headers={**subject, "OpenStack-Identity-Access-Rules": "1.0"})
        assert enforcing.status_code == 200
        assert enforcing.json()["token"]["application_credential"]["access_rules"]

    with client(server, token) as c:
        for made in (cred, second):
            assert c.delete(f"/users/{uid}/application_credentials/{made['id']}").status_code == 204
        assert c.delete(f"/users/{uid}/access_rules/{servers_rule}").status_code == 204
        assert c.get(f"/users/{uid}/access_rules/{servers_rule}").status_code == 404
        left = [r["path"] for r in c.get(f"/users/{uid}/access_rules").json()["access_rules"]]
        assert left == [IMAGES["path"], KEYPAIR["path"], ACCOUNT["path"]]


def test_cli_creates_a_credential_with_access_rules(server: Server) -> None:
    if server.database != "sqlite":
        pytest.skip("one CLI call is enough: the request is the same on every database")
    made = openstack_json(
        server,
        "application credential",
        "create",
        "--access-rules",
        json.dumps([SERVERS]),
        unique("ac"),
    )
    shown = {key.lower().replace(" ", "_"): value for key, value in made.items()}
    assert "/v2.1/servers" in json.dumps(shown["access_rules"]), made
