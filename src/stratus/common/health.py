"""What ``stratus status`` reports of a service's agents: one row each, read
from the database (host rows and their heartbeats).

A service with agents registers a report in ``stratus.status.REPORTS`` (its
name -> an async function of the database and the configuration)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from stratus.common.config import Config
from stratus.common.db import Database


@dataclass(frozen=True)
class AgentState:
    service: str  # "compute", later "network", "volume", ...
    host: str
    alive: bool  # its heartbeat is recent (and it is not forced down)
    heartbeat: datetime | None
    enabled: bool = True
    detail: str = ""  # driver, address, what it holds


AgentReport = Callable[[Database, Config], Awaitable[list[AgentState]]]
