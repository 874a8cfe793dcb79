"""OS::Glance::WebImage through the image (v2) API: an image made from a
URL by Glance's web-download import (the cloud takes only the hosts in
``[image] web_download_allowed_hosts``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from stratus.orchestration.drivers.base import (
    Api,
    Context,
    Outcome,
    Prop,
    ResourceType,
    delete_quietly,
    strip_none,
)
from stratus.orchestration.errors import ResourceFailure

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ova", "ovf", "docker", "compressed")
EXTRA = ("architecture", "kernel_id", "ramdisk_id", "os_distro", "os_version")
PATCHABLE = ("name", "min_disk", "min_ram", "protected", "visibility", *EXTRA)
PATCH = "application/openstack-images-v2.1-json-patch"
TIMEOUT = 600.0


class WebImage(ResourceType):
    name = "OS::Glance::WebImage"
    description = "An image downloaded by the image service from a URL (web-download)."
    properties: ClassVar[dict[str, Prop]] = {
        "name": Prop(update_allowed=True),
        "id": Prop(description="The image's id (a UUID); the image service picks one if unset."),
        "location": Prop(required=True, description="The URL the image service downloads."),
        "disk_format": Prop(required=True, allowed=DISK_FORMATS),
        "container_format": Prop(required=True, allowed=CONTAINER_FORMATS),
        "min_disk": Prop("integer", default=0, update_allowed=True),
        "min_ram": Prop("integer", default=0, update_allowed=True),
        "protected": Prop("boolean", default=False, update_allowed=True),
        "visibility": Prop(default="private", update_allowed=True,
                           allowed=("public", "private", "community", "shared")),
        "tags": Prop("list", default=[], update_allowed=True),
        **{k: Prop(update_allowed=True) for k in EXTRA},
    }  # fmt: skip
    attributes: ClassVar[dict[str, str]] = {"show": "The image as the image API shows it."}

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        body = strip_none({
            "name": props.get("name") or f"{ctx.stack_name}-{ctx.name}", "id": props.get("id"),
            "disk_format": props["disk_format"], "container_format": props["container_format"],
            "min_disk": props["min_disk"], "min_ram": props["min_ram"],
            "protected": props["protected"], "visibility": props["visibility"],
            "tags": [str(t) for t in props.get("tags") or []],
            **{k: props.get(k) for k in EXTRA},
        })  # fmt: skip
        image = await api.call("image", "POST", "/v2/images", json=body)
        iid = str(image["id"])
        await ctx.made(Outcome(iid))
        await api.call("image", "POST", f"/v2/images/{iid}/import", json={
            "method": {"name": "web-download", "uri": str(props["location"])}})  # fmt: skip
        deadline = time.monotonic() + TIMEOUT
        delay = 0.05
        while True:
            image = await api.call("image", "GET", f"/v2/images/{iid}")
            if image["status"] == "active":
                return Outcome(iid, {"show": image})
            if image["status"] == "queued" and image.get("os_glance_failed_import"):
                raise ResourceFailure(f"The image service could not download "
                                      f"{props['location']}")  # fmt: skip
            if image["status"] in ("killed", "deleted") or time.monotonic() > deadline:
                raise ResourceFailure(f"Image {iid} is {image['status']}, not active")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        ops: list[dict[str, Any]] = []
        for key in PATCHABLE:
            if new.get(key) != old.get(key):
                value = new.get(key)
                if key == "name" and not value:
                    value = f"{ctx.stack_name}-{ctx.name}"
                ops.append({"op": "remove", "path": f"/{key}"} if value is None
                           else {"op": "replace", "path": f"/{key}", "value": value})  # fmt: skip
        if new.get("tags") != old.get("tags"):
            ops.append({"op": "replace", "path": "/tags",
                        "value": [str(t) for t in new.get("tags") or []]})  # fmt: skip
        path = f"/v2/images/{current.physical_id}"
        if ops:
            image = await api.call("image", "PATCH", path, json=ops,
                                   headers={"Content-Type": PATCH})  # fmt: skip
        else:
            image = await api.call("image", "GET", path)
        return Outcome(current.physical_id, {"show": image})

    async def delete(self, api: Api, current: Outcome) -> None:
        if not current.physical_id:
            return
        path = f"/v2/images/{current.physical_id}"
        if (current.attributes.get("show") or {}).get("protected"):
            await api.call("image", "PATCH", path, headers={"Content-Type": PATCH}, ok=(200, 404),
                           json=[{"op": "replace", "path": "/protected", "value": False}])  # fmt: skip
        await delete_quietly(api, "image", path)
