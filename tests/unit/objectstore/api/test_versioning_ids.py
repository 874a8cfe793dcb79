"""Object versioning over the in-memory cluster: malformed version ids and
client content types that look like the listing's version-id parameter."""

from __future__ import annotations

from stratus.objectstore.layers.version_listing import _key, strip_id
from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


async def _versioned(cloud: Cloud, c: str) -> None:
    r = await cloud.http.put(f"{A}/{c}", headers={"x-versions-enabled": "true"})
    assert r.status_code in (201, 202)


async def test_non_ascii_digit_version_id_is_a_400(cloud: Cloud) -> None:
    await _versioned(cloud, "v")
    assert (await cloud.http.put(f"{A}/v/o", content=b"x")).status_code == 201
    assert (await cloud.http.put(f"{A}/plain")).status_code in (201, 202)
    for vid in ("²", "1.²", "١٢٣"):
        q = {"version-id": vid}
        assert (await cloud.http.get(f"{A}/v/o", params=q)).status_code == 400
        assert (await cloud.http.head(f"{A}/v/o", params=q)).status_code == 400
        assert (await cloud.http.delete(f"{A}/v/o", params=q)).status_code == 400
        copy = await cloud.http.request(
            "COPY", f"{A}/plain/src", params=q, headers={"destination": "plain/dst"}
        )
        assert copy.status_code == 400
    listing = await cloud.http.get(f"{A}/v", params={"versions": "", "limit": "²"})
    assert listing.status_code == 400


def test_client_type_with_version_param_is_not_taken_for_an_id() -> None:
    odd = "text/plain; swift_version_id=x"
    link = {"name": "a", "content_type": f"{odd}; swift_version_id=1700000000.12345"}
    assert strip_id(link) == "1700000000.12345" and link["content_type"] == odd
    plain = {"name": "b", "content_type": odd}
    assert strip_id(plain) is None and plain["content_type"] == odd
    # a listing sorts entries whatever ids they carry, unparsable ones as "null"
    entries = [{"name": "a", "version_id": "x"}, {"name": "a", "version_id": "1.5"}]
    assert sorted(entries, key=_key)[0]["version_id"] == "1.5"
