"""Request schemas of the Octavia v2 API: unknown fields refused, values
checked as Octavia's WSME types check them (a bad one is a 400)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from stratus.common.api import Query, Schema

Name = Field(None, max_length=255)
Port = Field(ge=1, le=65535)
Timeout = Field(None, ge=0, le=31536000000 // 1000)  # ms, as Octavia's limit (a year) fits
ListenerProtocol = Literal["HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS"]
PoolProtocol = Literal["HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP", "UDP", "SCTP"]
Algorithm = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"]
MonitorType = Literal["HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP"]
HttpMethod = Literal["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"]
PolicyAction = Literal["REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REDIRECT_PREFIX", "REJECT"]
RuleType = Literal["PATH", "HOST_NAME", "HEADER", "COOKIE", "FILE_TYPE", "SSL_CONN_HAS_CERT",
                   "SSL_VERIFY_RESULT", "SSL_DN_FIELD"]  # fmt: skip
CompareType = Literal["REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO"]
Headers = Literal["X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"]


class _Attrs(Schema):
    def attrs(self) -> dict[str, Any]:
        """The fields the request set (null ones included: they clear)."""
        return self.model_dump(exclude_unset=True)


class _Common(_Attrs):
    name: str | None = Name
    description: str | None = Name
    admin_state_up: bool | None = None
    tags: list[str] | None = None


class _Owned(_Common):
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)


# -- load balancers -----------------------------------------------------------------


class LoadBalancerCreate(_Owned):
    vip_address: str | None = None
    vip_port_id: str | None = None
    vip_subnet_id: str | None = None
    vip_network_id: str | None = None
    vip_qos_policy_id: str | None = None
    provider: str | None = None
    flavor_id: str | None = None
    availability_zone: str | None = None
    # Octavia's "fully populated load balancer": its tree in one request.
    listeners: list[ListenerSingle] | None = None
    pools: list[PoolSingle] | None = None


class LoadBalancerCreateBody(Schema):
    loadbalancer: LoadBalancerCreate


class LoadBalancerUpdate(_Common):
    vip_qos_policy_id: str | None = None


class LoadBalancerUpdateBody(Schema):
    loadbalancer: LoadBalancerUpdate


class CascadeQuery(Query):
    cascade: bool = False


class FilterQuery(Query):
    """Any attribute as a filter (``?name=lb1``), and ``fields``."""

    model_config = ConfigDict(extra="allow")


# -- listeners ------------------------------------------------------------------------


class _ListenerFields(_Common):
    connection_limit: int | None = Field(None, ge=-1)
    default_pool_id: str | None = None
    timeout_client_data: int | None = Timeout
    timeout_member_connect: int | None = Timeout
    timeout_member_data: int | None = Timeout
    timeout_tcp_inspect: int | None = Timeout
    insert_headers: dict[Headers, Literal["true", "false", "True", "False"]] | None = None
    allowed_cidrs: list[str] | None = None
    default_tls_container_ref: None = None
    sni_container_refs: list[str] | None = Field(None, max_length=0)


class ListenerCreate(_Owned, _ListenerFields):
    loadbalancer_id: str
    protocol: ListenerProtocol
    protocol_port: int = Port


class ListenerCreateBody(Schema):
    listener: ListenerCreate


class ListenerUpdateBody(Schema):
    listener: _ListenerFields


# -- pools ----------------------------------------------------------------------------


class SessionPersistence(Schema):
    type: Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]
    cookie_name: str | None = Field(None, max_length=255, pattern=r"^[A-Za-z0-9_\-]+$")
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None


class _PoolFields(_Common):
    lb_algorithm: Algorithm | None = None
    session_persistence: SessionPersistence | None = None
    tls_enabled: Literal[False] | None = None


class PoolCreate(_Owned, _PoolFields):
    lb_algorithm: Algorithm
    protocol: PoolProtocol
    listener_id: str | None = None
    loadbalancer_id: str | None = None


class PoolCreateBody(Schema):
    pool: PoolCreate


class PoolUpdateBody(Schema):
    pool: _PoolFields


# -- members --------------------------------------------------------------------------


class _MemberFields(_Common):
    weight: int | None = Field(None, ge=0, le=256)
    backup: bool | None = None
    monitor_address: str | None = None
    monitor_port: int | None = Field(None, ge=1, le=65535)


class MemberCreate(_Owned, _MemberFields):
    address: str = Field(max_length=64)
    protocol_port: int = Port
    subnet_id: str | None = None


class MemberCreateBody(Schema):
    member: MemberCreate


class MemberUpdateBody(Schema):
    member: _MemberFields


class MembersReplaceBody(Schema):
    members: list[MemberCreate]


# -- health monitors ------------------------------------------------------------------


class _MonitorFields(_Common):
    delay: int | None = Field(None, ge=0, le=2**31 - 1)
    timeout: int | None = Field(None, ge=0, le=2**31 - 1)
    max_retries: int | None = Field(None, ge=1, le=10)
    max_retries_down: int | None = Field(None, ge=1, le=10)
    http_method: HttpMethod | None = None
    url_path: str | None = Field(None, max_length=2048)
    expected_codes: str | None = Field(None, max_length=64)
    http_version: float | None = Field(None, ge=1.0, le=1.1)
    domain_name: str | None = Field(None, max_length=255)


class MonitorCreate(_Owned, _MonitorFields):
    pool_id: str
    type: MonitorType
    delay: int = Field(ge=0, le=2**31 - 1)
    timeout: int = Field(ge=0, le=2**31 - 1)
    max_retries: int = Field(ge=1, le=10)


class MonitorCreateBody(Schema):
    healthmonitor: MonitorCreate


class MonitorUpdateBody(Schema):
    healthmonitor: _MonitorFields


# -- L7 -------------------------------------------------------------------------------


class _PolicyFields(_Common):
    action: PolicyAction | None = None
    position: int | None = Field(None, ge=1, le=2**31 - 1)
    redirect_pool_id: str | None = None
    redirect_url: str | None = Field(None, max_length=2048, pattern=r"^https?://")
    redirect_prefix: str | None = Field(None, max_length=2048, pattern=r"^https?://")
    redirect_http_code: int | None = None


class PolicyCreate(_Owned, _PolicyFields):
    listener_id: str
    action: PolicyAction


class PolicyCreateBody(Schema):
    l7policy: PolicyCreate


class PolicyUpdateBody(Schema):
    l7policy: _PolicyFields


class _RuleFields(_Attrs):
    admin_state_up: bool | None = None
    tags: list[str] | None = None
    type: RuleType | None = None
    compare_type: CompareType | None = None
    key: str | None = Field(None, max_length=255)
    value: str | None = Field(None, min_length=1, max_length=255)
    invert: bool | None = None


class RuleCreate(_RuleFields):
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)
    type: RuleType
    compare_type: CompareType
    value: str = Field(min_length=1, max_length=255)


class RuleCreateBody(Schema):
    rule: RuleCreate


class RuleUpdateBody(Schema):
    rule: _RuleFields


# -- quotas ---------------------------------------------------------------------------

QuotaValue = Field(None, ge=-1, le=2**31 - 1)


class QuotaFields(Schema):
    loadbalancer: int | None = QuotaValue
    load_balancer: int | None = QuotaValue
    listener: int | None = QuotaValue
    pool: int | None = QuotaValue
    member: int | None = QuotaValue
    healthmonitor: int | None = QuotaValue
    health_monitor: int | None = QuotaValue
    l7policy: int | None = QuotaValue
    l7rule: int | None = QuotaValue


class QuotaUpdateBody(Schema):
    quota: QuotaFields


# -- the tree in one request (Octavia's "single create" types) --------------------------
# A pool is named: a listener's default_pool or a policy's redirect_pool
# holding only a name refers to one of the load balancer's pools.


class MonitorSingle(_Owned, _MonitorFields):
    type: MonitorType
    delay: int = Field(ge=0, le=2**31 - 1)
    timeout: int = Field(ge=0, le=2**31 - 1)
    max_retries: int = Field(ge=1, le=10)


class PoolSingle(_Owned, _PoolFields):
    protocol: PoolProtocol | None = None
    members: list[MemberCreate] | None = None
    healthmonitor: MonitorSingle | None = None


class PolicySingle(_Owned, _PolicyFields):
    action: PolicyAction
    redirect_pool: PoolSingle | None = None
    rules: list[RuleCreate] | None = None


class ListenerSingle(_Owned, _ListenerFields):
    protocol: ListenerProtocol
    protocol_port: int = Port
    default_pool: PoolSingle | None = None
    l7policies: list[PolicySingle] | None = None


LoadBalancerCreate.model_rebuild()


class MembersQuery(Query):
    additive_only: bool = False


# -- flavors --------------------------------------------------------------------------


class FlavorProfileCreate(_Attrs):
    name: str = Field(max_length=255)
    provider_name: str = Field(max_length=64)
    flavor_data: str = Field(max_length=4096)


class FlavorProfileCreateBody(Schema):
    flavorprofile: FlavorProfileCreate


class FlavorProfileUpdate(_Attrs):
    name: str | None = Field(None, max_length=255)
    provider_name: str | None = Field(None, max_length=64)
    flavor_data: str | None = Field(None, max_length=4096)


class FlavorProfileUpdateBody(Schema):
    flavorprofile: FlavorProfileUpdate


class FlavorCreate(_Attrs):
    name: str = Field(max_length=255)
    description: str | None = Field(None, max_length=255)
    flavor_profile_id: str = Field(max_length=36)
    enabled: bool | None = None


class FlavorCreateBody(Schema):
    flavor: FlavorCreate


class FlavorUpdate(_Attrs):
    name: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=255)
    enabled: bool | None = None


class FlavorUpdateBody(Schema):
    flavor: FlavorUpdate
