"""Hours of use within a period (os-simple-tenant-usage) and the audit
log's period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stratus.compute import models as m
from stratus.compute.api.usage import _month_before
from stratus.compute.service.usage import hours_in

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _server(launched: datetime | None, terminated: datetime | None = None) -> m.Server:
    return m.Server(id="s", launched_at=launched, terminated_at=terminated)


def test_a_running_server_counts_from_launch_to_the_period_end() -> None:
    s = _server(T0)
    assert hours_in(s, T0 - timedelta(hours=5), T0 + timedelta(hours=3)) == 3.0


def test_the_period_start_cuts_an_older_launch() -> None:
    s = _server(T0 - timedelta(days=1))
    assert hours_in(s, T0, T0 + timedelta(hours=2)) == 2.0


def test_a_deleted_server_counts_until_it_ended() -> None:
    s = _server(T0, T0 + timedelta(minutes=90))
    assert hours_in(s, T0 - timedelta(hours=1), T0 + timedelta(hours=5)) == 1.5


def test_outside_the_period_or_never_launched_is_nothing() -> None:
    assert hours_in(_server(T0 + timedelta(hours=1)), T0 - timedelta(hours=1), T0) == 0.0
    assert hours_in(_server(T0 - timedelta(hours=3), T0 - timedelta(hours=2)), T0, T0 + timedelta(hours=1)) == 0.0
    assert hours_in(_server(None), T0, T0 + timedelta(hours=1)) == 0.0


def test_the_audit_period_is_the_last_whole_month() -> None:
    assert _month_before(T0) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    january = datetime(2026, 1, 20, tzinfo=UTC)
    assert _month_before(january) == (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
