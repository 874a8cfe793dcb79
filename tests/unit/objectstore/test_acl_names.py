"""keystoneauth's rules for ACL entries: when names count, role entries, and
the project domain an account write stores."""

from __future__ import annotations

from stratus.common.context import RequestContext
from stratus.objectstore.layers.access import UNKNOWN_DOMAIN, Grantee, new_domain_sysmeta


def ctx(domain: str = "default") -> RequestContext:
    return RequestContext(
        "req-1",
        user_id="u1",
        user_name="alice",
        user_domain_id=domain,
        project_id="p1",
        project_name="team",
        project_domain_id=domain,
        roles=("reader",),
    )


def test_ids_always_names_only_when_allowed() -> None:
    for entry in ("p1:u1", "*:u1", "p1:*", "*:*"):
        assert Grantee(names=False, own=False).matches(ctx(), [entry])
    for entry in ("team:alice", "team:*", "*:alice", "p1:alice"):
        assert Grantee(names=True, own=False).matches(ctx(), [entry])
        assert not Grantee(names=False, own=False).matches(ctx(), [entry])
    assert not Grantee(names=True, own=False).matches(ctx(), ["p2:u1", "team:bob"])


def test_role_entries_only_for_the_accounts_own_project() -> None:
    assert Grantee(names=True, own=True).matches(ctx(), ["Reader"])
    assert not Grantee(names=True, own=False).matches(ctx(), ["reader"])
    assert not Grantee(names=True, own=True).matches(RequestContext("req-2"), ["reader", "*:*"])


def test_the_domain_an_account_write_stores() -> None:
    mine, theirs = "AUTH_p1", "AUTH_p2"
    assert new_domain_sysmeta(ctx("d1"), mine, False, None) == "d1"
    assert new_domain_sysmeta(ctx("d1"), theirs, False, None) == UNKNOWN_DOMAIN
    assert new_domain_sysmeta(ctx(), mine, True, None) == "default"  # a legacy account learns
    assert new_domain_sysmeta(ctx("d1"), mine, True, None) is None  # only the default, so
    assert new_domain_sysmeta(ctx("d1"), mine, True, UNKNOWN_DOMAIN) == "d1"
    assert new_domain_sysmeta(ctx("d1"), theirs, True, UNKNOWN_DOMAIN) is None
    assert new_domain_sysmeta(ctx("d1"), mine, True, "d1") is None
