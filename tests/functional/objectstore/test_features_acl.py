"""Account ACLs (X-Account-Access-Control) and container ACLs naming users
by id, against a real all-in-one with python-swiftclient."""

from __future__ import annotations

import json

import pytest
from swiftclient.client import ClientException, Connection

from tests.conftest import Server
from tests.functional.identity import helpers as identity
from tests.functional.objectstore.conftest import Account, project_account, run_cli, unique


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


def _domain_user(store: Server, project_name: str, user_name: str) -> Account:
    """A project and a member user of the same names in a new domain (not
    the default one)."""
    with identity.client(store) as c:
        domain = identity.create(c, "domain", {"name": unique("dom")})
        project = identity.make_project(c, name=project_name, domain_id=domain["id"])
        user = identity.make_user(c, name=user_name, domain_id=domain["id"])
        identity.grant(c, project["id"], user["id"], "member")
    token = identity.token_for(store, user["id"], user["password"], project["id"])
    return Account(store, user_name, user["password"], project_name, project["id"], token)


def test_container_acl_for_a_user_of_another_domain(store: Server, owner: Account) -> None:
    """keystoneauth's rule: names count only in the default domain (the same
    names elsewhere are somebody else); ids count everywhere."""
    mine = connection(owner)
    c = unique("dom")
    mine.put_container(c)
    mine.put_object(c, "o", b"for them")
    elsewhere = _domain_user(store, owner.project_name, owner.user_name)  # the owner's names
    theirs = connection(elsewhere, owner.url)
    mine.post_container(c, {"X-Container-Read": f"{owner.project_name}:{owner.user_name}"})
    with pytest.raises(ClientException) as err:
        theirs.get_object(c, "o")
    assert err.value.http_status == 403
    mine.post_container(c, {"X-Container-Read": f"{elsewhere.project_id}:{_user_id(elsewhere)}"})
    assert theirs.get_object(c, "o")[1] == b"for them"
    mine.post_container(
        c, {"X-Container-Read": "", "X-Container-Write": f"{elsewhere.project_id}:*"}
    )
    theirs.put_object(c, "theirs", b"written")
    assert mine.get_object(c, "theirs")[1] == b"written"


def test_cross_account_copy_as_the_acls_allow(store: Server, owner: Account) -> None:
    """COPY with Destination-Account and PUT with X-Copy-From-Account, read
    through one account's container ACL, written through the other's."""
    mine = connection(owner)
    c = unique("xacct")
    mine.put_container(c)
    mine.put_object(c, "o", b"shared", headers={"X-Object-Meta-Kind": "original"})
    other = project_account(store)
    theirs = connection(other)
    theirs.put_container("inbox")
    # swiftclient's copy_object is a COPY at the source's URL: the owner's account
    at_owner = connection(other, owner.url)
    with pytest.raises(ClientException) as err:  # no read ACL yet
        at_owner.copy_object(c, "o", "/inbox/o", headers={"Destination-Account": other.name})
    assert err.value.http_status == 403
    mine.post_container(c, {"X-Container-Read": f"{other.project_id}:*"})
    at_owner.copy_object(
        c, "o", "/inbox/o", headers={"Destination-Account": other.name, "X-Object-Meta-Note": "mine"}
    )
    headers, body = theirs.get_object("inbox", "o")
    assert body == b"shared"
    assert headers["x-object-meta-kind"] == "original" and headers["x-object-meta-note"] == "mine"
    theirs.put_object(
        "inbox", "o2", b"", headers={"X-Copy-From": f"/{c}/o", "X-Copy-From-Account": owner.name}
    )
    assert theirs.get_object("inbox", "o2")[1] == b"shared"
    # and into the owner's container once its write ACL allows
    theirs.put_object("inbox", "back", b"from them")
    with pytest.raises(ClientException) as err:
        theirs.copy_object("inbox", "back", f"/{c}/back", headers={"Destination-Account": owner.name})
    assert err.value.http_status == 403
    mine.post_container(c, {"X-Container-Write": f"{other.project_id}:*"})
    theirs.copy_object("inbox", "back", f"/{c}/back", headers={"Destination-Account": owner.name})
    assert mine.get_object(c, "back")[1] == b"from them"


def test_names_count_only_for_an_account_of_the_default_domain(store: Server) -> None:
    """keystoneauth's allow_names also asks the account's project domain (kept
    as the account's sysmeta, shown as X-Account-Project-Domain-Id): in an
    account of another domain, a default-domain user is named by id only."""
    elsewhere = _domain_user(store, unique("p"), unique("u"))
    theirs = connection(elsewhere)
    c = unique("names")
    theirs.put_container(c)  # creates the account, with its project's domain
    theirs.put_object(c, "o", b"by id only")
    with identity.client(store) as admin:
        domain_id = admin.get(f"/projects/{elsewhere.project_id}").json()["project"]["domain_id"]
    assert theirs.head_account()["x-account-project-domain-id"] == domain_id
    reader = project_account(store)  # in the default domain
    at_theirs = connection(reader, elsewhere.url)
    theirs.post_container(c, {"X-Container-Read": f"{reader.project_name}:{reader.user_name}"})
    with pytest.raises(ClientException) as err:
        at_theirs.get_object(c, "o")
    assert err.value.http_status == 403
    theirs.post_container(c, {"X-Container-Read": f"{reader.project_id}:{_user_id(reader)}"})
    assert at_theirs.get_object(c, "o")[1] == b"by id only"


def test_role_names_in_acls_are_for_the_accounts_own_project(store: Server, owner: Account) -> None:
    """A role name in an ACL lets the account's own project's users holding it
    in (keystoneauth checks roles after the project matched), nobody else's."""
    mine = connection(owner)
    c = unique("role")
    mine.put_container(c)
    mine.put_object(c, "o", b"for readers")
    role = unique("swiftreader")
    with identity.client(store) as admin:
        identity.create(admin, "role", {"name": role})
        colleague = identity.make_user(admin)
        identity.grant(admin, owner.project_id, colleague["id"], role)
        outsider = identity.make_user(admin)
        other_project = identity.make_project(admin)
        identity.grant(admin, other_project["id"], outsider["id"], role)
    inside = Account(store, colleague["name"], colleague["password"], owner.project_name, owner.project_id,
                     identity.token_for(store, colleague["id"], colleague["password"], owner.project_id))
    outside = Account(store, outsider["name"], outsider["password"], other_project["name"], other_project["id"],
                      identity.token_for(store, outsider["id"], outsider["password"], other_project["id"]))
    with pytest.raises(ClientException) as err:
        connection(inside).get_object(c, "o")
    assert err.value.http_status == 403
    run_cli("swift", owner.env(), "post", "--read-acl", role, c)
    assert connection(inside).get_object(c, "o")[1] == b"for readers"
    with pytest.raises(ClientException) as err:
        connection(outside, owner.url).get_object(c, "o")
    assert err.value.http_status == 403
