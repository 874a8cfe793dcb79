"""OS::Nova::KeyPair and OS::Nova::Server, through the compute (v2.1)
and image (v2) APIs."""

from __future__ import annotations

import base64
from typing import Any, ClassVar
from urllib.parse import quote

from stratus.orchestration.drivers.base import (
    UUID,
    Api,
    Context,
    Outcome,
    Prop,
    ResourceType,
    delete_quietly,
    strip_none,
    wait_for,
    wait_gone,
)
from stratus.orchestration.drivers.config import config_text
from stratus.orchestration.drivers.neutron import find
from stratus.orchestration.errors import ResourceFailure, StackValidationFailed


class KeyPair(ResourceType):
    name = "OS::Nova::KeyPair"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(required=True),
        "public_key": Prop(),
        "save_private_key": Prop("boolean", default=False),
        "type": Prop(allowed=("ssh", "x509")),
    }
    attributes: ClassVar[dict[str, str]] = {"public_key": "", "private_key": "", "show": ""}

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = strip_none({"name": props["name"], "public_key": props.get("public_key"),
                           "type": props.get("type")})  # fmt: skip
        kp = (await api.call("compute", "POST", "/os-keypairs", json={"keypair": body}))["keypair"]
        await ctx.made(Outcome(str(kp["name"])))
        private = kp.pop("private_key", None) if props.get("save_private_key") else None
        kp.pop("private_key", None)
        return Outcome(str(kp["name"]), {"public_key": kp.get("public_key"),
                                         "private_key": private or "", "show": kp})  # fmt: skip

    async def delete(self, api: Api, current: Outcome) -> None:
        if current.physical_id:
            await delete_quietly(api, "compute", f"/os-keypairs/{quote(current.physical_id)}")


async def _image(api: Api, ref: str) -> str:
    if UUID.match(ref):
        return ref
    found = (await api.call("image", "GET", "/v2/images", params={"name": ref}))["images"]
    if len(found) != 1:
        raise ResourceFailure(f"Image {ref} could not be found." if not found
                              else f"Multiple images named {ref}: use an id.")  # fmt: skip
    return str(found[0]["id"])


async def _flavor(api: Api, ref: str) -> str:
    flavors = (await api.call("compute", "GET", "/flavors/detail"))["flavors"]
    for f in flavors:
        if ref in (f["id"], f["name"]):
            return str(f["id"])
    raise ResourceFailure(f"Flavor {ref} could not be found.")


