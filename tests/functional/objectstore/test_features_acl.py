"""Account ACLs (X-Account-Access-Control) and container ACLs naming users
by id, against a real all-in-one with python-swiftclient."""

from __future__ import annotations

import json

import pytest
from swiftclient.client import ClientException, Connection

from tests.conftest import Server
from tests.functional.objectstore.conftest import Account, project_account, unique


def connection(acct: Account, url: str | None = None) -> Connection:
    return Connection(preauthurl=url or acct.url, preauthtoken=acct.token, retries=0)


def _user_id(acct: Account) -> str:
    import httpx

    info = httpx.get(
        f"{acct.server.auth_url}/auth/tokens",
        headers={"X-Auth-Token": acct.token, "X-Subject-Token": acct.token},
        timeout=30,
    ).json()["token"]
    return str(info["user"]["id"])


def test_account_acl_levels(store: Server, owner: Account) -> None:
    mine = connection(owner)
    c = unique("acl")
    mine.put_container(c)
    mine.put_object(c, "o", b"shared")
    other = project_account(store)
    theirs = connection(other, owner.url)
    with pytest.raises(ClientException) as err:
        theirs.get_object(c, "o")
    assert err.value.http_status == 403
    grant = f"{other.project_id}:{_user_id(other)}"
    mine.post_account({"X-Account-Access-Control": json.dumps({"read-only": [grant]})})
    assert theirs.get_object(c, "o")[1] == b"shared"
    assert c in [x["name"] for x in theirs.get_account()[1]]
    assert "x-account-access-control" not in theirs.head_account()
    with pytest.raises(ClientException) as err:
        theirs.put_object(c, "new", b"x")
    assert err.value.http_status == 403
    mine.post_account({"X-Account-Access-Control": json.dumps({"read-write": [grant]})})
    theirs.put_object(c, "new", b"x")
    assert mine.get_object(c, "new")[1] == b"x"
    with pytest.raises(ClientException) as err:
        theirs.post_account({"X-Account-Meta-Color": "red"})
    assert err.value.http_status == 403
    assert json.loads(mine.head_account()["x-account-access-control"]) == {"read-write": [grant]}
    with pytest.raises(ClientException) as err:
        mine.post_account({"X-Account-Access-Control": "{not json"})
    assert err.value.http_status == 400


def test_container_acl_by_user_id(store: Server, owner: Account) -> None:
    mine = connection(owner)
    c = unique("uid")
    mine.put_container(c)
    mine.put_object(c, "o", b"for one user")
    other = project_account(store)
    mine.post_container(c, {"X-Container-Read": f"*:{_user_id(other)}"})
    assert connection(other, owner.url).get_object(c, "o")[1] == b"for one user"
    third = project_account(store)
    with pytest.raises(ClientException) as err:
        connection(third, owner.url).get_object(c, "o")
    assert err.value.http_status == 403
