"""Swift-style timestamps: forms, ordering, offsets."""

from __future__ import annotations

import pytest

from stratus.objectstore.drivers.timestamp import Timestamp


def test_normal_and_internal_forms() -> None:
    ts = Timestamp(1700000000.123456)
    assert ts.normal == "1700000000.12346"
    assert ts.internal == ts.normal
    assert Timestamp(ts, offset=1).internal == "1700000000.12346_0000000000000001"
    assert Timestamp("1700000000.12346_000000000000000a").offset == 10
    assert Timestamp("17").normal == "0000000017.00000"
    assert Timestamp("17.5").normal == "0000000017.50000"


def test_ordering_matches_text_order() -> None:
    values = [
        Timestamp(5),
        Timestamp(5, offset=1),
        Timestamp(5, offset=2),
        Timestamp(5.00001),
        Timestamp(6),
    ]
    assert sorted(reversed(values)) == values
    assert sorted(v.internal for v in values) == [v.internal for v in values]
    assert Timestamp(5) == "5.00000" and Timestamp(5) < "6"
    assert Timestamp(5, delta=1) == Timestamp(5.00001)


@pytest.mark.parametrize("bad", ["", "x", "1.", "-1", "1_", "1.2.3", "1_zz", "1e5"])
def test_bad_values_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Timestamp(bad)


def test_dates() -> None:
    ts = Timestamp("1700000000.12345")
    assert ts.isoformat == "2023-11-14T22:13:20.123450"
    assert ts.http_date == "Tue, 14 Nov 2023 22:13:21 GMT"
