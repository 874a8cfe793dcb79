"""The instance's port, volume and backups, asked of the cloud's own network,
volume and object-store services over their APIs as the service user: the
network here, the volume in ``cinder.py``, backups in ``swift.py``."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from stratus.common.service_auth import ServiceSession, service_client
from stratus.database.drivers.base import DriverError, PortInfo
from stratus.database.drivers.process import run

log = logging.getLogger(__name__)


def checked(resp: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
    if resp.status_code not in ok:
        raise DriverError(f"{what}: {resp.status_code} {_reason(resp)}")
    return resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else None


def _reason(resp: httpx.Response) -> str:
    """The message of an OpenStack error body (Neutron's ``NeutronError``,
    the others' ``{"<fault>": {"message": ...}}``), else the text's start."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict) and len(body) == 1:
        inner = next(iter(body.values()))
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            kind = inner.get("type")
            return f"{kind}: {inner['message']}" if kind else str(inner["message"])
    return resp.text[:200]


class NeutronNetwork:
    def __init__(self, url: str, session: ServiceSession, external: str, host_namespace: str):
        self.url = f"{url.rstrip('/')}/v2.0"
        self.client = service_client(session, timeout=30.0)
        self.external = external
        self.host_namespace = host_namespace

    @staticmethod
    def _info(port: dict[str, Any]) -> PortInfo:
        ips = port.get("fixed_ips") or []
        return PortInfo(port["id"], port["network_id"], ips[0]["ip_address"] if ips else "",
                        port.get("status", ""))  # fmt: skip

    async def _group(
        self, instance_id: str, project_id: str, tcp_port: int, cidrs: tuple[str, ...]
    ) -> str:
        """The instance's security group: its server's port from ``cidrs``."""
        name = f"trove-{instance_id}"
        found = checked(await self.client.get(f"{self.url}/security-groups",
                                             params={"name": name, "project_id": project_id}),
                       "listing security groups")["security_groups"]  # fmt: skip
        if found:
            return str(found[0]["id"])
        body = {"security_group": {"name": name, "project_id": project_id,
                                   "description": f"database instance {instance_id}"}}  # fmt: skip
        group = checked(await self.client.post(f"{self.url}/security-groups", json=body),
                       "making the security group")["security_group"]  # fmt: skip
        for cidr in cidrs or ("0.0.0.0/0", "::/0"):
            rule = {"security_group_rule": {
                "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
                "port_range_min": tcp_port, "port_range_max": tcp_port, "remote_ip_prefix": cidr,
                "ethertype": "IPv6" if ":" in cidr else "IPv4", "project_id": project_id,
            }}  # fmt: skip
            checked(await self.client.post(f"{self.url}/security-group-rules", json=rule),
                   "adding a security group rule")  # fmt: skip
        return str(group["id"])

    async def ensure_port(
        self,
        instance_id: str,
        project_id: str,
        network_id: str,
        host: str,
        netns: str,
        tcp_port: int,
        cidrs: tuple[str, ...],
    ) -> PortInfo:
        found = checked(await self.client.get(f"{self.url}/ports", params={"device_id": instance_id}),
                       "listing ports")["ports"]  # fmt: skip
        if found:
            return self._info(found[0])
        group = await self._group(instance_id, project_id, tcp_port, cidrs)
        body = {"port": {
            "network_id": network_id, "project_id": project_id, "device_id": instance_id,
            "device_owner": "trove:instance", "name": f"trove-{instance_id}",
            "binding:host_id": host, "binding:profile": {"netns": netns},
            "security_groups": [group],
        }}  # fmt: skip
        resp = await self.client.post(f"{self.url}/ports", json=body)
        return self._info(checked(resp, "creating the instance's port")["port"])

    async def port_ready(self, port: PortInfo, netns: str) -> bool:
        inside = f"ns-{port.id[:11]}"
        out = await run(["ip", "-n", netns, "-o", "addr", "show", "dev", inside], check=False)
        return f" {port.address}/" in out

    async def ensure_floating_ip(
        self, instance_id: str, project_id: str, port: PortInfo
    ) -> tuple[str, str]:
        found = checked(await self.client.get(f"{self.url}/floatingips", params={"port_id": port.id}),
                       "listing floating IPs")["floatingips"]  # fmt: skip
        if found:
            return found[0]["id"], found[0]["floating_ip_address"]
        nets = checked(await self.client.get(f"{self.url}/networks",
                                            params={"name": self.external, "router:external": "true"}),
                      "finding the external network")["networks"]  # fmt: skip
        if not nets:
            raise DriverError(f"no external network named {self.external}")
        body = {"floatingip": {"floating_network_id": nets[0]["id"], "port_id": port.id,
                               "project_id": project_id}}  # fmt: skip
        fip = checked(await self.client.post(f"{self.url}/floatingips", json=body),
                     "making the floating IP")["floatingip"]  # fmt: skip
        return fip["id"], fip["floating_ip_address"]

    async def release(self, instance_id: str, port_id: str | None) -> None:
        ports = checked(await self.client.get(f"{self.url}/ports", params={"device_id": instance_id}),
                       "listing ports")["ports"]  # fmt: skip
        ids = {p["id"] for p in ports} | ({port_id} if port_id else set())
        for pid in ids:
            fips = checked(await self.client.get(f"{self.url}/floatingips", params={"port_id": pid}),
                          "listing floating IPs")["floatingips"]  # fmt: skip
            for fip in fips:
                checked(await self.client.delete(f"{self.url}/floatingips/{fip['id']}"),
                       "deleting a floating IP", (204, 404))  # fmt: skip
            checked(await self.client.delete(f"{self.url}/ports/{pid}"), "deleting the port",
                   (204, 404))  # fmt: skip
        groups = checked(await self.client.get(f"{self.url}/security-groups",
                                              params={"name": f"trove-{instance_id}"}),
                        "listing security groups")["security_groups"]  # fmt: skip
        for group in groups:
            checked(await self.client.delete(f"{self.url}/security-groups/{group['id']}"),
                   "deleting the security group", (204, 404))  # fmt: skip

    async def close(self) -> None:
        await self.client.aclose()
