"""The request schemas of servers: ``POST /servers`` (the checks of
Nova's schema and API, with the microversion as the validation context),
``PUT /servers/{id}``, the servers' list query and their metadata."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from stratus.common.api import IntOrString, Query
from stratus.common.microversion import Version
from stratus.compute.api.schemas import Aliased, Name, ref_id, version_of
from stratus.compute.errors import BadRequest
from stratus.compute.service.boot_volumes import BootVolume, boot_volumes
from stratus.compute.service.network import NicRequest
from stratus.compute.service.server_create import CreateRequest


def _access_ip(field: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> Any:
    """accessIPv4/accessIPv6: an address of that family (Nova's format check),
    kept in its short form as Nova's database keeps it."""

    def check(value: str) -> str:
        try:
            return str(kind(value))
        except ValueError as exc:
            family = "ipv4" if kind is ipaddress.IPv4Address else "ipv6"
            raise BadRequest(
                f"Invalid input for field/attribute {field}. Value: {value}. "
                f"'{value}' is not a '{family}'"
            ) from exc

    return AfterValidator(check)


AccessIPv4 = Annotated[str, _access_ip("accessIPv4", ipaddress.IPv4Address)]
AccessIPv6 = Annotated[str, _access_ip("accessIPv6", ipaddress.IPv6Address)]


class NetworkRef(Aliased):
    uuid: str | None = None
    port: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None


class BlockDevice(Aliased):
    uuid: str | None = None
    boot_index: int | str | None = None
    source_type: str | None = None
    destination_type: str | None = None
    delete_on_termination: bool | None = None
    volume_size: int | None = None
    device_name: str | None = None
    disk_bus: str | None = None
    device_type: str | None = None
    guest_format: str | None = None
    tag: str | None = None
    volume_type: str | None = None
    no_device: bool | None = None


class SecurityGroupRef(Aliased):
    name: str


class ServerCreate(Aliased):
    """The server of ``POST /servers``.  Only an image booted to local disk
    and the "auto"/"none" networks exist here (no block storage or network
    service yet); the checks of Nova's schema and API are here, with the
    microversion as the validation context."""

    name: Name
    imageRef: str | None = None  # noqa: N815
    flavorRef: str | int  # noqa: N815
    key_name: str | None = None
    user_data: str | None = None
    config_drive: bool | str | None = None
    metadata: dict[
        Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=255)]
    ] = {}
    networks: str | list[NetworkRef] | None = None
    min_count: IntOrString = 1
    max_count: IntOrString | None = None
    availability_zone: str | None = None
    block_device_mapping_v2: list[BlockDevice] | None = None
    security_groups: list[SecurityGroupRef] | None = None
    description: Annotated[str, Field(max_length=255)] | None = None
    hostname: str | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = None
    adminPass: str | None = None  # noqa: N815
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")
    accessIPv4: AccessIPv4 | None = None  # noqa: N815
    accessIPv6: AccessIPv6 | None = None  # noqa: N815
    return_reservation_id: bool | None = None
    trusted_image_certificates: list[str] | None = None
    host: str | None = None
    hypervisor_hostname: str | None = None

    _network_mode: str = PrivateAttr("auto")
    _image_id: str = PrivateAttr("")
    _volumes: list[BootVolume] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> ServerCreate:
        self._network_mode = self._networks(version_of(info))
        self._image_id = self._image()
        _count(self.min_count, "min_count")
        _count(self.max_count, "max_count")
        if self.user_data is not None:
            try:
                base64.b64decode(self.user_data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadRequest(
                    "Invalid input for field/attribute user_data: it must be base64."
                ) from exc
        if self.config_drive not in (None, True, False, "True", "true", "False", "false", ""):
            raise BadRequest(
                f"Invalid input for field/attribute config_drive. Value: {self.config_drive}."
            )
        return self

    def _networks(self, v: Version) -> str:
        if self.networks is None:
            if v >= Version.parse("2.37"):
                raise BadRequest(
                    "Invalid input for field/attribute networks: it is required since microversion 2.37."
                )
            return "legacy"
        if isinstance(self.networks, str):
            if self.networks not in ("auto", "none") or v < Version.parse("2.37"):
                raise BadRequest(
                    f"Invalid input for field/attribute networks. Value: {self.networks}."
                )
            return self.networks
        if not self.networks:
            return "legacy"
        for ref in self.networks:
            if not (ref.uuid or ref.port):
                raise BadRequest(
                    "Invalid input for field/attribute networks: each needs a uuid or a port."
                )
            if ref.fixed_ip and not ref.uuid and not ref.port:
                raise BadRequest("Invalid input for field/attribute fixed_ip: it needs a uuid.")
        return "list"

    @property
    def nic_requests(self) -> tuple[NicRequest, ...]:
        if not isinstance(self.networks, list):
            return ()
        return tuple(
            NicRequest(
                network_id=None if r.port else r.uuid,
                port_id=r.port,
                fixed_ip=None if r.port else r.fixed_ip,
                tag=r.tag,
            )
            for r in self.networks
        )

    def _image(self) -> str:
        image_ref = ref_id(self.imageRef or "")
        self._volumes = boot_volumes(self.block_device_mapping_v2 or [])
        if any(v.boot_index == 0 for v in self._volumes):
            return ""  # booted from a volume
        for bdm in self.block_device_mapping_v2 or []:
            if bdm.destination_type == "volume":
                continue
            local_image = bdm.source_type == "image" and bdm.destination_type in (None, "local")
            if not local_image or (bdm.uuid and image_ref and bdm.uuid != image_ref):
                raise BadRequest(
                    "Invalid block device mapping: local disks come only from the server's image."
                )
            image_ref = image_ref or bdm.uuid or ""
        if not image_ref:
            raise BadRequest("An image is required (imageRef).")
        return image_ref

    @property
    def volumes(self) -> list[BootVolume]:
        """The block device mapping's volumes (service/volumes.py)."""
        return self._volumes

    @property
    def image_id(self) -> str:
        """The image to boot: imageRef, or the block device mapping's image."""
        return self._image_id

    @property
    def network_mode(self) -> str:
        """ "auto", "none", "list" (networks named) or "legacy" (none asked
        for, before 2.37)."""
        return self._network_mode

    @property
    def forces_host(self) -> bool:
        """A host named (``zone:host``, or ``host`` from 2.74): admin only."""
        zone = self.availability_zone
        return bool((zone and ":" in zone) or self.host or self.hypervisor_hostname)

    @property
    def zone(self) -> str | None:
        if self.host or self.hypervisor_hostname:
            return f"{(self.availability_zone or 'nova').split(':')[0]}:{self.host or self.hypervisor_hostname}"
        return self.availability_zone


def _count(value: int | str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for field/attribute {what}. Value: {value}.") from exc
    if number < 1:
        raise BadRequest(f"Invalid input for field/attribute {what}: it must be at least 1.")
    return number


class ServerCreateBody(Aliased):
    server: ServerCreate
    scheduler_hints: dict[str, Any] | None = Field(default=None, alias="os:scheduler_hints")
    legacy_hints: dict[str, Any] | None = Field(default=None, alias="OS-SCH-HNT:scheduler_hints")

    def create_request(self) -> CreateRequest:
        b = self.server
        hints = self.scheduler_hints or self.legacy_hints or {}
        group = hints.get("group")
        min_count = _count(b.min_count, "min_count") or 1
        return CreateRequest(
            name=b.name,
            image_ref=b.image_id,
            flavor_ref=ref_id(str(b.flavorRef)),
            key_name=b.key_name,
            user_data=b.user_data,
            config_drive=True,
            metadata=dict(b.metadata),
            networks=b.network_mode,
            min_count=min_count,
            max_count=_count(b.max_count, "max_count") or min_count,
            availability_zone=b.zone,
            group_id=str(group) if group else None,
            description=b.description,
            hostname=b.hostname,
            tags=list(b.tags or []),
            admin_pass=b.adminPass,
            nics=b.nic_requests,
            security_groups=tuple(g.name for g in b.security_groups or ()),
            block_devices=tuple(b.volumes),
            access_ip_v4=b.accessIPv4,
            access_ip_v6=b.accessIPv6,
        )


class ServerUpdate(Aliased):
    name: Name | None = None
    description: Annotated[str, Field(max_length=255)] | None = None
    hostname: str | None = None
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")
    accessIPv4: AccessIPv4 | None = None  # noqa: N815
    accessIPv6: AccessIPv6 | None = None  # noqa: N815


class ServerUpdateBody(Aliased):
    server: ServerUpdate


class MetadataBody(Aliased):
    metadata: dict[
        Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=255)]
    ]


class MetaItemBody(Aliased):
    meta: dict[
        Annotated[str, Field(min_length=1, max_length=255)], Annotated[str, Field(max_length=255)]
    ]


class ServerListQuery(Query):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str | None = None
    status: str | None = None
    changes_since: str | None = Field(default=None, alias="changes-since")
    ip: str | None = None
    host: str | None = None
    all_tenants: str | None = None
    project_id: str | None = None
    tenant_id: str | None = None
    flavor: str | None = None
    image: str | None = None
    locked: str | None = None
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None
    deleted: str | None = None
