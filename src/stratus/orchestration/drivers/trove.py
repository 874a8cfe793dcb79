"""OS::Trove::Instance through the database service's API (Trove v1.0)."""

from __future__ import annotations

from typing import Any, ClassVar

from stratus.orchestration.drivers.base import (
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
from stratus.orchestration.drivers.neutron import find


def _users(users: list[Any] | None) -> list[dict[str, Any]] | None:
    """Heat names a user's databases as strings; Trove wants ``{"name": ...}``."""
    out = []
    for u in users or []:
        user = dict(u) if isinstance(u, dict) else {"name": u}
        user["databases"] = [d if isinstance(d, dict) else {"name": str(d)}
                             for d in user.get("databases") or []]  # fmt: skip
        out.append(user)
    return out or None


class Instance(ResourceType):
    name = "OS::Trove::Instance"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(),
        "flavor": Prop(required=True),
        "size": Prop("integer", required=True),
        "datastore_type": Prop(),
        "datastore_version": Prop(),
        "databases": Prop("list", default=[]),
        "users": Prop("list", default=[]),
        "networks": Prop("list", default=[]),
        "availability_zone": Prop(),
        "restore_point": Prop(),
        "is_public": Prop("boolean", default=False),
        "allowed_cidrs": Prop("list", default=[]),
    }
    attributes: ClassVar[dict[str, str]] = {"hostname": "", "href": "", "addresses": "",
                                            "show": ""}  # fmt: skip

    @staticmethod
    def _outcome(inst: dict[str, Any]) -> Outcome:
        ips = [a.get("address") for a in inst.get("addresses") or [] if a.get("address")]
        ips = ips or list(inst.get("ip") or [])
        href = next((link["href"] for link in inst.get("links") or []
                     if link.get("rel") == "self"), "")  # fmt: skip
        return Outcome(str(inst["id"]), {"hostname": ips[0] if ips else inst.get("hostname", ""),
                                         "addresses": ips, "href": href, "show": inst})  # fmt: skip

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        nics = []
        for n in props.get("networks") or []:
            if n.get("network"):
                nics.append({"net-id": await find(api, "networks", str(n["network"]))})
        body = strip_none({
            "name": props.get("name") or f"{ctx.stack_name}-{ctx.name}",
            "flavorRef": str(props["flavor"]), "volume": {"size": props["size"]},
            "datastore": strip_none({"type": props.get("datastore_type"),
                                     "version": props.get("datastore_version")}) or None,
            "databases": props.get("databases") or None, "users": _users(props.get("users")),
            "nics": nics or None, "availability_zone": props.get("availability_zone"),
            "restorePoint": {"backupRef": props["restore_point"]} if props.get("restore_point")
            else None,
            "access": {"is_public": props["is_public"],
                       "allowed_cidrs": props.get("allowed_cidrs") or []}
            if props.get("is_public") or props.get("allowed_cidrs") else None,
        })  # fmt: skip
        inst = (await api.call("database", "POST", "/instances", json={"instance": body}))[
            "instance"
        ]
        await ctx.made(Outcome(str(inst["id"])))
        inst = await wait_for(api, "database", f"/instances/{inst['id']}", "instance",
                              ("active",), ("error",), timeout=1800)  # fmt: skip
        return self._outcome(inst)

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.physical_id:
            return
        path = f"/instances/{current.physical_id}"
        await delete_quietly(api, "database", path)
        await wait_gone(api, "database", path, timeout=900)
