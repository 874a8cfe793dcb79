"""The ``stratus`` command."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from stratus import __version__
from stratus.common import config as config_mod

log = logging.getLogger("stratus")

STARTED = time.monotonic()


def _setup_logging(level: str) -> None:
    from stratus.common import logs

    logs.setup(level)


def _load(data_dir: Path, overrides: dict[str, Any] | None = None) -> config_mod.Config:
    os.umask(0o077)  # the data folder holds secrets: keys, password hashes
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_mod.write_default(data_dir)
    try:
        return config_mod.load(data_dir, overrides)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Folder holding the configuration, database, keys and data.",
)


@click.group()
@click.version_option(__version__, prog_name="stratus")
def main() -> None:
    """Stratus: an open cloud that speaks the OpenStack APIs."""


@main.command()
@data_dir_option
@click.option(
    "--host", default=None, help="Address to listen on [default: 127.0.0.1, or stratus.toml]."
)
@click.option(
    "--port", type=int, default=None, help="Port to listen on [default: 8080, or stratus.toml]."
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background (log in DATA_DIR/stratus.log); `stratus stop` ends it.",
)
def up(data_dir: Path, host: str | None, port: int | None, detach: bool) -> None:
    """Start every enabled service, in the foreground (or --detach)."""
    overrides: dict[str, Any] = {"server": {}}
    if host is not None:
        overrides["server"]["host"] = host
    if port is not None:
        overrides["server"]["port"] = port
    cfg = _load(data_dir, overrides)
    if detach:
        _detach(cfg, host, port)
        return
    _setup_logging(cfg.logging.level)
    from stratus.status import AlreadyRunning, PidFile, local_url

    pid_file = PidFile(cfg.data_dir)
    try:
        pid_file.acquire(local_url(cfg))
    except AlreadyRunning as exc:
        raise click.ClickException(f"{exc}; `stratus stop --data-dir {data_dir}` ends it") from exc
    _prepare_metrics(cfg.data_dir / "run" / "metrics")

    import uvicorn

    from stratus.app import Cloud
    from stratus.identity.service.bootstrap import CLOUD_NAME, CLOUDS_FILE
    from stratus.workers import Workers, listen

    cloud = Cloud(cfg)
    clouds = (cfg.data_dir / CLOUDS_FILE).resolve()
    workers = cfg.server_workers
    sock = listen(cfg.server.host, cfg.server.port) if workers > 1 else None

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                if sock is not None:  # the primary is ready: start the others
                    cloud.workers = Workers(
                        cfg.data_dir,
                        sock,
                        workers - 1,
                        cpu_affinity=cfg.server.cpu_affinity,
                    )
                    cloud.workers.start()
                    cloud.watch_workers()
                elapsed = time.monotonic() - STARTED
                log.info("stratus %s ready at %s in %.2fs", __version__, cfg.public_url, elapsed)
                print(
                    f"Stratus is up at {cfg.public_url}. Use it with: "
                    f"export OS_CLIENT_CONFIG_FILE={clouds} OS_CLOUD={CLOUD_NAME}",
                    flush=True,
                )

    server = Server(_uvicorn_config(cfg, cloud.asgi(), host=cfg.server.host, port=cfg.server.port))
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the
    # signal to the handlers it found: make those end the process with 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    try:
        server.run(sockets=[sock] if sock is not None else None)
    except SystemExit as exc:
        if exc.code == 0 and server.started:
            log.info("stratus stopped")
        raise
    finally:
        pid_file.release()
    if not server.started:
        sys.exit(1)


DETACH_TIMEOUT = 120.0


def _detach(cfg: config_mod.Config, host: str | None, port: int | None) -> None:
    """Start `stratus up` in a session of its own, logging to
    DATA_DIR/stratus.log, and return once it answers (or failed)."""
    import subprocess

    import httpx

    from stratus.status import LOG_FILE, local_url, running_pid

    pid = running_pid(cfg.data_dir)
    if pid is not None:
        raise click.ClickException(f"a cloud already runs from {cfg.data_dir} (pid {pid})")
    command = [sys.executable, "-m", "stratus", "up", "--data-dir", str(cfg.data_dir.resolve())]
    command += ["--host", host] if host is not None else []
    command += ["--port", str(port)] if port is not None else []
    log_path = cfg.data_dir / LOG_FILE
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    url = local_url(cfg)
    deadline = time.monotonic() + DETACH_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise click.ClickException(f"stratus up exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise click.ClickException(f"stratus up (pid {process.pid}) did not answer at {url}")
    click.echo(f"Stratus is up at {cfg.public_url} (pid {process.pid}, log {log_path.resolve()}).")
    click.echo(f"Stop it with: stratus stop --data-dir {cfg.data_dir}")


@main.command("stop")
@data_dir_option
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait.")
def stop_cmd(data_dir: Path, timeout: float) -> None:
    """Stop the cloud running from the data folder (SIGTERM, then SIGKILL)."""
    from stratus.status import stop

    pid = stop(data_dir, timeout)
    if pid is None:
        raise click.ClickException(f"no cloud runs from {data_dir}")
    click.echo(f"stopped the cloud (pid {pid})")


@main.command("status")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(data_dir: Path, as_json: bool) -> None:
    """What runs, where and since when; the health of every agent and worker.

    Exits 0 when the cloud runs and is healthy, 1 otherwise."""
    import json

    from stratus import status

    if not (data_dir / config_mod.CONFIG_FILE).exists():
        raise click.ClickException(f"{data_dir} holds no cloud (no {config_mod.CONFIG_FILE})")
    cfg = _load(data_dir)
    logging.getLogger().setLevel(logging.ERROR)
    st = asyncio.run(status.gather(cfg))
    click.echo(json.dumps(status.as_json(st), indent=2) if as_json else status.render(st))
    sys.exit(0 if st.healthy else 1)


def _prepare_metrics(directory: Path) -> None:
    """Before prometheus-client is imported (it picks its mode then): an
    empty folder for the metric files of the primary and its API workers
    (what a previous run left would be counted again), inherited by them."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _exit_cleanly(signum: int, _frame: Any) -> None:
    sys.exit(0)


