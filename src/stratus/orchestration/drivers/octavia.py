"""OS::Octavia:: types through the load-balancer API (/v2/lbaas).

Octavia refuses a change under a load balancer that is not ACTIVE (409,
"immutable"): each call here is tried again while the load balancer is
busy, and each create waits until the load balancer is ACTIVE again."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from stratus.orchestration.drivers.base import (
    Api,
    ApiError,
    Context,
    Outcome,
    Prop,
    ResourceType,
    strip_none,
)
from stratus.orchestration.drivers.neutron import find
from stratus.orchestration.errors import ResourceFailure

LBAAS = "/v2/lbaas"
WAIT = 600.0


async def _busy_retry(api: Api, method: str, path: str, body: Any = None) -> Any:
    deadline = time.monotonic() + WAIT
    delay = 0.1
    while True:
        try:
            return await api.call("load-balancer", method, path, json=body,
                                  ok=(200, 201, 202, 204, 404) if method == "DELETE" else
                                  (200, 201, 202, 204))  # fmt: skip
        except ApiError as exc:
            if exc.status != 409 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)


async def wait_active(api: Api, lb_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    delay = 0.05
    while True:
        lb = (await api.call("load-balancer", "GET", f"{LBAAS}/loadbalancers/{lb_id}"))[
            "loadbalancer"
        ]
        if lb["provisioning_status"] == "ACTIVE":
            return lb  # type: ignore[no-any-return]
        if lb["provisioning_status"] == "ERROR":
            raise ResourceFailure(f"load balancer {lb_id} went to ERROR")
        if time.monotonic() > deadline:
            raise ResourceFailure(f"load balancer {lb_id} not ACTIVE in {WAIT:.0f} s")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 2.0)


class Child(ResourceType):
    """A listener, pool, member or health monitor under a load balancer."""

    collection: ClassVar[str] = ""
    key: ClassVar[str] = ""

    async def body(self, api: Api, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return strip_none(dict(props))

    def path(self, props: dict[str, Any], physical_id: str | None = None) -> str:
        base = f"{LBAAS}/{self.collection}"
        return f"{base}/{physical_id}" if physical_id else base

    async def lb_of(self, api: Api, obj: dict[str, Any], props: dict[str, Any]) -> str | None:
        lbs = obj.get("loadbalancers") or []
        return str(lbs[0]["id"]) if lbs else None

    def _outcome(self, obj: dict[str, Any], data: dict[str, Any]) -> Outcome:
        return Outcome(str(obj["id"]), {**obj, "show": obj}, data)

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = await self.body(api, props, ctx)
        obj = (await _busy_retry(api, "POST", self.path(props), {self.key: body}))[self.key]
        lb = await self.lb_of(api, obj, props)
        data = {"path": self.path(props, str(obj["id"])), "lb": lb}
        await ctx.made(Outcome(str(obj["id"]), {}, data))
        if lb:
            await wait_active(api, lb)
        return self._outcome(obj, data)

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        body = await self.body(api, {k: v for k, v in new.items() if v != old.get(k)}, ctx)
        obj = (await _busy_retry(api, "PUT", current.data["path"], {self.key: body}))[self.key]
        if current.data.get("lb"):
            await wait_active(api, current.data["lb"])
        return self._outcome(obj, current.data)

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.data.get("path"):
            return
        await _busy_retry(api, "DELETE", current.data["path"])
        if current.data.get("lb"):
            try:
                await wait_active(api, current.data["lb"])
            except ApiError as exc:
                if exc.status != 404:
                    raise


class LoadBalancer(ResourceType):
    name = "OS::Octavia::LoadBalancer"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(update_allowed=True),
        "description": Prop(update_allowed=True),
        "vip_subnet": Prop(required=True),
        "vip_address": Prop(),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
        "provider": Prop(),
        "flavor": Prop(),
    }
    attributes: ClassVar[dict[str, str]] = {
        "vip_address": "", "vip_port_id": "", "vip_subnet_id": "", "pools": "",
        "listeners": "", "provisioning_status": "", "operating_status": "", "show": "",
    }  # fmt: skip

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = strip_none({
            "name": props.get("name") or f"{ctx.stack_name}-{ctx.name}",
            "description": props.get("description"),
            "vip_subnet_id": await find(api, "subnets", str(props["vip_subnet"])),
            "vip_address": props.get("vip_address"),
            "admin_state_up": props.get("admin_state_up"), "provider": props.get("provider"),
        })  # fmt: skip
        lb = (await api.call("load-balancer", "POST", f"{LBAAS}/loadbalancers",
                             json={"loadbalancer": body}))["loadbalancer"]  # fmt: skip
        await ctx.made(Outcome(str(lb["id"])))
        lb = await wait_active(api, lb["id"])
        return Outcome(str(lb["id"]), {**lb, "show": lb})

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        body = {k: new[k] for k in ("name", "description", "admin_state_up") if new[k] != old.get(k)}
        path = f"{LBAAS}/loadbalancers/{current.physical_id}"
        await _busy_retry(api, "PUT", path, {"loadbalancer": body})
        lb = await wait_active(api, str(current.physical_id))
        return Outcome(current.physical_id, {**lb, "show": lb})

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.physical_id:
            return
        path = f"{LBAAS}/loadbalancers/{current.physical_id}"
        await _busy_retry(api, "DELETE", path)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                await api.call("load-balancer", "GET", path)
            except ApiError as exc:
                if exc.status == 404:
                    return
                raise
            await asyncio.sleep(0.2)
        raise ResourceFailure(f"load balancer {current.physical_id} not deleted in {WAIT:.0f} s")


class Listener(Child):
    name = "OS::Octavia::Listener"
    collection, key = "listeners", "listener"
    properties: ClassVar[dict[str, Prop]] = {
        "loadbalancer": Prop(required=True),
        "protocol": Prop(required=True, allowed=("TCP", "HTTP", "HTTPS", "UDP",
                                                 "TERMINATED_HTTPS", "SCTP")),  # fmt: skip
        "protocol_port": Prop("integer", required=True),
        "name": Prop(update_allowed=True),
        "default_pool": Prop(update_allowed=True),
        "connection_limit": Prop("integer", update_allowed=True),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
        "allowed_cidrs": Prop("list", update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {"loadbalancers": "", "default_pool_id": "", "show": ""}

    async def body(self, api: Api, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        out = {k: v for k, v in props.items() if k not in ("loadbalancer", "default_pool")}
        if props.get("loadbalancer"):
            out["loadbalancer_id"] = props["loadbalancer"]
        if "default_pool" in props:
            out["default_pool_id"] = props["default_pool"]
        return strip_none(out)


class Pool(Child):
    name = "OS::Octavia::Pool"
    collection, key = "pools", "pool"
    properties: ClassVar[dict[str, Prop]] = {
        "listener": Prop(),
        "loadbalancer": Prop(),
        "protocol": Prop(required=True),
        "lb_algorithm": Prop(required=True, update_allowed=True),
        "name": Prop(update_allowed=True),
        "session_persistence": Prop("map", update_allowed=True),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {"members": "", "healthmonitor_id": "", "listeners": "",
                                            "loadbalancers": "", "show": ""}  # fmt: skip

    async def body(self, api: Api, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        out = {k: v for k, v in props.items() if k not in ("listener", "loadbalancer")}
        if props.get("listener"):
            out["listener_id"] = props["listener"]
        if props.get("loadbalancer"):
            out["loadbalancer_id"] = props["loadbalancer"]
        return strip_none(out)


class PoolMember(Child):
    name = "OS::Octavia::PoolMember"
    collection, key = "members", "member"
    properties: ClassVar[dict[str, Prop]] = {
        "pool": Prop(required=True),
        "address": Prop(required=True),
        "protocol_port": Prop("integer", required=True),
        "subnet": Prop(),
        "weight": Prop("integer", default=1, update_allowed=True),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
        "monitor_address": Prop(),
        "monitor_port": Prop("integer"),
    }
    attributes: ClassVar[dict[str, str]] = {"address": "", "pool_id": "", "show": ""}

    def path(self, props: dict[str, Any], physical_id: str | None = None) -> str:
        base = f"{LBAAS}/pools/{props['pool']}/members"
        return f"{base}/{physical_id}" if physical_id else base

    async def lb_of(self, api: Api, obj: dict[str, Any], props: dict[str, Any]) -> str | None:
        pool_id = obj.get("pool_id") or props["pool"]
        pool = (await api.call("load-balancer", "GET", f"{LBAAS}/pools/{pool_id}"))["pool"]
        lbs = pool.get("loadbalancers") or []
        return str(lbs[0]["id"]) if lbs else None

    async def body(self, api: Api, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        out = {k: v for k, v in props.items() if k not in ("pool", "subnet")}
        if props.get("subnet"):
            out["subnet_id"] = await find(api, "subnets", str(props["subnet"]))
        return strip_none(out)

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        changed = {k: v for k, v in new.items() if v != old.get(k)}
        body = strip_none({k: v for k, v in changed.items() if k in ("weight", "admin_state_up")})
        obj = (await _busy_retry(api, "PUT", current.data["path"], {"member": body}))["member"]
        if current.data.get("lb"):
            await wait_active(api, current.data["lb"])
        return self._outcome(obj, current.data)


class HealthMonitor(Child):
    name = "OS::Octavia::HealthMonitor"
    collection, key = "healthmonitors", "healthmonitor"
    properties: ClassVar[dict[str, Prop]] = {
        "pool": Prop(required=True),
        "type": Prop(required=True, allowed=("PING", "TCP", "HTTP", "HTTPS", "UDP-CONNECT",
                                             "TLS-HELLO", "SCTP")),  # fmt: skip
        "delay": Prop("integer", required=True, update_allowed=True),
        "timeout": Prop("integer", required=True, update_allowed=True),
        "max_retries": Prop("integer", required=True, update_allowed=True),
        "http_method": Prop(update_allowed=True),
        "url_path": Prop(update_allowed=True),
        "expected_codes": Prop(update_allowed=True),
        "admin_state_up": Prop("boolean", default=True, update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {"pools": "", "show": ""}

    async def body(self, api: Api, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        out = {k: v for k, v in props.items() if k != "pool"}
        if props.get("pool"):
            out["pool_id"] = props["pool"]
        return strip_none(out)

    async def lb_of(self, api: Api, obj: dict[str, Any], props: dict[str, Any]) -> str | None:
        pools = obj.get("pools") or []
        if not pools:
            return None
        pool = (await api.call("load-balancer", "GET", f"{LBAAS}/pools/{pools[0]['id']}"))["pool"]
        lbs = pool.get("loadbalancers") or []
        return str(lbs[0]["id"]) if lbs else None
