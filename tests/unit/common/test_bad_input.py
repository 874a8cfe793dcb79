"""The schema-level integer rule and header values: units of what the
functional bad-input tests check through the APIs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from stratus.common.api import BigInt, IntOrString, Query, Schema, header_value, safe_headers


class Free(BaseModel):
    model_config = ConfigDict(extra="allow")


class Body(Schema):
    count: int = 0
    size: BigInt | None = None
    either: IntOrString = 1
    free: Free = Free()
    items: list[int] = []


@pytest.mark.parametrize(
    "body",
    [
        {"count": 2**31},
        {"count": -(2**31) - 1},
        {"size": 2**63},
        {"either": str(2**70)},
        {"free": {"quota": 2**40}},
        {"free": {"nested": {"deep": [1, 2**33]}}},
        {"free": {"float": 1.2e21}},  # JSON integers past 64 bits arrive as floats
        {"items": [1, 2**31]},
    ],
)
def test_integers_beyond_their_column_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        Body.model_validate(body)
    assert "out of range" in str(info.value)


def test_integers_within_their_column_pass() -> None:
    ok = Body.model_validate(
        {"count": 2**31 - 1, "size": 2**62, "either": "42", "free": {"x": -1, "f": 0.5, "s": "9" * 30}}
    )
    assert (ok.count, ok.size, ok.either) == (2**31 - 1, 2**62, 42)
    assert Body.model_validate({"either": "not a number"}).either == "not a number"


def test_queries_follow_the_rule_too() -> None:
    class Q(Query):
        limit: int | None = None
        size_min: BigInt | None = None

    assert Q.model_validate({"limit": "10", "size_min": str(2**40)}).size_min == 2**40
    with pytest.raises(ValidationError):
        Q.model_validate({"limit": str(2**31)})


def test_header_values_that_are_not_latin_1_are_percent_encoded() -> None:
    assert header_value("plain") == "plain"
    assert header_value("café") == "café"  # Latin-1 is what HTTP carries
    assert header_value("snow☃") == "snow%E2%98%83"
    assert header_value("café☃") == "caf%C3%A9%E2%98%83"
    headers = safe_headers({"Location": "http://x/tags/café", "X-Tag": "café"})
    assert headers == {"Location": "http://x/tags/caf%C3%A9", "X-Tag": "café"}  # URLs: ASCII
