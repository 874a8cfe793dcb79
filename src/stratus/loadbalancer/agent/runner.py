"""Building an lb agent from the configuration: in-process in the
all-in-one, and as `stratus lb-agent --host NAME`."""

from __future__ import annotations

import os

from stratus.common.config import Config
from stratus.common.db import Database
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

    lb = cfg.loadbalancer
    return HAProxyDriver(cfg.data_path(lb.state_dir), lb.haproxy, lb.haproxy_nice)


def build_agent(cfg: Config, service: LoadBalancerService) -> LoadBalancerAgent:
    interval = cfg.loadbalancer.health_interval
    timing = Timing(
        # The loop's period bounds how often health is read.
        poll_interval=min(2.0, interval),
        sync_interval=interval,
        heartbeat_interval=10.0,
    )
    return LoadBalancerAgent(service, make_driver(cfg), service.host, timing)


def build_process_agent(cfg: Config, database: Database, host: str | None) -> LoadBalancerAgent:
    """``stratus lb-agent``: an agent in a process of its own, on the
    cloud's database, with the network service's calls made here (the VIP
    ports' bindings and security groups are rows; the network agent that
    plugs them is woken by its own polling)."""
    from stratus.network.service import NetworkService

    if host:
        cfg = cfg.model_copy(
            update={"loadbalancer": cfg.loadbalancer.model_copy(update={"host": host})}
        )
    service = LoadBalancerService(cfg, database, NetworkService(cfg, database))
    return build_agent(cfg, service)
