"""The object store's own commands: a storage node as a process of its
own, and the rings (``stratus ring create|add|rebalance|show``)."""

from __future__ import annotations

from pathlib import Path

import click

from stratus.cli.options import setup_logging
from stratus.common import config as config_mod


@click.command("storage-node")
@click.option(
    "--devices",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder whose subfolders are this node's devices (e.g. sda, sdb).",
)
@click.option(
    "--ring-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder of account.ring.gz, container.ring.gz and object.ring.gz.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=6200, show_default=True, help="Port to listen on.")
@click.option("--ip", default=None, help="The address the rings give this node [default: --host].")
@click.option("--workers", type=int, default=16, show_default=True, help="Disk worker threads.")
@click.option(
    "--workers-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds between passes of the replicator, auditor, updater and expirer.",
)
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder whose stratus.toml (and STRATUS_* variables) give the container-sync "
    "options of [objectstore]; without it, full URLs to 127.0.0.1 only and no realms.",
)
def storage_node(
    devices: Path,
    ring_dir: Path,
    host: str,
    port: int,
    ip: str | None,
    workers: int,
    workers_interval: float,
    config_dir: Path | None,
) -> None:
    """Run an object storage node as a process of its own (HTTP from the proxy)."""
    setup_logging("INFO")
    import uvloop

    from stratus.objectstore.agent import BackgroundWorkers
    from stratus.objectstore.app import sync_realms
    from stratus.objectstore.node.http import serve_node

    try:
        cfg = config_mod.load(config_dir) if config_dir is not None else config_mod.Config()
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc

    click.echo(f"storage node on {host}:{port}, devices in {devices}", err=True)
    uvloop.run(
        serve_node(
            devices,
            host=host,
            port=port,
            ring_dir=ring_dir,
            ip=ip,
            workers=workers,
            worker_interval=workers_interval,
            background=BackgroundWorkers,
            container_sync=sync_realms(cfg),
            container_sync_interval=cfg.objectstore.container_sync_interval,
        )
    )


@click.group()
def ring() -> None:
    """Object storage rings: which devices hold which partitions."""


ring_file = click.argument("builder", type=click.Path(dir_okay=False, path_type=Path))


@ring.command("create")
@ring_file
@click.option("--part-power", type=click.IntRange(1, 24), default=10, show_default=True)
@click.option("--replicas", type=click.IntRange(1, 16), default=3, show_default=True)
@click.option("--min-part-hours", type=click.IntRange(0), default=1, show_default=True)
def ring_create(builder: Path, part_power: int, replicas: int, min_part_hours: int) -> None:
    """Create an empty ring (e.g. DIR/object.ring.gz).  Rings in one folder
    share the hash salt of the first one made there."""
    from stratus.objectstore.ring.builder import RingBuilder, folder_salt

    if builder.exists():
        raise click.ClickException(f"{builder} exists already")
    salt = folder_salt(builder.parent)
    RingBuilder(
        part_power,
        replicas,
        min_part_hours,
        hash_prefix=salt[0] if salt else None,
        hash_suffix=salt[1] if salt else None,
    ).save(builder)
    click.echo(f"created {builder}: 2^{part_power} partitions, {replicas} replicas")


@ring.command("add")
@ring_file
@click.option("--region", type=click.IntRange(0), default=1, show_default=True)
@click.option("--zone", type=click.IntRange(0), required=True)
@click.option("--ip", required=True)
@click.option("--port", type=click.IntRange(1, 65535), required=True)
@click.option("--device", required=True)
@click.option("--weight", type=click.FloatRange(0), default=100.0, show_default=True)
def ring_add(
    builder: Path, region: int, zone: int, ip: str, port: int, device: str, weight: float
) -> None:
    """Add a device (takes effect at the next rebalance)."""
    from stratus.objectstore.ring.builder import RingBuilder

    rb = RingBuilder.load(builder)
    dev = rb.add_device(region, zone, ip, port, device, weight)
    rb.save(builder)
    click.echo(f"added device {dev.id}: r{region}z{zone}-{ip}:{port}/{device} weight {weight}")


@ring.command("rebalance")
@ring_file
def ring_rebalance(builder: Path) -> None:
    """Assign partitions to devices, moving as few as possible."""
    from stratus.objectstore.ring.builder import RingBuilder

    rb = RingBuilder.load(builder)
    result = rb.rebalance()
    rb.save(builder)
    click.echo(
        f"rebalanced {builder}: {result.moved} partition replicas moved, balance {result.balance:.2f}%"
    )


@ring.command("show")
@ring_file
def ring_show(builder: Path) -> None:
    """Devices, weights, partitions and balance."""
    from stratus.objectstore.ring.builder import RingBuilder

    click.echo(RingBuilder.load(builder).describe())
