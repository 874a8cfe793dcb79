"""Every functional test runs on SQLite and on PostgreSQL: a module's clouds
take their kind of database from ``database`` (one run of the module per
kind, ids ``[sqlite]`` and ``[postgres]``)."""

from __future__ import annotations

import pytest

from tests.conftest import database_params


@pytest.fixture(scope="module", params=database_params())
def database(request: pytest.FixtureRequest) -> str:
    """"sqlite" or "postgres": the kind of database of this module's clouds."""
    return str(request.param)
