"""The database service layer: one facade over its parts."""

from __future__ import annotations

from typing import Any, Protocol

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.database.service.accounts import Accounts
from stratus.database.service.backups import Backups
from stratus.database.service.configurations import Configurations
from stratus.database.service.datastores import Datastores
from stratus.database.service.instances import Instances
from stratus.database.service.logs import Logs
from stratus.database.service.network_quota import NetworkQuota
from stratus.database.service.quotas import ProjectQuotas, Quotas


class Wakeable(Protocol):
    def wake(self) -> None: ...


class DatabaseService:
    def __init__(self, cfg: Config, db: Database):
        dc = cfg.dbaas
        self.cfg = cfg
        self.db = db
        self.datastores = Datastores(db, dc.service_down_time)
        quotas = Quotas(dc.quota_instances, dc.quota_volumes, dc.quota_backups, dc.max_volume_size)
        self.quotas = ProjectQuotas(db, quotas)
        self.instances = Instances(db, self.datastores, self.quotas, self.wake,
                                   dc.service_down_time, NetworkQuota(cfg))  # fmt: skip
        self.accounts = Accounts(db, self.wake)
        self.backups = Backups(db, dc.backup_container, self.quotas, self.wake)
        self.configurations = Configurations(db, self.datastores, self.wake)
        self.logs = Logs(db, dc.log_container, dc.log_action_timeout, self.wake)
        # Agents running in this process, by host: woken at once when work
        # is recorded for them (agents of their own process poll).
        self.agents: dict[str, Wakeable] = {}

    def wake(self, host: str | None) -> None:
        agent = self.agents.get(host) if host else None
        if agent is not None:
            agent.wake()

    async def stop(self) -> None:
        for agent in list(self.agents.values()):
            stop: Any = getattr(agent, "stop", None)
            if stop is not None:
                await stop()
        self.agents.clear()
