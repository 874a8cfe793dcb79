"""How the database service shows its resources (Trove v1.0's bodies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stratus.compute import models as cm
from stratus.database import models as m
from stratus.database.service.datastores import (
    Datastore,
    Parameter,
    Version,
    datastore_id,
    version_id,
)
from stratus.database.service.logs import LogView


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value is not None else ""


def links(base: str, path: str) -> list[dict[str, str]]:
    return [
        {"href": f"{base}/{path}", "rel": "self"},
        {"href": f"{base}/{path}", "rel": "bookmark"},
    ]


def instance(
    i: m.Instance, base: str, detail: bool = True, replicas: Sequence[str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "operating_status": "HEALTHY" if i.status == m.ACTIVE else "",
        "links": links(base, f"instances/{i.id}"),
        "flavor": {"id": i.flavor_id, "links": links(base, f"flavors/{i.flavor_id}")},
        "datastore": {"type": i.datastore, "version": i.datastore_version},
        "region": "RegionOne",
        "tenant_id": i.project_id,
        "access": {"is_public": i.is_public, "allowed_cidrs": list(i.allowed_cidrs)},
        "volume": {"size": i.volume_size},
    }
    if i.configuration_id:
        out["configuration"] = {
            "id": i.configuration_id,
            "links": links(base, f"configurations/{i.configuration_id}"),
        }
    if i.replica_of_id:
        out["replica_of"] = {
            "id": i.replica_of_id,
            "links": links(base, f"instances/{i.replica_of_id}"),
        }
    if replicas:
        out["replicas"] = [{"id": r, "links": links(base, f"instances/{r}")} for r in replicas]
    addresses: list[dict[str, str]] = []
    if i.address:
        addresses.append({"address": i.address, "type": "private", "network": i.network_id or ""})
    if i.public_address:
        addresses.append({"address": i.public_address, "type": "public"})
    out["addresses"] = addresses
    out["ip"] = [a["address"] for a in addresses]
    if detail:
        out["created"] = _time(i.created_at)
        out["updated"] = _time(i.updated_at)
        out["service_status_updated"] = _time(i.updated_at)
        if i.volume_used is not None:
            out["volume"]["used"] = round(i.volume_used, 3)
        if i.fault and i.status == m.ERROR:
            out["fault"] = {"message": i.fault, "created": _time(i.updated_at), "details": ""}
    return out


def flavor(f: cm.Flavor, base: str) -> dict[str, Any]:
    return {
        "id": f.id,
        "str_id": f.id,
        "name": f.name,
        "ram": f.memory_mb,
        "vcpus": f.vcpus,
        "disk": f.root_gb,
        "links": links(base, f"flavors/{f.id}"),
    }


def version(v: Version, base: str) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "version": v.full,
        "datastore": datastore_id(v.datastore),
        "active": 1,
        "image": "",
        "image_tags": [],
        "packages": "",
        "links": links(base, f"datastores/versions/{v.id}"),
    }


def datastore(d: Datastore, base: str) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "default_version": d.versions[-1].id,
        "versions": [
            {"id": v.id, "name": v.name, "version": v.full, "active": 1,
             "links": links(base, f"datastores/versions/{v.id}")}
            for v in d.versions
        ],
        "links": links(base, f"datastores/{d.id}"),
    }  # fmt: skip


def parameter(p: Parameter, v: Version) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "type": p.type,
        "restart_required": p.restart_required,
        "datastore_version_id": v.id,
    }
    if p.min is not None:
        out["min"] = p.min
    if p.max is not None:
        out["max"] = p.max
    return out


def database(s: m.Schema) -> dict[str, Any]:
    return {"name": s.name}


def user(u: m.User) -> dict[str, Any]:
    return {"name": u.name, "host": u.host, "databases": [{"name": d} for d in u.databases]}


def backup(b: m.Backup, base: str) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "instance_id": b.instance_id,
        "parent_id": b.parent_id,
        "project_id": b.project_id,
        "status": b.status,
        "size": round(b.size / 2**30, 6) if b.size else None,
        "locationRef": b.location,
        "created": _time(b.created_at),
        "updated": _time(b.updated_at),
        "datastore": {
            "type": b.datastore,
            "version": b.datastore_version,
            "version_id": version_id(b.datastore, b.datastore_version),
        },
    }


def log(v: LogView) -> dict[str, Any]:
    return {
        "name": v.name,
        "type": v.type,
        "status": v.status,
        "published": v.row.published,
        "pending": v.row.pending,
        "container": v.container,
        "prefix": v.prefix,
        "metafile": v.metafile,
    }


def configuration(g: m.ConfigurationGroup, count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "datastore_name": g.datastore,
        "datastore_version_name": g.datastore_version,
        "datastore_version_id": version_id(g.datastore, g.datastore_version),
        "created": _time(g.created_at),
        "updated": _time(g.updated_at),
        "values": dict(g.values),
    }
    if count is not None:
        out["instance_count"] = count
    return out
