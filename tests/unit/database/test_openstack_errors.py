"""The reason an OpenStack service gave, as a database instance's fault."""

from __future__ import annotations

import httpx
import pytest

from stratus.database.drivers.base import DriverError
from stratus.database.drivers.openstack import checked


def test_a_refusal_names_the_services_reason() -> None:
    over = httpx.Response(409, json={"NeutronError": {
        "type": "OverQuota", "message": "Quota exceeded for resources: ['security_group'].",
        "detail": ""}})  # fmt: skip
    with pytest.raises(DriverError) as err:
        checked(over, "making the security group")
    assert str(err.value) == ("making the security group: 409 OverQuota: Quota exceeded for "
                              "resources: ['security_group'].")  # fmt: skip
    fault = httpx.Response(413, json={"overLimit": {"code": 413, "message": "Too many."}})
    with pytest.raises(DriverError, match=r"creating the volume: 413 Too many\.$"):
        checked(fault, "creating the volume")
    with pytest.raises(DriverError, match="502 bad gateway"):
        checked(httpx.Response(502, text="bad gateway"), "listing ports")
    assert checked(httpx.Response(200, json={"ports": []}), "listing ports") == {"ports": []}
