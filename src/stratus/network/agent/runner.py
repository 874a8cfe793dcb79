"""Building a network agent from the configuration: in the all-in-one (with
the network service of the same process as its source), and as
``stratus network-agent --host NAME``."""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlsplit

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.reconciler import Timing
from stratus.network.agent.agent import NetworkAgent
from stratus.network.agent.source import AgentInfo, StateSource
from stratus.network.drivers.base import DataPlane

SECRET_FILE = "metadata-secret"
LOCK_DIR = Path("/run/stratus")


class DataPlaneUnavailable(Exception):
    """This process cannot run a real data plane; the message says why."""


def claim_data_plane(cfg: Config) -> int | None:
    """Make sure no other agent on this machine drives the same namespace's
    data plane (it would remove what this one made as belonging to nothing):
    an exclusive lock held for the life of the process.  Returns the lock's
    file descriptor (None for the fake driver)."""
    if cfg.network.driver != "linux":
        return None
    if os.geteuid() != 0:
        raise DataPlaneUnavailable("the Linux data plane needs root")
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    name = cfg.network.host_namespace or "root-namespace"
    fd = os.open(LOCK_DIR / f"network-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataPlaneUnavailable(
            f"another network agent on this machine drives the data plane of {name} "
            "(set [network] host_namespace to run a second host here)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def host_name(cfg: Config) -> str:
    """The agent's host: the compute host it serves (ports are bound to it)."""
    return cfg.compute.host or socket.gethostname()


def metadata_secret(cfg: Config) -> str:
    """The metadata proxy's shared secret: configured, or made once in the
    data folder (where compute's metadata API reads it too)."""
    if cfg.network.metadata_shared_secret:
        return cfg.network.metadata_shared_secret
    path = cfg.data_dir / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def metadata_upstream(cfg: Config) -> str:
    """Compute's metadata API in the cloud's own server, when compute runs
    (``[network] metadata_upstream`` names another)."""
    if "compute" not in cfg.services.enabled:
        return ""
    host = cfg.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.server.port}/compute/metadata"


def _public(cfg: Config) -> tuple[str, str, int]:
    url = urlsplit(cfg.public_url)
    return url.scheme, url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)


def api_relay_upstream(cfg: Config) -> str:
    """The API the relay carries to guests ("host:port" of the public URL);
    empty when ``[network] guest_api_relay`` is off."""
    if not cfg.network.guest_api_relay or cfg.network.driver != "linux":
        return ""
    _, host, port = _public(cfg)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def guest_api_url(cfg: Config) -> str:
    """The cloud's URL as guests behind a router to the external network
    reach it: the relay on the host's external address; empty without one."""
    net = cfg.network
    if "network" not in cfg.services.enabled or not api_relay_upstream(cfg):
        return ""
    if net.external_bridge_address == "gateway":
        address = net.external_gateway or str(next(ip_network(net.external_cidr).hosts()))
    elif net.external_bridge_address:
        address = net.external_bridge_address.split("/")[0]
    else:
        return ""
    scheme, _, port = _public(cfg)
    path = urlsplit(cfg.public_url).path.rstrip("/")
    return f"{scheme}://{address}:{port}{path}"


def state_dir(cfg: Config, host: str) -> Path:
    return cfg.data_path(cfg.network.state_dir) / host


def make_driver(cfg: Config, host: str) -> DataPlane:
    if cfg.network.driver == "fake":
        from stratus.network.drivers.fake import FakeDataPlane

        return FakeDataPlane()
    from stratus.network.drivers.linux import LinuxDataPlane, LinuxSettings

    net = cfg.network
    return LinuxDataPlane(
        LinuxSettings(
            host=host,
            state_dir=state_dir(cfg, host),
            host_namespace=net.host_namespace,
            tunnel_address=net.tunnel_address,
            underlay_bridge=net.underlay_bridge,
            external_address=net.external_bridge_address,
            dns_domain=net.dns_domain,
            metadata_upstream=net.metadata_upstream or metadata_upstream(cfg),
            metadata_secret=metadata_secret(cfg),
            api_relay=api_relay_upstream(cfg),
            api_relay_port=_public(cfg)[2],
        )
    )


def build_agent(
    cfg: Config,
    source: StateSource,
    host: str | None = None,
    driver: DataPlane | None = None,
) -> NetworkAgent:
    host = host or host_name(cfg)
    net = cfg.network
    tunnel_ip = net.tunnel_address.split("/")[0] or None
    info = AgentInfo(
        host=host,
        tunnel_ip=tunnel_ip,
        configurations={
            "driver": net.driver,
            "host_namespace": net.host_namespace,
            "tunnel_types": ["vxlan"] if tunnel_ip else [],
        },
    )
    timing = Timing(poll_interval=2.0, sync_interval=net.sync_interval, heartbeat_interval=10.0)
    return NetworkAgent(info, source, driver or make_driver(cfg, host), timing)


def service_source(cfg: Config, db: Database) -> StateSource:
    """The network service's facade over the shared database: what
    ``stratus network-agent`` reads (it is not woken in-process: it polls)."""
    from stratus.network.service import NetworkService  # the control plane
    from stratus.network.service.nova import http_compute

    service = NetworkService(cfg, db)
    if "compute" in cfg.services.enabled:  # ports going ACTIVE: network-vif-plugged
        service.core.nova.target = http_compute(cfg)
    source: StateSource = service
    return source
