"""The listing databases as SQLite files beside the objects (the default
``DatabaseDriver``); see :mod:`.database` for their layout and durability."""

from __future__ import annotations

from stratus.objectstore.drivers.accountdb import AccountDB
from stratus.objectstore.drivers.containerdb import ContainerDB
from stratus.objectstore.drivers.timestamp import Timestamp


class SqliteDatabases:
    def open_container(self, path: str) -> ContainerDB:
        return ContainerDB.open(path)

    def open_account(self, path: str) -> AccountDB:
        return AccountDB.open(path)

    def create_container(
        self, path: str, account: str, container: str, put_timestamp: Timestamp, policy: int
    ) -> ContainerDB:
        return ContainerDB.create(path, account, container, put_timestamp, policy)

    def create_account(self, path: str, account: str, put_timestamp: Timestamp) -> AccountDB:
        return AccountDB.create(path, account, put_timestamp)
