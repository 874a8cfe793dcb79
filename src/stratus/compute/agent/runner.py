"""Building a compute agent from the configuration: in the all-in-one, and
as `stratus compute-agent --host NAME`."""

from __future__ import annotations

import functools
import socket

from stratus.common.config import Config, ConfigError
from stratus.common.db import Database
from stratus.common.service_auth import service_session
from stratus.compute.agent.agent import ComputeAgent
from stratus.compute.agent.channel import ChannelServer
from stratus.compute.agent.channel_client import ChannelClient
from stratus.compute.agent.configdrive import build_config_drive
from stratus.compute.agent.images import ImageCache
from stratus.compute.drivers.base import Driver
from stratus.compute.service.image_records import ImageRecords
from stratus.compute.service.nics import ServerNics, make_nics
from stratus.compute.service.volume_http import HttpVolumes
from stratus.registry import SERVICES


def host_name(cfg: Config) -> str:
    return cfg.compute.host or socket.gethostname()


def make_driver(cfg: Config, host: str) -> Driver:
    root = cfg.data_path(cfg.compute.instances_dir) / host / "instances"
    if cfg.compute.driver == "fake":
        from stratus.compute.drivers.base import Capability
        from stratus.compute.drivers.fake import FakeDriver

        wanted = cfg.compute.fake_capabilities
        known = {c.value for c in Capability}
        if wanted is not None and not set(wanted) <= known:
            raise ConfigError(
                f"compute.fake_capabilities: unknown {sorted(set(wanted) - known)}; "
                f"known: {sorted(known)}"
            )
        caps = None if wanted is None else frozenset(Capability(c) for c in wanted)
        return FakeDriver(host, capabilities=caps)
    if cfg.compute.driver == "libvirt":
        from stratus.compute.drivers.libvirt import LibvirtDriver

        return LibvirtDriver(
            root,
            hostname=host,
            uri=cfg.compute.libvirt_uri,
            virt_type=cfg.compute.libvirt_virt_type,
        )
    from stratus.compute.drivers.qemu import QemuDriver

    open_tap = None
    if "network" in cfg.services.enabled and cfg.network.driver == "linux":
        # The network agent makes the taps (maybe in a namespace of the
        # host's); QEMU gets each one's open descriptor.
        from stratus.network.vif import open_tap as open_port_tap

        namespace = cfg.network.host_namespace
        open_tap = functools.partial(open_port_tap, host_namespace=namespace)
    return QemuDriver(root, hostname=host, accel=cfg.compute.accel, open_tap=open_tap)


def build_agent(
    cfg: Config, db: Database, host: str | None = None, nics: ServerNics | None = None
) -> ComputeAgent:
    host = host or host_name(cfg)
    root = cfg.data_path(cfg.compute.instances_dir) / host
    image_url = SERVICES["image"].endpoint_url(cfg.public_url)
    session = service_session(cfg)
    agent = ComputeAgent(
        db,
        host=host,
        driver=make_driver(cfg, host),
        images=ImageCache(root / "images", image_url, session),
        image_records=ImageRecords(image_url, session),
        instances=root / "instances",
        sync_interval=cfg.compute.sync_interval,
        shutdown_timeout=cfg.compute.shutdown_timeout,
        config_drive=build_config_drive,
        peers=ChannelClient(session),
        nics=nics if nics is not None else make_nics(cfg, db),
    )
    c = cfg.compute
    if agent.nics is not None:
        agent.nics.vif_timeout = c.vif_plugging_timeout
        agent.nics.vif_fatal = c.vif_plugging_is_fatal
    agent.channel = ChannelServer(agent, session, c.agent_listen, c.agent_port, c.agent_url)
    # Block storage over its API; the all-in-one hands its agent LocalVolumes instead.
    identity = cfg.auth.identity_url or SERVICES["identity"].endpoint_url(cfg.public_url)
    agent.volumes.client = HttpVolumes(identity, session)
    return agent
