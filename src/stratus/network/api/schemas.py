"""Network request schemas (Neutron's attribute names, colons included).
Unknown attributes are refused; read-only ones (``status``, ``id``...) are
unknown to the create and update schemas, so they are refused too."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr, model_validator

from stratus.common.api import Schema

Name = Annotated[StrictStr, Field(max_length=255)]
Text = Annotated[StrictStr, Field(max_length=255)]
Id = Annotated[StrictStr, Field(max_length=255)]
Tags = list[Annotated[StrictStr, Field(min_length=1, max_length=255)]]
VnicType = Literal[
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
]


class Body(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    # Attributes whose null means something (no gateway, disassociate...);
    # any other attribute given as null counts as not given.
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    def attrs(self) -> dict[str, Any]:
        """The attributes given, by Neutron's names, ``tenant_id`` read as
        ``project_id``."""
        out = {
            k: v
            for k, v in self.model_dump(exclude_unset=True, by_alias=True).items()
            if v is not None or k in self.NULLABLE
        }
        tenant = out.pop("tenant_id", None)
        if tenant is not None:
            out.setdefault("project_id", tenant)
        return out


class Owned(Body):
    project_id: Id | None = None
    tenant_id: Id | None = None

    @model_validator(mode="after")
    def _same_project(self) -> Owned:
        if self.project_id and self.tenant_id and self.project_id != self.tenant_id:
            raise ValueError("Specified project_id and tenant_id differ")
        return self


class Bulk(Body):
    """A create body holding one resource or a list of them (bulk)."""

    single: ClassVar[str]
    many: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def check_one(cls, data: Any) -> Any:
        if isinstance(data, dict) and (cls.single in data) == (cls.many in data):
            raise ValueError(f"the body needs '{cls.single}' or '{cls.many}'")
        return data

    def items(self) -> list[Any]:
        one = getattr(self, self.single)
        return [one] if one is not None else list(getattr(self, self.many))


# -- networks --------------------------------------------------------------------------


class NetworkFields(Body):
    name: Name | None = None
    description: Text | None = None
    admin_state_up: bool | None = None
    shared: bool | None = None
    external: bool | None = Field(None, alias="router:external")
    is_default: bool | None = None
    mtu: Annotated[int, Field(ge=68)] | None = None
    port_security_enabled: bool | None = None
    dns_domain: Annotated[StrictStr, Field(max_length=255)] | None = None
    network_type: StrictStr | None = Field(None, alias="provider:network_type")
    physical_network: StrictStr | None = Field(None, alias="provider:physical_network")
    segmentation_id: StrictInt | None = Field(None, alias="provider:segmentation_id")


class NetworkCreate(NetworkFields, Owned):
    tags: Tags | None = None


class NetworkCreateBody(Bulk):
    single, many = "network", "networks"
    network: NetworkCreate | None = None
    networks: list[NetworkCreate] | None = None


class NetworkUpdateBody(Body):
    network: NetworkFields


# -- subnets ---------------------------------------------------------------------------


class SubnetFields(Body):
    NULLABLE = frozenset({"gateway_ip"})
    name: Name | None = None
    description: Text | None = None
    gateway_ip: StrictStr | None = None
    allocation_pools: list[dict[str, Any]] | None = None
    dns_nameservers: list[StrictStr] | None = None
    host_routes: list[dict[str, Any]] | None = None
    enable_dhcp: bool | None = None


class SubnetCreate(SubnetFields, Owned):
    network_id: Id
    cidr: StrictStr | None = None
    ip_version: Literal[4, 6] | None = None
    ipv6_ra_mode: StrictStr | None = None
    ipv6_address_mode: StrictStr | None = None
    subnetpool_id: Id | None = None
    use_default_subnetpool: bool | None = None
    prefixlen: Annotated[StrictInt, Field(ge=0, le=128)] | None = None
    segment_id: Id | None = None
    service_types: list[StrictStr] | None = None
    tags: Tags | None = None


class SubnetCreateBody(Bulk):
    single, many = "subnet", "subnets"
    subnet: SubnetCreate | None = None
    subnets: list[SubnetCreate] | None = None


class SubnetUpdate(SubnetFields):
    # Read-only once made: accepted here so that the answer names them.
    cidr: Any = None
    ip_version: Any = None
    network_id: Any = None
    subnetpool_id: Any = None
    prefixlen: Any = None
    ipv6_ra_mode: Any = None
    ipv6_address_mode: Any = None
    use_default_subnetpool: Any = None


class SubnetUpdateBody(Body):
    subnet: SubnetUpdate


# -- subnet pools ----------------------------------------------------------------------

PrefixLen = Annotated[StrictInt, Field(ge=0, le=128)]


class SubnetPoolFields(Body):
    NULLABLE = frozenset({"default_quota"})
    name: Name | None = None
    description: Text | None = None
    prefixes: list[StrictStr] | None = None
    default_prefixlen: PrefixLen | None = None
    min_prefixlen: PrefixLen | None = None
    max_prefixlen: PrefixLen | None = None
    is_default: bool | None = None
    default_quota: Annotated[StrictInt, Field(ge=0)] | None = None


class SubnetPoolCreate(SubnetPoolFields, Owned):
    prefixes: list[StrictStr]
    shared: bool | None = None
    tags: Tags | None = None


class SubnetPoolCreateBody(Body):
    subnetpool: SubnetPoolCreate


class SubnetPoolUpdateBody(Body):
    subnetpool: SubnetPoolFields


# -- ports -----------------------------------------------------------------------------


class FixedIP(Body):
    subnet_id: Id | None = None
    ip_address: StrictStr | None = None


class PortFields(Body):
    NULLABLE = frozenset(
        {"allowed_address_pairs", "binding:profile", "binding:host_id", "dns_name"}
    )
    name: Name | None = None
    description: Text | None = None
    admin_state_up: bool | None = None
    mac_address: StrictStr | None = None
    fixed_ips: list[FixedIP] | None = None
    device_id: Annotated[StrictStr, Field(max_length=255)] | None = None
    device_owner: Annotated[StrictStr, Field(max_length=255)] | None = None
    security_groups: list[Id] | None = None
    port_security_enabled: bool | None = None
    allowed_address_pairs: list[dict[str, Any]] | None = None
    host_id: Annotated[StrictStr, Field(max_length=255)] | None = Field(
        None, alias="binding:host_id"
    )
    profile: dict[str, Any] | None = Field(None, alias="binding:profile")
    vnic_type: VnicType | None = Field(None, alias="binding:vnic_type")
    dns_name: Annotated[StrictStr, Field(max_length=255)] | None = None


class PortCreate(PortFields, Owned):
    network_id: Id
    tags: Tags | None = None


class PortCreateBody(Bulk):
    single, many = "port", "ports"
    port: PortCreate | None = None
    ports: list[PortCreate] | None = None


class PortUpdateBody(Body):
    port: PortFields


# -- routers ---------------------------------------------------------------------------


class GatewayInfo(Body):
    network_id: Id | None = None
    enable_snat: bool | None = None
    external_fixed_ips: list[FixedIP] | None = None


class Route(Body):
    destination: StrictStr
    nexthop: StrictStr


class RouterFields(Body):
    NULLABLE = frozenset({"external_gateway_info"})
    name: Name | None = None
    description: Text | None = None
    admin_state_up: bool | None = None
    external_gateway_info: GatewayInfo | None = None


class RouterCreate(RouterFields, Owned):
    tags: Tags | None = None


class RouterCreateBody(Body):
    router: RouterCreate


class RouterUpdate(RouterFields):
    NULLABLE = frozenset({"external_gateway_info", "routes"})
    routes: list[Route] | None = None


class RouterUpdateBody(Body):
    router: RouterUpdate


class RouterInterfaceBody(Body):
    subnet_id: Id | None = None
    port_id: Id | None = None


class RoutesOnly(Body):
    routes: list[Route]


class RouterRoutesBody(Body):
    router: RoutesOnly


# -- floating IPs ----------------------------------------------------------------------


class FloatingIPCreate(Owned):
    floating_network_id: Id
    floating_ip_address: StrictStr | None = None
    subnet_id: Id | None = None
    port_id: Id | None = None
    fixed_ip_address: StrictStr | None = None
    description: Text | None = None
    dns_name: Annotated[StrictStr, Field(max_length=255)] | None = None
    dns_domain: Annotated[StrictStr, Field(max_length=255)] | None = None
    tags: Tags | None = None


class FloatingIPCreateBody(Body):
    floatingip: FloatingIPCreate


class FloatingIPUpdate(Body):
    NULLABLE = frozenset({"port_id"})
    port_id: Id | None = None
    fixed_ip_address: StrictStr | None = None
    description: Text | None = None


class FloatingIPUpdateBody(Body):
    floatingip: FloatingIPUpdate


# -- security groups -------------------------------------------------------------------


class SecurityGroupFields(Body):
    name: Name | None = None
    description: Text | None = None


class SecurityGroupCreate(SecurityGroupFields, Owned):
    tags: Tags | None = None


class SecurityGroupCreateBody(Body):
    security_group: SecurityGroupCreate


class SecurityGroupUpdateBody(Body):
    security_group: SecurityGroupFields


class RuleCreate(Owned):
    security_group_id: Id
    direction: StrictStr | None = None
    ethertype: StrictStr | None = None
    protocol: StrictStr | StrictInt | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: StrictStr | None = None
    remote_group_id: Id | None = None
    description: Text | None = None


class RuleCreateBody(Bulk):
    single, many = "security_group_rule", "security_group_rules"
    security_group_rule: RuleCreate | None = None
    security_group_rules: list[RuleCreate] | None = None


# -- quotas, tags, agents --------------------------------------------------------------

Limit = Annotated[StrictInt, Field(ge=-1)]


class QuotaValues(Body):
    network: Limit | None = None
    subnet: Limit | None = None
    port: Limit | None = None
    router: Limit | None = None
    floatingip: Limit | None = None
    security_group: Limit | None = None
    security_group_rule: Limit | None = None
    subnetpool: Limit | None = None
    force: bool | None = None
    check_limit: bool | None = None


class QuotaUpdateBody(Body):
    quota: QuotaValues


class TagsBody(Body):
    tags: Tags


class AgentUpdate(Body):
    admin_state_up: bool | None = None
    description: Text | None = None


class AgentUpdateBody(Body):
    agent: AgentUpdate
