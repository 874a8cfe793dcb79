"""OS::Cinder::Volume and OS::Swift::Container, through the volume (v3)
and object-store (v1) APIs."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from stratus.orchestration.drivers.base import (
    Api,
    ApiError,
    Context,
    Outcome,
    Prop,
    ResourceType,
    delete_quietly,
    strip_none,
    wait_for,
    wait_gone,
)
from stratus.orchestration.errors import ResourceFailure


class Volume(ResourceType):
    name = "OS::Cinder::Volume"
    shown = ("volume", "/volumes/{id}")
    properties: ClassVar[dict[str, Prop]] = {
        "size": Prop("integer", update_allowed=True),
        "name": Prop(update_allowed=True),
        "description": Prop(update_allowed=True),
        "volume_type": Prop(),
        "image": Prop(),
        "snapshot_id": Prop(),
        "source_volid": Prop(),
        "backup_id": Prop(update_allowed=True,
                          description="The backup to make the volume from (a new one replaces "
                                      "the volume: a snapshot's restore)."),
        "availability_zone": Prop(),
        "metadata": Prop("map", update_allowed=True),
        "multiattach": Prop("boolean"),
    }
    attributes: ClassVar[dict[str, str]] = {
        "size": "", "status": "", "display_name": "", "display_description": "",
        "volume_type": "", "bootable": "", "metadata": "", "attachments_list": "",
        "created_at": "", "availability_zone": "", "show": "",
    }  # fmt: skip

    @staticmethod
    def _outcome(vol: dict[str, Any]) -> Outcome:
        attrs = {**vol, "display_name": vol.get("name"),
                 "display_description": vol.get("description"),
                 "attachments_list": vol.get("attachments", []), "show": vol}  # fmt: skip
        return Outcome(str(vol["id"]), attrs)

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        backup = props.get("backup_id")
        if props.get("size") is None and not (props.get("snapshot_id") or props.get("source_volid")
                                              or backup):  # fmt: skip
            raise ResourceFailure("size is required for a new volume")
        body = strip_none({
            "size": props.get("size"), "name": props.get("name") or f"{ctx.stack_name}-{ctx.name}",
            "description": props.get("description"), "volume_type": props.get("volume_type"),
            "imageRef": props.get("image"), "snapshot_id": props.get("snapshot_id"),
            "source_volid": props.get("source_volid"), "metadata": props.get("metadata"),
            "availability_zone": props.get("availability_zone"), "backup_id": backup,
        })  # fmt: skip
        version = {"OpenStack-API-Version": "volume 3.47"} if backup else None  # backup_id's
        vol = (await api.call("volume", "POST", "/volumes", json={"volume": body},
                              headers=version))["volume"]  # fmt: skip
        await ctx.made(Outcome(str(vol["id"])))
        vol = await wait_for(api, "volume", f"/volumes/{vol['id']}", "volume", ("available",),
                             ("error",))  # fmt: skip
        return self._outcome(vol)

    async def locate(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome | None:
        if props.get("name"):
            return None  # only a name the engine gave is known to be the stack's
        name = f"{ctx.stack_name}-{ctx.name}"
        found = (await api.call("volume", "GET", "/volumes", params={"name": name}))["volumes"]
        return Outcome(str(found[0]["id"])) if len(found) == 1 else None

    def updatable(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """A new backup_id makes the volume again from it (replaced); one
        dropped from the template leaves the volume as it is."""
        if new.get("backup_id") and new.get("backup_id") != old.get("backup_id"):
            return False
        return super().updatable(old, new)

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        path = f"/volumes/{current.physical_id}"
        changes = strip_none({k: new.get(k) for k in ("name", "description", "metadata")
                              if new.get(k) != old.get(k)})  # fmt: skip
        if changes:
            await api.call("volume", "PUT", path, json={"volume": changes})
        if new.get("size") != old.get("size") and new.get("size") is not None:
            # the volume's own size: one made from a backup has the backup's
            have = int(current.attributes.get("size") or old.get("size") or 0)
            if new["size"] < have:
                raise ResourceFailure("A volume cannot shrink.")
            if new["size"] > have:
                await api.call("volume", "POST", f"{path}/action",
                               json={"os-extend": {"new_size": new["size"]}})  # fmt: skip
        vol = await wait_for(api, "volume", path, "volume", ("available", "in-use"), ("error",
                             "error_extending"))  # fmt: skip
        return self._outcome(vol)

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.physical_id:
            return
        path = f"/volumes/{current.physical_id}"
        await delete_quietly(api, "volume", path)
        await wait_gone(api, "volume", path)


class Container(ResourceType):
    name = "OS::Swift::Container"
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(),
        "X-Container-Read": Prop(),
        "X-Container-Write": Prop(),
        "X-Container-Meta": Prop("map", default={}),
        "X-Account-Meta": Prop("map", default={}),
        "PurgeOnDelete": Prop("boolean", default=False),
    }
    attributes: ClassVar[dict[str, str]] = {
        "DomainName": "", "WebsiteURL": "", "RootURL": "", "ObjectCount": "",
        "BytesUsed": "", "HeadContainer": "",
    }  # fmt: skip

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        name = props.get("name") or f"{ctx.stack_name}-{ctx.name}-{ctx.stack_id[:8]}"
        headers = {k: str(props[k]) for k in ("X-Container-Read", "X-Container-Write")
                   if props.get(k)}  # fmt: skip
        for k, v in (props.get("X-Container-Meta") or {}).items():
            headers[f"X-Container-Meta-{k}"] = str(v)
        await api.call("object-store", "PUT", f"/{quote(name)}", headers=headers,
                       ok=(201, 202, 204))  # fmt: skip
        root = api.endpoint("object-store") if hasattr(api, "endpoint") else ""
        url = f"{root}/{quote(name)}"
        host = url.split("://", 1)[-1].split("/", 1)[0]
        return Outcome(name, {"DomainName": host, "WebsiteURL": url, "RootURL": f"{root}/",
                              "ObjectCount": 0, "BytesUsed": 0},
                       {"purge": bool(props.get("PurgeOnDelete"))})  # fmt: skip

    async def locate(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome | None:
        if props.get("name"):
            return None  # only a name the engine gave is known to be the stack's
        return Outcome(f"{ctx.stack_name}-{ctx.name}-{ctx.stack_id[:8]}")

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.physical_id:
            return
        path = f"/{quote(current.physical_id)}"
        if current.data.get("purge"):
            listing = await api.call("object-store", "GET", path, params={"format": "json"},
                                     ok=(200, 204, 404))  # fmt: skip
            for obj in listing or []:
                await delete_quietly(api, "object-store", f"{path}/{quote(obj['name'])}")
        try:
            await api.call("object-store", "DELETE", path, ok=(204, 404))
        except ApiError as exc:
            if exc.status == 409:
                raise ResourceFailure(f"Conflict: the container {current.physical_id} is not "
                                      "empty") from exc  # fmt: skip
            raise
