"""Building an lb agent from the configuration (in-process in the all-in-one)."""

from __future__ import annotations

import os

from stratus.common.config import Config
from stratus.common.reconciler import Timing
from stratus.loadbalancer.agent.agent import LoadBalancerAgent
from stratus.loadbalancer.drivers.base import Driver
from stratus.loadbalancer.service import LoadBalancerService


class DataPlaneUnavailable(Exception):
    """This host cannot run HAProxy in namespaces (not root)."""


def make_driver(cfg: Config) -> Driver:
    if cfg.loadbalancer.driver == "fake":
        from stratus.loadbalancer.drivers.fake import FakeDriver

        return FakeDriver()
    if os.geteuid() != 0:
        raise DataPlaneUnavailable("HAProxy in network namespaces needs root")
    from stratus.loadbalancer.drivers.haproxy import HAProxyDriver

    return HAProxyDriver(cfg.data_path(cfg.loadbalancer.state_dir), cfg.loadbalancer.haproxy)


def build_agent(cfg: Config, service: LoadBalancerService) -> LoadBalancerAgent:
    timing = Timing(
        poll_interval=2.0,
        sync_interval=cfg.loadbalancer.health_interval,
        heartbeat_interval=10.0,
    )
    return LoadBalancerAgent(service, make_driver(cfg), service.host, timing)