class Server(ResourceType):
    name = "OS::Nova::Server"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(update_allowed=True),
        "image": Prop(),
        "flavor": Prop(required=True),
        "key_name": Prop(),
        "networks": Prop("list", default=[]),
        "security_groups": Prop("list", default=[]),
        "user_data": Prop(default=""),
        "user_data_format": Prop(default="HEAT_CFNTOOLS",
                                 allowed=("HEAT_CFNTOOLS", "RAW", "SOFTWARE_CONFIG")),
        "metadata": Prop("map", update_allowed=True),
        "config_drive": Prop("boolean"),
        "availability_zone": Prop(),
        "block_device_mapping_v2": Prop("list"),
        "scheduler_hints": Prop("map"),
    }  # fmt: skip
    attributes: ClassVar[dict[str, str]] = {
        "first_address": "", "addresses": "", "networks": "", "name": "", "accessIPv4": "",
        "accessIPv6": "", "instance_name": "", "console_urls": "", "show": "",
    }  # fmt: skip

    async def _networks(self, api: Api, nets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for n in nets:
            if n.get("port"):
                out.append({"port": await find(api, "ports", str(n["port"]))})
            elif n.get("network"):
                entry = {"uuid": await find(api, "networks", str(n["network"]))}
                if n.get("fixed_ip"):
                    entry["fixed_ip"] = str(n["fixed_ip"])
                out.append(entry)
        return out

    @staticmethod
    def _outcome(srv: dict[str, Any]) -> Outcome:
        addresses = srv.get("addresses") or {}
        nets = {net: [a["addr"] for a in addrs] for net, addrs in addresses.items()}
        first = next((a["addr"] for addrs in addresses.values() for a in addrs
                      if a.get("version", 4) == 4), "")  # fmt: skip
        return Outcome(str(srv["id"]), {
            "first_address": first, "addresses": addresses, "networks": nets,
            "name": srv.get("name"), "accessIPv4": srv.get("accessIPv4") or first,
            "accessIPv6": srv.get("accessIPv6", ""),
            "instance_name": srv.get("OS-EXT-SRV-ATTR:instance_name", ""), "show": srv,
        })  # fmt: skip

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body: dict[str, Any] = strip_none({
            "name": props.get("name") or f"{ctx.stack_name}-{ctx.name}",
            "flavorRef": await _flavor(api, str(props["flavor"])),
            "imageRef": await _image(api, str(props["image"])) if props.get("image") else None,
            "key_name": props.get("key_name"), "metadata": props.get("metadata"),
            "config_drive": props.get("config_drive"),
            "availability_zone": props.get("availability_zone"),
            "block_device_mapping_v2": props.get("block_device_mapping_v2"),
        })  # fmt: skip
        nets = await self._networks(api, props.get("networks") or [])
        body["networks"] = nets or "auto"
        if props.get("security_groups"):
            body["security_groups"] = [{"name": g} for g in props["security_groups"]]
        # user_data may be a config resource's id (get_resource): its text goes
        user_data = config_text(props.get("user_data"), ctx)
        if user_data:
            body["user_data"] = base64.b64encode(user_data.encode()).decode()
        payload: dict[str, Any] = {"server": body}
        if props.get("scheduler_hints"):
            payload["os:scheduler_hints"] = props["scheduler_hints"]
        srv = (await api.call("compute", "POST", "/servers", json=payload))["server"]
        await ctx.made(Outcome(str(srv["id"])))
        srv = await wait_for(api, "compute", f"/servers/{srv['id']}", "server", ("active",),
                             ("error",), timeout=1800)  # fmt: skip
        return self._outcome(srv)

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        path = f"/servers/{current.physical_id}"
        if new.get("name") != old.get("name") and new.get("name"):
            await api.call("compute", "PUT", path, json={"server": {"name": new["name"]}})
        if new.get("metadata") != old.get("metadata"):
            await api.call("compute", "PUT", f"{path}/metadata",
                           json={"metadata": new.get("metadata") or {}})  # fmt: skip
        return self._outcome((await api.call("compute", "GET", path))["server"])

    async def check(self, api: Api, current: Outcome) -> None:
        if current.physical_id:
            srv = (await api.call("compute", "GET", f"/servers/{current.physical_id}"))["server"]
            if str(srv.get("status", "")).upper() not in ("ACTIVE", "SUSPENDED"):
                raise ResourceFailure(f"Server is {srv.get('status')}.")

    async def _act(self, api: Api, current: Outcome, action: str, to: str) -> None:
        if not current.physical_id:
            return
        path = f"/servers/{current.physical_id}"
        srv = (await api.call("compute", "GET", path))["server"]
        if str(srv.get("status", "")).lower() != to:
            await api.call("compute", "POST", f"{path}/action", json={action: None})
            await wait_for(api, "compute", path, "server", (to,), ("error",), timeout=600)

    async def suspend(self, api: Api, current: Outcome) -> None:
        await self._act(api, current, "suspend", "suspended")

    async def resume(self, api: Api, current: Outcome) -> None:
        await self._act(api, current, "resume", "active")

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.physical_id:
            return
        path = f"/servers/{current.physical_id}"
        await delete_quietly(api, "compute", path)
        await wait_gone(api, "compute", path, timeout=600)


class VolumeAttachment(ResourceType):
    name = "OS::Cinder::VolumeAttachment"
    properties: ClassVar[dict[str, Prop]] = {
        "instance_uuid": Prop(required=True),
        "volume_id": Prop(required=True),
        "mountpoint": Prop(),
    }

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        server, volume = str(props["instance_uuid"]), str(props["volume_id"])
        body = strip_none({"volumeId": volume, "device": props.get("mountpoint")})
        att = (await api.call("compute", "POST", f"/servers/{server}/os-volume_attachments",
                              json={"volumeAttachment": body}))["volumeAttachment"]  # fmt: skip
        await ctx.made(Outcome(str(att.get("id") or volume), {}, {"server": server, "volume": volume}))
        await wait_for(api, "volume", f"/volumes/{volume}", "volume", ("in-use",),
                       ("error", "error_attaching"))  # fmt: skip
        return Outcome(str(att.get("id") or volume), {}, {"server": server, "volume": volume})

    async def delete(self, api: Api, current: Outcome) -> None:
        d = current.data
        if not d:
            return
        await delete_quietly(api, "compute", f"/servers/{d['server']}/os-volume_attachments/"
                                             f"{d['volume']}")  # fmt: skip
        try:
            await wait_for(api, "volume", f"/volumes/{d['volume']}", "volume", ("available",),
                           ("error", "error_detaching"))  # fmt: skip
        except Exception as exc:
            if "404" not in str(exc) and getattr(exc, "status", None) != 404:
                raise


class ServerGroup(ResourceType):
    name = "OS::Nova::ServerGroup"
    description = "A server group: servers placed together or apart (scheduler_hints group)."
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(description="The group's name."),
        "policies": Prop("list", default=["anti-affinity"],
                         description="One of affinity, anti-affinity, soft-affinity, "
                                     "soft-anti-affinity."),
    }  # fmt: skip
    attributes: ClassVar[dict[str, str]] = {"show": "The group as the compute API shows it."}

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().validate(props, where)
        for policy in out.get("policies") or []:
            if policy not in GROUP_POLICIES:
                raise StackValidationFailed(f"Property error: {where}.properties.policies: "
                                            f"\"{policy}\" is not an allowed value "
                                            f"{list(GROUP_POLICIES)}")  # fmt: skip
        return out

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = {"name": props.get("name") or f"{ctx.stack_name}-{ctx.name}",
                "policies": list(props.get("policies") or ["anti-affinity"])}  # fmt: skip
        soft = any(p.startswith("soft-") for p in body["policies"])  # Nova's 2.15 on
        group = (await api.call("compute", "POST", "/os-server-groups", json={"server_group": body},
                                headers={"OpenStack-API-Version": "compute 2.15"} if soft
                                else None))["server_group"]  # fmt: skip
        return Outcome(str(group["id"]), {"show": group})

    async def delete(self, api: Api, current: Outcome) -> None:
        if current.physical_id:
            await delete_quietly(api, "compute", f"/os-server-groups/{current.physical_id}")


