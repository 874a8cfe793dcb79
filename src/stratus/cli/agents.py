"""The agents, each a process of its own on its host: compute, volume,
load balancer, database and network."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import click

from stratus.cli.options import data_dir_option, exit_cleanly, load_config, setup_logging


@click.command("compute-agent")
@data_dir_option
@click.option(
    "--host", "host", default=None, help="This compute host's name [default: the machine's name]."
)
def compute_agent(data_dir: Path, host: str | None) -> None:
    """Run a compute agent for one host, as a process of its own.

    It shares the cloud's database (``[database] url``) and reaches identity
    and images over HTTP as the configured service user ([auth] service_*)."""
    from stratus.compute.agent.runner import build_agent

    _serve_agent(data_dir, host, build_agent, "compute")


@click.command("volume-agent")
@data_dir_option
@click.option(
    "--host", "host", default=None, help="This volume host's name [default: the machine's name]."
)
def volume_agent(data_dir: Path, host: str | None) -> None:
    """Run a volume agent for one host, as a process of its own.

    It shares the cloud's database (``[database] url``), keeps its volumes in
    its own folder of the data folder, and reaches images and the object store
    over HTTP as the configured service user ([auth] service_*)."""
    from stratus.volume.agent.runner import build_agent

    _serve_agent(data_dir, host, build_agent, "volume")


@click.command("lb-agent")
@data_dir_option
@click.option(
    "--host", "host", default=None, help="This lb host's name [default: the network host's name]."
)
def lb_agent(data_dir: Path, host: str | None) -> None:
    """Run the load balancers' agent of one host, as a process of its own.

    It shares the cloud's database (``[database] url``), runs one HAProxy per
    load balancer of its host in a namespace holding the VIP port
    (``[loadbalancer]``), and needs root.  The HAProxy processes keep
    serving while it is stopped.  An all-in-one (``stratus up``) of the same
    cloud runs none of its own with ``[loadbalancer] run_agent = false``."""
    from stratus.loadbalancer.agent.runner import build_process_agent

    _serve_agent(data_dir, host, build_process_agent, "lb")


@click.command("database-agent")
@data_dir_option
@click.option(
    "--host", "host", default=None, help="This database host's name [default: the machine's name]."
)
def database_agent(data_dir: Path, host: str | None) -> None:
    """Run the database agent of one host, as a process of its own.

    It shares the cloud's database (``[database] url``), runs the host's
    PostgreSQL and MariaDB servers (``[dbaas]``) and needs root; it reaches
    the network, volume and object-store services over HTTP as the
    configured service user ([auth] service_*).  Set ``[dbaas] run_agent =
    false`` where an all-in-one runs on the same host.  The servers keep
    serving while it is stopped."""
    from stratus.database.agent.runner import build_agent

    _serve_agent(data_dir, host, build_agent, "database")


def _serve_agent(data_dir: Path, host: str | None, build: Any, kind: str) -> None:
    """Run one agent (``build(cfg, database, host)``) until SIGINT or SIGTERM.
    A stop asked for while starting ends the process cleanly too (guests and
    volumes outlive their agent either way)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_cleanly)
    cfg = load_config(data_dir)
    setup_logging(cfg.logging.level)
    from stratus.common.db import Database

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        database = Database(cfg.database_url)
        agent = build(cfg, database, host)
        await agent.start()
        click.echo(f"{kind} agent for host {agent.host} running", err=True)
        await stop.wait()
        await agent.stop()
        await database.close()

    asyncio.run(run())


@click.command("network-agent")
@data_dir_option
@click.option(
    "--host", "host", default=None, help="This host's name [default: the compute host's name]."
)
def network_agent(data_dir: Path, host: str | None) -> None:
    """Run the network agent of one host, as a process of its own.

    It shares the cloud's database (``[database] url``), makes the host's
    bridges, taps, rules, DHCP servers and routers what the network service
    says (``[network]``), and needs root.  What it made keeps working while
    it is stopped."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_cleanly)
    cfg = load_config(data_dir)
    setup_logging(cfg.logging.level)
    from stratus.common.db import Database
    from stratus.network.agent.runner import (
        DataPlaneUnavailable,
        build_agent,
        claim_data_plane,
        service_source,
    )

    try:
        claim_data_plane(cfg)
    except DataPlaneUnavailable as exc:
        raise click.ClickException(str(exc)) from None

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        database = Database(cfg.database_url)
        agent = build_agent(cfg, service_source(cfg, database), host)
        await agent.start()
        click.echo(f"network agent for host {agent.host} running", err=True)
        await stop.wait()
        await agent.stop()
        await database.close()

    asyncio.run(run())
