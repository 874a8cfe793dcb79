"""Whether a MariaDB server may follow a new source from where it stands."""

from __future__ import annotations

from stratus.database.drivers.mariadb_gtid import gtid_prefix


def test_a_position_the_new_source_holds_is_followed_from_there() -> None:
    assert gtid_prefix("0-1-40", "0-1-42")  # behind, on the same history
    assert gtid_prefix("0-1-42", "0-1-42")  # as far
    assert gtid_prefix("0-1-42", "0-7-45")  # the new source wrote on after it
    assert gtid_prefix("0-1-42", "0-1-42,1-7-3")  # and in a domain of its own
    assert gtid_prefix("", "")  # neither holds anything yet


def test_otherwise_a_new_copy() -> None:
    assert not gtid_prefix("0-1-43", "0-1-42")  # ahead: writes the source never got
    assert not gtid_prefix("0-1-42", "0-7-42")  # as far, another transaction
    assert not gtid_prefix("0-1-42,1-1-5", "0-1-50")  # a domain the source lacks
    assert not gtid_prefix("", "0-1-42")  # from the start of a log that may not hold it all
