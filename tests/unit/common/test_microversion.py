"""Microversion negotiation as clients see it."""

import pytest
from starlette.datastructures import Headers

from stratus.common.errors import BadRequest
from stratus.common.microversion import Microversions, NotAcceptable, Version

NOVA = Microversions("compute", Version.parse("2.1"), Version.parse("2.96"), "x-openstack-nova-api-version")


def negotiate(**headers: str) -> str:
    return str(NOVA.negotiate(Headers(headers={k.replace("_", "-"): v for k, v in headers.items()})))


def test_no_header_means_the_minimum() -> None:
    assert negotiate() == "2.1"


def test_both_headers_are_honoured_and_the_standard_one_wins() -> None:
    assert negotiate(openstack_api_version="compute 2.60") == "2.60"
    assert negotiate(x_openstack_nova_api_version="2.37") == "2.37"
    assert negotiate(openstack_api_version="compute 2.50", x_openstack_nova_api_version="2.10") == "2.50"


def test_another_service_in_the_header_is_ignored() -> None:
    assert negotiate(openstack_api_version="volume 3.50") == "2.1"


def test_latest_is_the_maximum() -> None:
    assert negotiate(openstack_api_version="compute latest") == "2.96"


@pytest.mark.parametrize("asked", ["2.97", "3.0", "2.0", "1.1"])
def test_out_of_range_is_406(asked: str) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(openstack_api_version=f"compute {asked}")


@pytest.mark.parametrize("asked", ["two", "2", "2.x", "2.1.1", "02.1"])
def test_garbage_is_400(asked: str) -> None:
    with pytest.raises(BadRequest):
        negotiate(openstack_api_version=f"compute {asked}")


def test_versions_compare_numerically() -> None:
    assert Version.parse("2.10") > Version.parse("2.9")
    assert Version.parse("2.96").at_least("2.47")
    assert not Version.parse("2.1").at_least("2.2")


def test_response_headers_echo_the_version() -> None:
    headers = NOVA.headers(Version.parse("2.60"))
    assert headers["OpenStack-API-Version"] == "compute 2.60"
    assert headers["X-OpenStack-Nova-API-Version"] == "2.60"
    assert "OpenStack-API-Version" in headers["Vary"]
