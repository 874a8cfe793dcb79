"""The services Stratus can run: their catalog type and name, and where the
all-in-one mounts them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # the Stratus service name used in [services] enabled
    type: str  # the catalog type clients look for
    catalog_name: str  # the display name OpenStack uses
    prefix: str  # the path prefix in the all-in-one
    endpoint_suffix: str = ""  # appended to the prefix in catalog URLs
    # More (type, name) catalog entries for the same endpoint, as devstack
    # registers Cinder twice (block-storage and volumev3).
    also: tuple[tuple[str, str], ...] = ()
    # Where the catalog points instead of the prefix (the service is served
    # there too): Swift's tools want the storage URL's path at /v1/<account>.
    catalog_prefix: str | None = None

    def catalog_entries(self) -> list[tuple[str, str]]:
        """Every (type, name) under which the catalog lists this service."""
        return [(self.type, self.catalog_name), *self.also]

    def endpoint_url(self, public_url: str) -> str:
        prefix = self.prefix if self.catalog_prefix is None else self.catalog_prefix
        return f"{public_url.rstrip('/')}{prefix}{self.endpoint_suffix}"


SERVICES: dict[str, ServiceInfo] = {
    "identity": ServiceInfo("identity", "identity", "keystone", "/identity"),
    "image": ServiceInfo("image", "image", "glance", "/image"),
    "compute": ServiceInfo("compute", "compute", "nova", "/compute", "/v2.1"),
    # Served at /object-store/v1 and at /v1 (and its /info at /info), where
    # Swift's tools look; the catalog gives /v1/AUTH_<project>.
    "object-store": ServiceInfo(
        "object-store",
        "object-store",
        "swift",
        "/object-store",
        "/v1/AUTH_$(project_id)s",
        catalog_prefix="",
    ),
    "volume": ServiceInfo(
        "volume",
        "block-storage",
        "cinder",
        "/volume",
        "/v3/$(project_id)s",
        also=(("volumev3", "cinderv3"),),
    ),
    # Neutron's catalog URL has no version: clients discover /v2.0 themselves.
    "network": ServiceInfo("network", "network", "neutron", "/network"),
    # Octavia's catalog URL has no version: clients add /v2.0 (or discover /v2).
    "load-balancer": ServiceInfo("load-balancer", "load-balancer", "octavia", "/load-balancer"),
    # Trove's catalog URL carries the version and the project.
    "database": ServiceInfo("database", "database", "trove", "/database", "/v1.0/$(project_id)s"),
    # Heat's catalog URL carries the version and the project.
    "orchestration": ServiceInfo(
        "orchestration", "orchestration", "heat", "/orchestration", "/v1/$(project_id)s"
    ),
}
