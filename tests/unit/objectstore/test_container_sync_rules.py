"""Container sync's rules: what X-Container-Sync-To may name and where it
leads, and the realm signature (with a realm's second key while keys rotate)."""

from __future__ import annotations

import pytest

from stratus.objectstore.errors import BadRequest
from stratus.objectstore.service.container_sync import SyncRealms, signature, valid_signature

REALMS = SyncRealms.of(
    {"us": ("k1", "k2", {"dfw1": "http://127.0.0.1:8080/v1/"}), "bare": ("k", "", {})},
    allowed_hosts=["127.0.0.1"],
)


def test_realm_form_leads_to_the_clusters_endpoint() -> None:
    target = REALMS.target("//US/Dfw1/AUTH_a/c/")
    assert target is not None
    assert (target.url, target.realm, target.realm_key) == (
        "http://127.0.0.1:8080/v1/AUTH_a/c",
        "US",
        "k1",
    )
    assert REALMS.target("") is None
    assert REALMS.info() == {"US": {"clusters": {"DFW1": {}}}}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("//us/dfw1/AUTH_a", "Invalid X-Container-Sync-To format"),
        ("//eu/dfw1/AUTH_a/c", "No realm key for 'eu'"),
        ("//bare/x/AUTH_a/c", "No cluster endpoint for 'bare' 'x'"),
        ("http://10.0.0.1/v1/AUTH_a/c", "Invalid host '10.0.0.1'"),
        ("http://127.0.0.1", "Path required"),
        ("http://127.0.0.1/v1/a/c#f", "fragments not allowed"),
        ("gopher://127.0.0.1/v1/a/c", "Invalid scheme 'gopher'"),
    ],
)
def test_what_may_not_be_named(value: str, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        REALMS.target(value)
    assert reason in str(err.value)


def test_full_urls_refused_when_not_allowed() -> None:
    realms = SyncRealms.of({}, allow_full_urls=False)
    with pytest.raises(BadRequest, match="Full URLs are not allowed"):
        realms.target("http://127.0.0.1/v1/AUTH_a/c")


def test_signature_with_either_realm_key() -> None:
    path = "/v1/AUTH_a/c/o"
    for key in REALMS.keys("us"):
        sig = signature("PUT", path, "1.00000", "n", key, "user-key")
        assert valid_signature(sig, "PUT", [path], "1.00000", "n", REALMS.keys("US"), "user-key")
    sig = signature("PUT", path, "1.00000", "n", "k1", "user-key")
    keys = REALMS.keys("us")
    assert not valid_signature(sig, "DELETE", [path], "1.00000", "n", keys, "user-key")
    assert not valid_signature(sig, "PUT", [path], "2.00000", "n", keys, "user-key")
    assert not valid_signature(sig, "PUT", [path], "1.00000", "n", keys, "other-key")
    assert REALMS.keys("nowhere") == ()
