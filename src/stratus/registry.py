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

    def catalog_entries(self) -> list[tuple[str, str]]:
        """Every (type, name) under which the catalog lists this service."""
        return [(self.type, self.catalog_name), *self.also]

    def endpoint_url(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}{self.prefix}{self.endpoint_suffix}"


SERVICES: dict[str, ServiceInfo] = {
    "identity": ServiceInfo("identity", "identity", "keystone", "/identity"),
    "image": ServiceInfo("image", "image", "glance", "/image"),
    "compute": ServiceInfo("compute", "compute", "nova", "/compute", "/v2.1"),
    "object-store": ServiceInfo(
        "object-store", "object-store", "swift", "/object-store", "/v1/AUTH_$(project_id)s"
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
    # Trove's catalog URL carries the version and the project.
    "database": ServiceInfo("database", "database", "trove", "/database", "/v1.0/$(project_id)s"),
}
