"""Access rules' path patterns, as keystonemiddleware matches them."""

from __future__ import annotations

import pytest

from stratus.common.access_rules import AccessRule, allows, enforce, path_matches, request_path
from stratus.common.errors import Unauthorized


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/v2.1/servers", "/v2.1/servers", True),
        ("/v2.1/servers", "/v2.1/servers/detail", False),
        ("/v2.1/servers", "/v2.1/servers/", False),
        ("/v2.1/servers/*", "/v2.1/servers/abc", True),
        ("/v2.1/servers/*", "/v2.1/servers/abc/ips", False),
        ("/v2.1/servers/*", "/v2.1/servers/", False),
        ("/v2.1/servers/{server_id}/ips", "/v2.1/servers/abc/ips", True),
        ("/v2.1/servers/{server_id}/ips", "/v2.1/servers/a/b/ips", False),
        ("/v2.1/**", "/v2.1/servers/abc/ips", True),
        ("/v2.1/**", "/v3/servers", False),
        ("/v2.1/servers.json", "/v2.1/serversxjson", False),  # "." is no wildcard
    ],
)
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    assert path_matches(pattern, path) is expected


def test_service_method_and_path_must_all_match() -> None:
    rules = (AccessRule("compute", "/v2.1/servers", "GET"),)
    assert allows(rules, ("compute",), "GET", "/v2.1/servers")
    assert not allows(rules, ("compute",), "POST", "/v2.1/servers")
    assert not allows(rules, ("compute",), "HEAD", "/v2.1/servers")
    assert not allows(rules, ("image",), "GET", "/v2.1/servers")
    enforce(None, ("image",), "DELETE", "/v2/images")  # no rules: unrestricted
    with pytest.raises(Unauthorized):
        enforce((), ("compute",), "GET", "/v2.1/servers")  # an empty list allows nothing


def test_the_path_is_the_one_sent_below_the_mount() -> None:
    scope = {"raw_path": b"/compute/v2.1/servers/a%2Fb?x=1", "path": "/x", "root_path": "/compute"}
    assert request_path(scope) == "/v2.1/servers/a%2Fb"
    assert request_path({"path": "/v1/AUTH_p", "root_path": ""}) == "/v1/AUTH_p"
