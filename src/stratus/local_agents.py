"""The agents the all-in-one (``stratus up``) runs in its own process, one
per enabled service that has one: each service is started, then its agent
is built and started in the background (``spawn``) so the cloud is ready
at once.  Where a host cannot run an agent (no root for the data plane),
the API works without it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import select

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.memory import trim
from stratus.compute.service import ComputeService
from stratus.image.service import ImageService
from stratus.network.service import NetworkService

log = logging.getLogger("stratus.app")

Spawn = Callable[[Coroutine[Any, Any, Any], str], None]


async def start_network(
    cfg: Config, network: NetworkService, spawn: Spawn
) -> tuple[Any, int | None]:
    """Start the network service and, where this host has a data plane,
    its agent: (the agent, the data-plane lock's descriptor), or (None, None)."""
    from stratus.network.agent.runner import (
        DataPlaneUnavailable,
        build_agent,
        claim_data_plane,
    )

    await network.start()
    try:
        lock = claim_data_plane(cfg)
    except DataPlaneUnavailable as exc:
        log.warning(
            "network: no data plane on this host (%s): the network API works, "
            "ports stay DOWN, and guests keep user-mode networking",
            exc,
        )
        return None, None
    agent = build_agent(cfg, network)
    spawn(agent.start(), "network-agent-start")
    return agent, lock


async def start_volume(cfg: Config, db: Database, volume: Any, spawn: Spawn) -> None:
    from stratus.volume.agent.runner import build_agent

    await volume.start()
    agent = build_agent(cfg, db, in_process=True)
    volume.agents[agent.host] = agent
    # The agent registers itself and puts right what a crash left, in
    # the background, so the cloud is ready at once.
    spawn(agent.start(), "volume-agent-start")


async def start_loadbalancer(cfg: Config, service: Any, spawn: Spawn) -> Any:
    """Start the load-balancer service and, unless ``[loadbalancer]
    run_agent`` is false or the host has no data plane, its agent (returned)."""
    from stratus.loadbalancer.agent.runner import DataPlaneUnavailable, build_agent

    await service.start()
    if not cfg.loadbalancer.run_agent:
        log.info("load-balancer: no agent in this process (`stratus lb-agent` runs them)")
        return None
    try:
        agent = build_agent(cfg, service)
    except DataPlaneUnavailable as exc:
        log.warning(
            "load-balancer: no data plane on this host (%s): the API works, "
            "load balancers stay PENDING_CREATE",
            exc,
        )
        return None
    # It adopts the HAProxy processes that run and removes what belongs
    # to nothing, in the background, so the cloud is ready at once.
    spawn(agent.start(), "lb-agent-start")
    return agent


def start_database(cfg: Config, db: Database, database: Any, spawn: Spawn) -> None:
    from stratus.database.agent.runner import build_agent

    try:
        agent = build_agent(cfg, db)
    except PermissionError as exc:
        log.warning("database: no database agent on this host (%s): the API works, "
                    "instances stay in BUILD until an agent runs", exc)  # fmt: skip
        return
    database.agents[agent.host] = agent
    # The agent registers itself and adopts what runs, in the background.
    spawn(agent.start(), "database-agent-start")


def start_orchestration(cfg: Config, db: Database, orchestration: Any, spawn: Spawn) -> None:
    from stratus.orchestration.agent.runner import build_agent

    agent = build_agent(cfg, db)
    orchestration.agent = agent
    # It fails cleanly what a crash left half-made, then runs the tasks.
    spawn(agent.start(), "orchestration-agent-start")


async def start_compute(
    cfg: Config, db: Database, compute: ComputeService, image: ImageService | None, spawn: Spawn
) -> None:
    from stratus.compute.agent.runner import build_agent
    from stratus.compute.service.bootstrap import ensure_flavors

    await ensure_flavors(db)
    await compute.start()
    agent = build_agent(cfg, db, nics=compute.nics)
    if compute.server_volumes.client is not None:  # block storage, in-process
        agent.volumes.client = compute.server_volumes.client
    compute.agents[agent.host] = agent
    # The agent registers itself and adopts guests; the tiny image is
    # built in the background too, so the cloud is ready at once.
    spawn(_start_compute_agent(compute, agent), "compute-agent-start")
    if cfg.compute.tiny_image and image is not None:
        spawn(_tiny_image(cfg, db, image), "compute-tiny-image")


async def _start_compute_agent(compute: ComputeService, agent: Any) -> None:
    await agent.start()
    compute.wake(None)  # servers asked for before the host registered


async def _tiny_image(cfg: Config, db: Database, image: ImageService) -> None:
    from stratus.compute.service.bootstrap import ensure_tiny_image
    from stratus.identity import models as idm

    async with db.session() as s:
        owner = await s.scalar(select(idm.Project.id).where(idm.Project.name == "service"))
    await ensure_tiny_image(cfg, image, owner or "")
    trim()
