"""OS::Neutron:: types through the network service's API (/v2.0)."""

from __future__ import annotations

from typing import Any, ClassVar

from stratus.orchestration.drivers.base import (
    UUID,
    Api,
    ApiError,
    Context,
    Outcome,
    Prop,
    ResourceType,
    delete_quietly,
    strip_none,
)
from stratus.orchestration.errors import ResourceFailure

V2 = "/v2.0"


async def find(api: Api, collection: str, ref: str) -> str:
    """A network, subnet, router, port or security group by id or name."""
    if UUID.match(ref):
        return ref
    found = (await api.call("network", "GET", f"{V2}/{collection}", params={"name": ref}))[
        collection
    ]
    if len(found) != 1:
        what = collection[:-1].replace("-", " ")
        raise ResourceFailure(
            f"Unable to find {what} with name or id '{ref}'"
            if not found
            else f"Multiple {what} matches found for name '{ref}', use an ID to be more specific."
        )
    return str(found[0]["id"])


class Rest(ResourceType):
    """A Neutron object: POST a body made of the properties, PUT the
    changed ones, DELETE; attributes are the object's fields."""

    collection: ClassVar[str] = ""
    key: ClassVar[str] = ""
    refs: ClassVar[dict[str, tuple[str, str]]] = {}  # property -> (collection, field)

    async def check(self, api: Api, current: Outcome) -> None:
        if current.physical_id:
            await api.call("network", "GET", f"{V2}/{self.collection}/{current.physical_id}")

    async def body(self, api: Api, props: dict[str, Any], only: set[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in props.items():
            if only is not None and k not in only:
                continue
            if k == "value_specs":
                out.update(v or {})
            elif k in self.refs and v is not None:
                coll, field = self.refs[k]
                out[field] = await find(api, coll, str(v))
            else:
                out[k] = v
        return strip_none(out)

    def _outcome(self, obj: dict[str, Any]) -> Outcome:
        return Outcome(str(obj["id"]), {**obj, "show": obj})

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = await self.body(api, props)
        if "name" in self.properties and not body.get("name"):
            body["name"] = f"{ctx.stack_name}-{ctx.name}"
        obj = (await api.call("network", "POST", f"{V2}/{self.collection}",
                              json={self.key: body}))[self.key]  # fmt: skip
        return self._outcome(obj)

    async def locate(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome | None:
        if "name" not in self.properties or props.get("name"):
            return None  # only a name the engine gave is known to be the stack's
        name = f"{ctx.stack_name}-{ctx.name}"
        found = (await api.call("network", "GET", f"{V2}/{self.collection}",
                                params={"name": name}))[self.collection]  # fmt: skip
        return self._outcome(found[0]) if len(found) == 1 else None

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        changed = {k for k in new if new.get(k) != old.get(k)}
        body = await self.body(api, new, changed)
        path = f"{V2}/{self.collection}/{current.physical_id}"
        if body:
            obj = (await api.call("network", "PUT", path, json={self.key: body}))[self.key]
        else:
            obj = (await api.call("network", "GET", path))[self.key]
        return self._outcome(obj)

    async def delete(self, api: Api, current: Outcome) -> None:
        if current.physical_id:
            await delete_quietly(api, "network", f"{V2}/{self.collection}/{current.physical_id}")


class Net(Rest):
    name = "OS::Neutron::Net"
    collection, key = "networks", "network"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(update_allowed=True),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
        "shared": Prop("boolean", update_allowed=True),
        "port_security_enabled": Prop("boolean", update_allowed=True),
        "value_specs": Prop("map", default={}, update_allowed=True),
        "tenant_id": Prop(),
        "dns_domain": Prop(update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {
        "name": "", "status": "", "subnets": "", "admin_state_up": "", "mtu": "",
        "tenant_id": "", "show": "",
    }  # fmt: skip


class Subnet(Rest):
    name = "OS::Neutron::Subnet"
    collection, key = "subnets", "subnet"
    refs: ClassVar[dict[str, tuple[str, str]]] = {"network": ("networks", "network_id")}
    properties: ClassVar[dict[str, Prop]] = {
        "network": Prop(required=True),
        "cidr": Prop(),
        "ip_version": Prop("integer", default=4, allowed=(4, 6)),
        "name": Prop(update_allowed=True),
        "enable_dhcp": Prop("boolean", default=True, update_allowed=True),
        "gateway_ip": Prop(update_allowed=True),
        "allocation_pools": Prop("list", update_allowed=True),
        "dns_nameservers": Prop("list", default=[], update_allowed=True),
        "host_routes": Prop("list", update_allowed=True),
        "value_specs": Prop("map", default={}, update_allowed=True),
        "tenant_id": Prop(),
    }
    attributes: ClassVar[dict[str, str]] = {
        "name": "", "network_id": "", "cidr": "", "gateway_ip": "", "allocation_pools": "",
        "ip_version": "", "enable_dhcp": "", "dns_nameservers": "", "host_routes": "", "show": "",
    }  # fmt: skip


class Router(Rest):
    name = "OS::Neutron::Router"
    collection, key = "routers", "router"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(update_allowed=True),
        "external_gateway_info": Prop("map", update_allowed=True),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
        "value_specs": Prop("map", default={}, update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {
        "name": "", "status": "", "external_gateway_info": "", "admin_state_up": "", "show": "",
    }  # fmt: skip

    async def body(self, api: Api, props: dict[str, Any], only: set[str] | None = None) -> dict[str, Any]:
        out = await super().body(api, props, only)
        gw = out.get("external_gateway_info")
        if gw:
            info: dict[str, Any] = {"network_id": await find(api, "networks", str(gw["network"]))}
            if "enable_snat" in gw:
                info["enable_snat"] = gw["enable_snat"]
            out["external_gateway_info"] = info
        return out


class RouterInterface(ResourceType):
    name = "OS::Neutron::RouterInterface"
    properties: ClassVar[dict[str, Prop]] = {
        "router": Prop(required=True), "subnet": Prop(), "port": Prop(),
    }  # fmt: skip

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        if bool(props.get("subnet")) == bool(props.get("port")):
            raise ResourceFailure("One of subnet or port is required, not both.")
        router = await find(api, "routers", str(props["router"]))
        if props.get("subnet"):
            key, ref = "subnet_id", await find(api, "subnets", str(props["subnet"]))
        else:
            key, ref = "port_id", await find(api, "ports", str(props["port"]))
        await api.call("network", "PUT", f"{V2}/routers/{router}/add_router_interface",
                       json={key: ref})  # fmt: skip
        done = Outcome(f"{router}:{key}={ref}", {}, {"router": router, "key": key, "ref": ref})
        await ctx.made(done)
        return done

    async def delete(self, api: Api, current: Outcome) -> None:
        d = current.data
        if not d:
            return
        try:
            await api.call("network", "PUT", f"{V2}/routers/{d['router']}/remove_router_interface",
                           json={d["key"]: d["ref"]})  # fmt: skip
        except ApiError as exc:
            if exc.status != 404:
                raise


class Port(Rest):
    name = "OS::Neutron::Port"
    collection, key = "ports", "port"
    refs: ClassVar[dict[str, tuple[str, str]]] = {"network": ("networks", "network_id")}
    properties: ClassVar[dict[str, Prop]] = {
        "network": Prop(required=True),
        "name": Prop(update_allowed=True),
        "fixed_ips": Prop("list", update_allowed=True),
        "security_groups": Prop("list", update_allowed=True),
        "mac_address": Prop(),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
        "device_id": Prop(update_allowed=True),
        "device_owner": Prop(update_allowed=True),
        "port_security_enabled": Prop("boolean", update_allowed=True),
        "allowed_address_pairs": Prop("list", update_allowed=True),
        "value_specs": Prop("map", default={}, update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {
        "name": "", "network_id": "", "fixed_ips": "", "mac_address": "", "status": "",
        "device_id": "", "security_groups": "", "show": "",
    }  # fmt: skip

    async def body(self, api: Api, props: dict[str, Any], only: set[str] | None = None) -> dict[str, Any]:
        out = await super().body(api, props, only)
        if out.get("fixed_ips") is not None:
            ips = []
            for ip in out["fixed_ips"]:
                entry = {k: v for k, v in ip.items() if k in ("ip_address", "subnet_id")}
                if ip.get("subnet"):
                    entry["subnet_id"] = await find(api, "subnets", str(ip["subnet"]))
                ips.append(entry)
            out["fixed_ips"] = ips
        if out.get("security_groups") is not None:
            out["security_groups"] = [await find(api, "security-groups", str(g))
                                      for g in out["security_groups"]]  # fmt: skip
        return out


class FloatingIP(Rest):
    name = "OS::Neutron::FloatingIP"
    collection, key = "floatingips", "floatingip"
    refs: ClassVar[dict[str, tuple[str, str]]] = {
        "floating_network": ("networks", "floating_network_id"),
        "port_id": ("ports", "port_id"),
    }
    properties: ClassVar[dict[str, Prop]] = {
        "floating_network": Prop(required=True),
        "port_id": Prop(update_allowed=True),
        "fixed_ip_address": Prop(update_allowed=True),
        "floating_ip_address": Prop(),
        "value_specs": Prop("map", default={}),
    }
    attributes: ClassVar[dict[str, str]] = {
        "floating_ip_address": "", "floating_network_id": "", "port_id": "",
        "fixed_ip_address": "", "router_id": "", "show": "",
    }  # fmt: skip


class SecurityGroup(Rest):
    name = "OS::Neutron::SecurityGroup"
    collection, key = "security-groups", "security_group"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(update_allowed=True),
        "description": Prop(update_allowed=True),
        "rules": Prop("list", default=[]),
    }
    attributes: ClassVar[dict[str, str]] = {"name": "", "description": "", "rules": "", "show": ""}

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        rules = props.get("rules") or []
        out = await super().create(api, {**props, "rules": None}, ctx)
        for rule in rules:
            await add_rule(api, str(out.physical_id), rule)
        obj = (await api.call("network", "GET", f"{V2}/security-groups/{out.physical_id}"))
        return self._outcome(obj["security_group"])


RULE_KEYS = ("direction", "ethertype", "port_range_min", "port_range_max", "protocol",
             "remote_ip_prefix", "remote_group_id", "description")  # fmt: skip


async def add_rule(api: Api, group: str, rule: dict[str, Any]) -> dict[str, Any]:
    body = {k: rule[k] for k in RULE_KEYS if rule.get(k) is not None}
    body.setdefault("direction", "ingress")
    body.setdefault("ethertype", "IPv4")
    if rule.get("remote_mode") == "remote_group_id" and not body.get("remote_group_id"):
        body["remote_group_id"] = group
    body["security_group_id"] = group
    return (await api.call("network", "POST", f"{V2}/security-group-rules",  # type: ignore[no-any-return]
                           json={"security_group_rule": body}))["security_group_rule"]  # fmt: skip


class SecurityGroupRule(Rest):
    name = "OS::Neutron::SecurityGroupRule"
    collection, key = "security-group-rules", "security_group_rule"
    properties: ClassVar[dict[str, Prop]] = {
        "security_group": Prop(required=True),
        "direction": Prop(default="ingress", allowed=("ingress", "egress")),
        "ethertype": Prop(default="IPv4", allowed=("IPv4", "IPv6")),
        "port_range_min": Prop("integer"),
        "port_range_max": Prop("integer"),
        "protocol": Prop(),
        "remote_ip_prefix": Prop(),
        "remote_group": Prop(),
        "description": Prop(),
    }

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        group = await find(api, "security-groups", str(props["security_group"]))
        rule = dict(props)
        if props.get("remote_group"):
            rule["remote_group_id"] = await find(api, "security-groups", str(props["remote_group"]))
        return self._outcome(await add_rule(api, group, rule))


class FloatingIPAssociation(ResourceType):
    name = "OS::Neutron::FloatingIPAssociation"
    description = "A floating IP associated with a port (and one of its fixed addresses)."
    properties: ClassVar[dict[str, Prop]] = {
        "floatingip_id": Prop(required=True, update_allowed=True),
        "port_id": Prop(required=True, update_allowed=True),
        "fixed_ip_address": Prop(update_allowed=True),
    }

    @staticmethod
    async def _associate(api: Api, fip: str, port: str | None, fixed: Any = None) -> None:
        body = {"port_id": port, **({"fixed_ip_address": fixed} if fixed else {})}
        await api.call("network", "PUT", f"{V2}/floatingips/{fip}", json={"floatingip": body})

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        fip = str(props["floatingip_id"])
        port = await find(api, "ports", str(props["port_id"]))
        await self._associate(api, fip, port, props.get("fixed_ip_address"))
        return Outcome(f"{fip}:{port}", {}, {"floatingip": fip, "port": port})

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        fip = str(new["floatingip_id"])
        if current.data.get("floatingip") and current.data["floatingip"] != fip:
            await self.delete(api, current)
        port = await find(api, "ports", str(new["port_id"]))
        await self._associate(api, fip, port, new.get("fixed_ip_address"))
        return Outcome(f"{fip}:{port}", {}, {"floatingip": fip, "port": port})

    async def delete(self, api: Api, current: Outcome) -> None:
        fip = current.data.get("floatingip")
        if not fip:
            return
        try:
            await self._associate(api, fip, None)
        except ApiError as exc:
            if exc.status != 404:  # the floating IP itself already gone
                raise