def _uvicorn_config(cfg: config_mod.Config, app: Any, **listen: Any) -> Any:
    """How every API process serves: uvloop, httptools with header and body
    timeouts and a connection limit (common.httpserver), graceful stop."""
    import uvicorn

    from stratus.common.httpserver import guarded_protocol

    s = cfg.server
    return uvicorn.Config(
        app,
        loop="uvloop",
        http=guarded_protocol(s.header_timeout, s.body_timeout, s.max_connections),
        lifespan="on",
        access_log=False,  # the middleware writes the access log (common.logs)
        log_level=cfg.logging.level.lower(),
        log_config=None,  # keep the handlers of common.logs
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=s.keepalive_timeout,
        **listen,
    )


@main.command("api-worker", hidden=True)
@data_dir_option
@click.option("--listen", "host", required=True, help="The primary's address.")
@click.option("--port", type=int, required=True, help="The primary's port.")
@click.option("--cpu-index", type=int, default=None, help="Pin to this CPU (round robin).")
def api_worker(data_dir: Path, host: str, port: int, cpu_index: int | None) -> None:
    """An extra process serving the APIs on the primary's socket
    ([server] workers > 1); started by `stratus up`, not by hand."""
    from stratus.workers import die_with_parent, listen, pin_to_cpu, primary_pid

    die_with_parent()
    if cpu_index is not None:
        pin_to_cpu(cpu_index)
    if primary_pid() is None:
        raise click.UsageError("api-worker is started by `stratus up` ([server] workers)")
    # The primary's address, also when it came from `stratus up --port`: the
    # catalog and the services' calls to each other use it.
    cfg = _load(data_dir, {"server": {"host": host, "port": port}})
    _setup_logging(cfg.logging.level)

    import uvicorn

    from stratus.app import Cloud

    server = uvicorn.Server(_uvicorn_config(cfg, Cloud(cfg, primary=False).asgi()))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    server.run(sockets=[listen(host, port)])
    if not server.started:
        sys.exit(1)


@main.command("compute-agent")
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


@main.command("volume-agent")
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


@main.command("lb-agent")
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


@main.command("database-agent")
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
        signal.signal(sig, _exit_cleanly)
    cfg = _load(data_dir)
    _setup_logging(cfg.logging.level)
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


@main.command("network-agent")
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
        signal.signal(sig, _exit_cleanly)
    cfg = _load(data_dir)
    _setup_logging(cfg.logging.level)
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


@main.command("storage-node")
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
    _setup_logging("INFO")
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


@main.group()
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


@main.command("guest-image")
@click.option(
    "--with",
    "extras",
    multiple=True,
    type=click.Choice(["psql"]),
    help="Also carry this program (with its libraries): psql, PostgreSQL's client.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the image.",
)
def guest_image(extras: tuple[str, ...], out: Path) -> None:
    """Build the tiny guest image (or a variant) from the host's Debian
    packages and print its path; upload it with `openstack image create`."""
    from stratus.compute.guest.tiny import TinyImageError, build_tiny_image

    try:
        click.echo(build_tiny_image(out, extras=extras))
    except TinyImageError as e:
        raise click.ClickException(str(e)) from None


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path) -> None:
    """Apply schema migrations (``stratus up`` does this too)."""
    cfg = _load(data_dir)
    _setup_logging(cfg.logging.level)
    from stratus.common.db import Database

    async def run() -> None:
        database = Database(cfg.database_url)
        try:
            await database.migrate()
        finally:
            await database.close()

    asyncio.run(run())
    click.echo("database schema is current")


@main.group("token-keys")
def token_keys() -> None:
    """The keys that encrypt tokens."""


@token_keys.command("rotate")
@data_dir_option
def token_keys_rotate(data_dir: Path) -> None:
    """Promote the staged key to primary and stage a new one.

    Restart (or copy the keys to) every API process afterwards."""
    cfg = _load(data_dir)
    from stratus.identity.service.keys import KeyRepository

    repo = KeyRepository(cfg.data_dir / "fernet-keys", cfg.identity.max_active_keys)
    primary = repo.rotate()
    click.echo(f"token keys rotated; primary key is now {primary}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
