"""Running the all-in-one: ``stratus up`` (in the foreground or detached),
its API worker processes, ``stratus stop`` and ``stratus status``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stratus import __version__
from stratus.cli.options import data_dir_option, exit_cleanly, load_config, setup_logging
from stratus.common import config as config_mod

if TYPE_CHECKING:
    import socket

    import uvicorn

    from stratus.app import Cloud
    from stratus.status import PidFile

log = logging.getLogger("stratus")

STARTED = time.monotonic()
DETACH_TIMEOUT = 120.0


@click.command()
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
    cfg = load_config(data_dir, overrides)
    if detach:
        _detach(cfg, host, port)
        return
    setup_logging(cfg.logging.level)
    pid_file = _claim_pid_file(cfg, data_dir)
    _prepare_metrics(cfg.data_dir / "run" / "metrics")

    from stratus.app import Cloud
    from stratus.workers import listen

    cloud = Cloud(cfg)
    sock = listen(cfg.server.host, cfg.server.port) if cfg.server_workers > 1 else None
    _serve(_announcing_server(cfg, cloud, sock), sock, pid_file)


def _claim_pid_file(cfg: config_mod.Config, data_dir: Path) -> PidFile:
    """The data folder's pid file, or a usage error when a cloud runs from it."""
    from stratus.status import AlreadyRunning, PidFile, local_url

    pid_file = PidFile(cfg.data_dir)
    try:
        pid_file.acquire(local_url(cfg))
    except AlreadyRunning as exc:
        raise click.ClickException(f"{exc}; `stratus stop --data-dir {data_dir}` ends it") from exc
    return pid_file


def _announcing_server(
    cfg: config_mod.Config, cloud: Cloud, sock: socket.socket | None
) -> uvicorn.Server:
    """The primary's server: once it listens, it starts the API workers (on
    the shared socket, if any) and says where the cloud is and how to use it."""
    import uvicorn

    from stratus.identity.service.bootstrap import CLOUD_NAME, CLOUDS_FILE
    from stratus.workers import Workers

    clouds = (cfg.data_dir / CLOUDS_FILE).resolve()

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.started:
                return
            if sock is not None:  # the primary is ready: start the others
                cloud.workers = Workers(
                    cfg.data_dir,
                    sock,
                    cfg.server_workers - 1,
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

    listen = {"host": cfg.server.host, "port": cfg.server.port}
    return Server(uvicorn_config(cfg, cloud.asgi(), **listen))


def _serve(server: uvicorn.Server, sock: socket.socket | None, pid_file: PidFile) -> None:
    """Serve until SIGINT or SIGTERM (exit 0), then give the pid file back;
    exit 1 when the server never started."""
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the
    # signal to the handlers it found: make those end the process with 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_cleanly)
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


@click.command("stop")
@data_dir_option
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait.")
def stop_cmd(data_dir: Path, timeout: float) -> None:
    """Stop the cloud running from the data folder (SIGTERM, then SIGKILL)."""
    from stratus.status import stop

    pid = stop(data_dir, timeout)
    if pid is None:
        raise click.ClickException(f"no cloud runs from {data_dir}")
    click.echo(f"stopped the cloud (pid {pid})")


@click.command("status")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(data_dir: Path, as_json: bool) -> None:
    """What runs, where and since when; the health of every agent and worker.

    Exits 0 when the cloud runs and is healthy, 1 otherwise."""
    import json

    from stratus import status

    if not (data_dir / config_mod.CONFIG_FILE).exists():
        raise click.ClickException(f"{data_dir} holds no cloud (no {config_mod.CONFIG_FILE})")
    cfg = load_config(data_dir)
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


def uvicorn_config(cfg: config_mod.Config, app: Any, **listen: Any) -> uvicorn.Config:
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


@click.command("api-worker", hidden=True)
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
    cfg = load_config(data_dir, {"server": {"host": host, "port": port}})
    setup_logging(cfg.logging.level)

    import uvicorn

    from stratus.app import Cloud

    server = uvicorn.Server(uvicorn_config(cfg, Cloud(cfg, primary=False).asgi()))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_cleanly)
    server.run(sockets=[listen(host, port)])
    if not server.started:
        sys.exit(1)