GROUP_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class Flavor(ResourceType):
    """Admin only, as Heat's: the compute API refuses anyone else (403)."""

    name = "OS::Nova::Flavor"
    description = "A flavor (admin only), with its extra specs and the projects it is shared with."
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(), "flavorid": Prop(),
        "ram": Prop("integer", required=True), "vcpus": Prop("integer", required=True),
        "disk": Prop("integer", default=0), "swap": Prop("integer", default=0),
        "ephemeral": Prop("integer", default=0), "rxtx_factor": Prop("number", default=1.0),
        "is_public": Prop("boolean", default=True),
        "extra_specs": Prop("map", update_allowed=True),
        "tenants": Prop("list", default=[], update_allowed=True),
    }  # fmt: skip
    attributes: ClassVar[dict[str, str]] = {
        "is_public": "Whether every project sees it.", "extra_specs": "Its extra specs.",
        "show": "The flavor as the compute API shows it.",
    }  # fmt: skip

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = strip_none({
            "name": props.get("name") or f"{ctx.stack_name}-{ctx.name}",
            "id": props.get("flavorid"), "ram": props["ram"], "vcpus": props["vcpus"],
            "disk": props["disk"], "swap": props["swap"] or None,
            "OS-FLV-EXT-DATA:ephemeral": props["ephemeral"],
            "rxtx_factor": props["rxtx_factor"], "os-flavor-access:is_public": props["is_public"],
        })  # fmt: skip
        flavor = (await api.call("compute", "POST", "/flavors", json={"flavor": body}))["flavor"]
        fid = str(flavor["id"])
        await ctx.made(Outcome(fid))
        return await self._settle(api, fid, {}, props, [])

    async def _settle(self, api: Api, fid: str, old_specs: dict[str, Any], props: dict[str, Any],
                      old_tenants: list[Any]) -> Outcome:  # fmt: skip
        path = f"/flavors/{quote(fid)}"
        specs = {str(k): str(v) for k, v in (props.get("extra_specs") or {}).items()}
        for key in set(old_specs) - set(specs):
            await delete_quietly(api, "compute", f"{path}/os-extra_specs/{quote(key)}")
        if specs:
            await api.call("compute", "POST", f"{path}/os-extra_specs",
                           json={"extra_specs": specs})  # fmt: skip
        new_tenants = [str(t) for t in props.get("tenants") or []]
        for t in old_tenants:
            if str(t) not in new_tenants:
                await api.call("compute", "POST", f"{path}/action",
                               json={"removeTenantAccess": {"tenant": str(t)}})  # fmt: skip
        for t in new_tenants:
            if t not in [str(o) for o in old_tenants]:
                await api.call("compute", "POST", f"{path}/action",
                               json={"addTenantAccess": {"tenant": t}})  # fmt: skip
        flavor = (await api.call("compute", "GET", path))["flavor"]
        return Outcome(fid, {"is_public": flavor.get("os-flavor-access:is_public"),
                             "extra_specs": specs, "show": flavor})  # fmt: skip

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        return await self._settle(api, str(current.physical_id), old.get("extra_specs") or {},
                                  new, old.get("tenants") or [])  # fmt: skip

    async def delete(self, api: Api, current: Outcome) -> None:
        if current.physical_id:
            await delete_quietly(api, "compute", f"/flavors/{quote(current.physical_id)}")
