"""``NetworkClient`` over Neutron's API, for a compute tier that does not run
the network service in its process (``[compute] network_client = "http"``):
the network endpoint of the catalog, called as the service user with the
shared ``ServiceTokenAuth`` (a new token and one retry on a 401).  It
answers as ``LocalNetwork`` does, from what the API shows; the network
service's refusals come back as compute's, in Nova's words."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote

import httpx

from stratus.compute.errors import BadRequest, Conflict, Forbidden, NotFound
from stratus.compute.service.network import (
    OWNER_PREFIX,
    FixedIP,
    NicRequest,
    VifPort,
    port_request,
)

LIST_CHUNK = 50  # ids per filtered list request (the query string stays short)


def seg(value: str) -> str:
    """A user-supplied id as one URL path segment: "?", "/" and dot segments
    escaped, so it can only name a resource (or be a 404)."""
    return quote(str(value), safe="").replace(".", "%2E")


class NetworkApiError(Exception):
    """The network service answered with an unexpected status."""


class HttpNetwork:
    def __init__(self, endpoint: str, client: httpx.AsyncClient) -> None:
        self.base = endpoint.rstrip("/") + "/v2.0"
        self.client = client

    async def close(self) -> None:
        await self.client.aclose()

    # -- HTTP -------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Any = None, params: Any = None, ok: int = 200
    ) -> Any:
        resp = await self.client.request(method, self.base + path, json=body, params=params)
        if resp.status_code == ok:
            return resp.json() if resp.content else None
        message = _message(resp)
        kind = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}.get(resp.status_code)
        if kind is None:
            raise NetworkApiError(f"{method} {path}: {resp.status_code} {message}")
        raise kind(message)

    async def _list(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self._call("GET", f"/{kind}", params=filters))[
            kind.replace("-", "_")
        ]
        return found

    async def _by_ids(self, kind: str, key: str, ids: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(ids), LIST_CHUNK):
            out += await self._list(kind, **{key: ids[i : i + LIST_CHUNK]})
        return out

    async def _get(self, kind: str, id: str) -> dict[str, Any] | None:
        if not id:
            return None
        resp = await self.client.get(f"{self.base}/{kind}s/{seg(id)}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise NetworkApiError(f"GET {kind} {id}: {resp.status_code} {_message(resp)}")
        return resp.json()[kind]  # type: ignore[no-any-return]

    # -- requested NICs ----------------------------------------------------------------------

    async def nics_for(
        self, project_id: str, is_admin: bool, mode: str, requests: list[NicRequest]
    ) -> list[NicRequest]:
        if mode == "none":
            return []
        if mode in ("auto", "legacy"):
            return await self._auto(project_id, make=mode == "auto")
        out = [await self._check(project_id, is_admin, nic) for nic in requests]
        seen = [n.port_id for n in out if n.port_id]
        if len(seen) != len(set(seen)):
            raise BadRequest("Port id is specified more than once in the request.")
        return out

    async def _check(self, project_id: str, is_admin: bool, nic: NicRequest) -> NicRequest:
        if nic.port_id:
            port = await self._get("port", nic.port_id)
            if port is None or not (is_admin or port["project_id"] == project_id):
                raise BadRequest(f"Port id {nic.port_id} could not be found.")
            if port["device_id"] or port["device_owner"]:
                raise Conflict(f"Port {nic.port_id} is still in use.")
            return NicRequest(network_id=port["network_id"], port_id=port["id"], tag=nic.tag)
        if not nic.network_id:
            raise BadRequest(
                "Invalid input for field/attribute networks: uuid or port is required."
            )
        net = await self._get("network", nic.network_id)
        mine = net is not None and (is_admin or net["project_id"] == project_id)
        if net is None or not (mine or net["shared"]) or (net["router:external"] and not mine):
            raise BadRequest(f"Network {nic.network_id} could not be found.")
        if nic.fixed_ip is None:
            return NicRequest(network_id=net["id"], tag=nic.tag)
        try:
            address = ipaddress.ip_address(nic.fixed_ip)
        except ValueError:
            raise BadRequest(f"Invalid fixed IP address ({nic.fixed_ip})") from None
        taken = await self._list(
            "ports", network_id=net["id"], fixed_ips=f"ip_address={address}", fields="id"
        )
        if taken:
            raise Conflict(f"Fixed IP address {address} is already in use on network {net['id']}.")
        subnets = await self._list("subnets", network_id=net["id"], fields="cidr")
        if not any(address in ipaddress.ip_network(s["cidr"]) for s in subnets):
            raise BadRequest(
                f"Fixed IP address {address} is not on any subnet of network {net['id']}."
            )
        return NicRequest(network_id=net["id"], fixed_ip=str(address), tag=nic.tag)

    async def _auto(self, project_id: str, *, make: bool) -> list[NicRequest]:
        nets = {
            n["id"]: n
            for n in [
                *await self._list("networks", project_id=project_id),
                *await self._list("networks", shared="true"),
            ]
            if not n["router:external"]
        }
        if len(nets) > 1:
            raise Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
            )
        if nets:
            return [NicRequest(network_id=next(iter(nets)))]
        if not make:
            return []
        try:
            made = await self._call("GET", f"/auto-allocated-topology/{seg(project_id)}")
        except Conflict as exc:
            raise BadRequest(
                f"Unable to automatically allocate a network for project {project_id}: {exc}"
            ) from exc
        return [NicRequest(network_id=made["auto_allocated_topology"]["id"])]

    # -- ports ------------------------------------------------------------------------------

    async def create_port(
        self,
        project_id: str,
        server_id: str,
        zone: str,
        nic: NicRequest,
        groups: list[str],
        host: str | None = None,
    ) -> VifPort:
        attrs = port_request(project_id, server_id, zone, nic, groups, host)
        made = await self._call("POST", "/ports", {"port": attrs}, ok=201)
        return (await self._vif_ports([made["port"]]))[made["port"]["id"]]

    async def bind_port(
        self, project_id: str, port_id: str, server_id: str, zone: str, host: str | None
    ) -> VifPort:
        port = await self._get("port", port_id)
        if port is None:
            raise NotFound(f"Port id {port_id} could not be found.")
        if port["device_id"] not in ("", server_id):
            raise Conflict(f"Port {port_id} is still in use.")
        unchanged = port["device_id"] == server_id and (
            host is None or port["binding:host_id"] == host
        )
        if not unchanged:
            attrs: dict[str, Any] = {
                "device_id": server_id,
                "device_owner": port["device_owner"] or f"{OWNER_PREFIX}{zone}",
            }
            if host is not None:
                attrs["binding:host_id"] = host
            port = (await self._call("PUT", f"/ports/{seg(port_id)}", {"port": attrs}))["port"]
        return (await self._vif_ports([port]))[port["id"]]

    async def unbind_port(self, port_id: str) -> None:
        attrs = {"device_id": "", "device_owner": "", "binding:host_id": ""}
        try:
            await self._call("PUT", f"/ports/{seg(port_id)}", {"port": attrs})
        except NotFound:
            pass

    async def delete_port(self, port_id: str) -> None:
        try:
            await self._call("DELETE", f"/ports/{seg(port_id)}", ok=204)
        except NotFound:  # gone already
            pass

    async def ports(self, port_ids: list[str]) -> dict[str, VifPort]:
        if not port_ids:
            return {}
        return await self._vif_ports(await self._by_ids("ports", "id", port_ids))

    async def owned_by(self, server_id: str) -> list[VifPort]:
        found = await self._list("ports", device_id=server_id)
        vifs = await self._vif_ports(found)
        return [vifs[p["id"]] for p in found]

    async def orphans(self, host: str) -> list[tuple[str, str]]:
        fields = ["id", "device_id", "device_owner", "binding:host_id"]
        found = await self._list("ports", fields=fields)
        return [
            (p["id"], p["device_id"])
            for p in found
            if p["device_id"]
            and p["device_owner"].startswith(OWNER_PREFIX)
            and p["binding:host_id"] in (host, "")
        ]

    async def data_plane(self, host: str) -> str | None:
        for agent in await self._list("agents", host=host):
            if agent.get("alive"):
                driver = (agent.get("configurations") or {}).get("driver")
                return str(driver) if driver else None
        return None

    async def _vif_ports(self, ports: list[dict[str, Any]]) -> dict[str, VifPort]:
        if not ports:
            return {}
        ids = [p["id"] for p in ports]
        nets = {n["id"]: n for n in await self._by_ids("networks", "id", _ids(ports, "network_id"))}
        subnet_ids = sorted({f["subnet_id"] for p in ports for f in p["fixed_ips"]})
        subnets = {s["id"]: s for s in await self._by_ids("subnets", "id", subnet_ids)}
        fips = await self._by_ids("floatingips", "port_id", ids)
        group_ids = sorted({g for p in ports for g in p.get("security_groups", [])})
        groups = {
            g["id"]: g["name"] for g in await self._by_ids("security-groups", "id", group_ids)
        }
        return {p["id"]: _vif(p, nets, subnets, fips, groups) for p in ports}

    # -- security groups and floating IPs ---------------------------------------------------

    async def security_group_id(self, project_id: str, name_or_id: str) -> str:
        found = [
            g["id"]
            for g in await self._list("security-groups", project_id=project_id)
            if name_or_id in (g["id"], g["name"])
        ]
        if not found:
            raise NotFound(f"Security group {name_or_id} not found for project {project_id}.")
        if len(found) > 1:
            raise Conflict(f"Multiple security groups found matching '{name_or_id}'.")
        return str(found[0])

    async def set_security_groups(
        self, project_id: str, port_id: str, add: str | None, remove: str | None
    ) -> None:
        port = await self._get("port", port_id)
        if port is None:
            raise NotFound(f"Port id {port_id} could not be found.")
        current = list(port.get("security_groups", []))
        wanted = list(current)
        if add is not None and add not in wanted:
            wanted.append(add)
        if remove is not None and remove in wanted:
            wanted.remove(remove)
        if wanted != current:
            await self._call("PUT", f"/ports/{seg(port_id)}", {"port": {"security_groups": wanted}})

    async def _floating(self, project_id: str, address: str) -> dict[str, Any]:
        found = await self._list("floatingips", floating_ip_address=address)
        if not found or found[0]["project_id"] != project_id:
            raise NotFound(f"floating IP not found for address {address}")
        return found[0]

    async def associate_floating_ip(
        self, project_id: str, address: str, port_id: str, fixed_address: str | None
    ) -> None:
        fip = await self._floating(project_id, address)
        attrs: dict[str, Any] = {"port_id": port_id}
        if fixed_address:
            attrs["fixed_ip_address"] = fixed_address
        try:
            await self._call("PUT", f"/floatingips/{seg(fip['id'])}", {"floatingip": attrs})
        except NotFound as exc:  # no router from the port's subnet to the external network
            raise BadRequest(
                f"Unable to associate floating IP {address} to fixed IP: {exc}"
            ) from exc

    async def disassociate_floating_ip(
        self, project_id: str, address: str, port_ids: list[str]
    ) -> None:
        fip = await self._floating(project_id, address)
        if fip["port_id"] is None or fip["port_id"] not in port_ids:
            raise Conflict(f"Floating IP {address} is not associated with this instance.")
        await self._call("PUT", f"/floatingips/{seg(fip['id'])}", {"floatingip": {"port_id": None}})


def _ids(items: list[dict[str, Any]], key: str) -> list[str]:
    return sorted({str(i[key]) for i in items if i.get(key)})


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    error = body.get("NeutronError") if isinstance(body, dict) else None
    return str(error.get("message")) if isinstance(error, dict) else resp.text[:200]


def _vif(
    p: dict[str, Any],
    nets: dict[str, dict[str, Any]],
    subnets: dict[str, dict[str, Any]],
    fips: list[dict[str, Any]],
    groups: dict[str, str],
) -> VifPort:
    net = nets.get(p["network_id"], {})
    mine = [
        (f["ip_address"], subnets[f["subnet_id"]])
        for f in p["fixed_ips"]
        if f["subnet_id"] in subnets
    ]
    return VifPort(
        id=p["id"],
        network_id=p["network_id"],
        network_name=net.get("name", ""),
        mac_address=p["mac_address"],
        status=p["status"],
        device_id=p["device_id"],
        device_owner=p["device_owner"],
        host=p.get("binding:host_id", ""),
        mtu=int(net.get("mtu") or 1500),
        fixed_ips=tuple(FixedIP(ip, sub["id"], sub["ip_version"]) for ip, sub in mine),
        floating_ips=tuple(
            sorted(f["floating_ip_address"] for f in fips if f["port_id"] == p["id"])
        ),
        security_groups=tuple(
            sorted({groups[g] for g in p.get("security_groups", []) if g in groups})
        ),
        subnets={
            sub["id"]: {
                "cidr": sub["cidr"],
                "gateway_ip": sub["gateway_ip"],
                "ip_version": sub["ip_version"],
                "dns_nameservers": list(sub.get("dns_nameservers") or []),
            }
            for _ip, sub in mine
        },
    )
