"""Building the orchestration agent from the configuration (the all-in-one
runs it in its primary)."""

from __future__ import annotations

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.reconciler import Timing
from stratus.orchestration.agent.agent import OrchestrationAgent
from stratus.orchestration.agent.recorder import Recorder
from stratus.orchestration.drivers.registry import build_registry
from stratus.orchestration.service.trusts import StackTrusts


def build_agent(cfg: Config, db: Database) -> OrchestrationAgent:
    timing = Timing(poll_interval=2.0, sync_interval=3600.0, heartbeat_interval=3600.0,
                    max_parallel=cfg.orchestration.max_parallel_stacks)  # fmt: skip
    from stratus.network.agent.runner import guest_api_url

    guest_url = (cfg.orchestration.waitcondition_server_url or guest_api_url(cfg)).rstrip("/")
    return OrchestrationAgent(Recorder(db), build_registry(), cfg.public_url, timing,
                              guest_url=guest_url, trusts=StackTrusts(cfg))  # fmt: skip
