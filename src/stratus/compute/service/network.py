"""What compute asks of the network service, as a typed client interface.

Compute never configures the host network: it asks the network service for
ports (made for a server, or the user's own), binds them to the host the
scheduler picked, and plugs the guest into the tap the network agent makes
for each bound port.  ``NetworkClient`` is that conversation; the
all-in-one's implementation calls the network service in-process
(``network_local.LocalNetwork``); scaled out, an implementation speaks
Neutron's API over HTTP as the service user (``common/service_auth.py``).

Errors come back as compute's own (``compute.errors``), in Nova's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

OWNER_PREFIX = "compute:"


@dataclass(frozen=True)
class FixedIP:
    ip_address: str
    subnet_id: str
    version: int


@dataclass(frozen=True)
class VifPort:
    """A port as compute sees it."""

    id: str
    network_id: str
    network_name: str
    mac_address: str
    status: str  # ACTIVE once the host's data plane holds its tap, else DOWN
    device_id: str
    device_owner: str
    host: str
    mtu: int
    fixed_ips: tuple[FixedIP, ...] = ()
    floating_ips: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()  # names
    subnets: dict[str, dict[str, object]] = field(default_factory=dict)  # id -> cidr, gateway, dns


@dataclass(frozen=True)
class NicRequest:
    """One NIC a server asks for: a port of its own on a network (maybe with
    a fixed IP), or a port the user made."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> NicRequest:
        return cls(d.get("network_id"), d.get("port_id"), d.get("fixed_ip"), d.get("tag"))


class NetworkClient(Protocol):
    async def nics_for(
        self, project_id: str, is_admin: bool, mode: str, requests: list[NicRequest]
    ) -> list[NicRequest]:
        """Check a server's requested NICs (``mode`` "auto", "none" or
        "list") before anything is made: networks usable by the project,
        ports the project's and free, fixed IPs well formed and free.
        "auto" resolves to the project's one network, made on first use
        (get-me-a-network).  Raises BadRequest/NotFound/Conflict."""

    async def create_port(
        self,
        project_id: str,
        server_id: str,
        zone: str,
        nic: NicRequest,
        groups: list[str],
        host: str | None = None,
    ) -> VifPort:
        """A new port on ``nic.network_id`` for the server (device_owner
        ``compute:<zone>``, device_id the server), bound to ``host`` at once
        when given (the host's network agent starts on its tap while compute
        records it), else unbound."""

    async def bind_port(
        self, project_id: str, port_id: str, server_id: str, zone: str, host: str | None
    ) -> VifPort:
        """Give a port to the server (device_id, device_owner) and bind it to
        ``host`` (None: leave the binding); Conflict when another device
        holds it."""

    async def unbind_port(self, port_id: str) -> None:
        """Take a user's port back from a server: no device, no host."""

    async def delete_port(self, port_id: str) -> None:
        """Delete a port Nova made (gone already: nothing to do)."""

    async def ports(self, port_ids: list[str]) -> dict[str, VifPort]:
        """The ports that still exist, by id."""

    async def owned_by(self, server_id: str) -> list[VifPort]:
        """The ports whose device is the server (made for it or given to it)."""

    async def orphans(self, host: str) -> list[tuple[str, str]]:
        """(port, server) for each port Nova made or bound (device_owner
        ``compute:*``) that is bound to ``host`` or to no host: the agent
        keeps those whose server lives."""

    async def data_plane(self, host: str) -> str | None:
        """The driver of ``host``'s live data plane ("linux" makes taps;
        "fake" is the tests'); None when no network agent runs there."""

    async def set_security_groups(
        self, project_id: str, port_id: str, add: str | None, remove: str | None
    ) -> None:
        """Add or remove one security group (by name or id) on a port."""

    async def security_group_id(self, project_id: str, name_or_id: str) -> str:
        """The project's security group of that name or id (NotFound)."""

    async def associate_floating_ip(
        self, project_id: str, address: str, port_id: str, fixed_address: str | None
    ) -> None:
        """Point the project's floating IP ``address`` at a port."""

    async def disassociate_floating_ip(
        self, project_id: str, address: str, port_ids: list[str]
    ) -> None:
        """Take the floating IP off the server's port (Conflict when it is
        not on one of ``port_ids``)."""


def port_request(
    project_id: str,
    server_id: str,
    zone: str,
    nic: NicRequest,
    groups: list[str],
    host: str | None,
) -> dict[str, Any]:
    """The Neutron port body for a server's NIC, as both clients send it."""
    attrs: dict[str, Any] = {
        "network_id": nic.network_id,
        "project_id": project_id,
        "device_id": server_id,
        "device_owner": f"{OWNER_PREFIX}{zone}",
    }
    if nic.fixed_ip:
        attrs["fixed_ips"] = [{"ip_address": nic.fixed_ip}]
    if groups:
        attrs["security_groups"] = groups
    if host:
        attrs["binding:host_id"] = host
    return attrs
