"""Where the lb agent runs: in the all-in-one's process unless
``loadbalancer.run_agent`` is false (``stratus lb-agent`` runs it), and
HAProxy's nice value from the configuration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stratus.app import Cloud
from stratus.common.config import Config
from stratus.loadbalancer.agent.runner import make_driver


def _config(tmp_path: Path, **lb: object) -> Config:
    return Config.model_validate({
        "data_dir": tmp_path,
        "services": {"enabled": ["identity", "load-balancer"]},
        "loadbalancer": {"driver": "fake", **lb},
    })  # fmt: skip


@pytest.mark.parametrize("run_agent", [True, False])
async def test_the_all_in_one_runs_the_agent_unless_told_not_to(
    tmp_path: Path, run_agent: bool
) -> None:
    cloud = Cloud(_config(tmp_path, run_agent=run_agent))
    try:
        await cloud.db.migrate()
        await cloud._start_loadbalancer(cloud.loadbalancer)
        assert (cloud.lb_agent is not None) is run_agent
        await asyncio.sleep(0.1)  # the agent's start, spawned, begins
    finally:
        await cloud.stop()


def test_haproxy_runs_at_the_configured_nice_value(tmp_path: Path) -> None:
    from stratus.loadbalancer.drivers.haproxy import HAProxyDriver

    if not isinstance(driver := make_driver(_config(tmp_path, driver="haproxy",
                                                    haproxy_nice=5)), HAProxyDriver):  # fmt: skip
        pytest.skip("the HAProxy driver needs root")
    assert driver.nice == 5
