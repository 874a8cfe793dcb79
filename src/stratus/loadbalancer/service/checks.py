"""The rules an object of a load balancer's tree is checked against when
it is made or changed (what the HAProxy provider supports, Octavia's
protocol matrix, one health monitor per pool, members on a subnet's
network...): one ``check`` per kind, given the object as it would be."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.loadbalancer import models as m
from stratus.loadbalancer.errors import (
    DuplicateHealthMonitor,
    DuplicateListener,
    DuplicateMember,
    InvalidOption,
    ValidationException,
)
from stratus.loadbalancer.service.core import Core
from stratus.loadbalancer.service.vip import VipNetworking

# Which pool protocols each listener protocol takes (Octavia's matrix, for HAProxy).
POOL_PROTOCOLS = {"HTTP": {"HTTP", "PROXY"}, "TCP": {"TCP", "HTTP", "HTTPS", "PROXY"},
                  "HTTPS": {"HTTPS", "TCP", "PROXY"}}  # fmt: skip


class ObjectChecks:
    def __init__(self, core: Core, vips: VipNetworking | None):
        self.core = core
        self.vips = vips

    async def check(
        self, s: AsyncSession, ctx: RequestContext, kind: str, row: Any, lb: m.LoadBalancer,
        *, creating: bool,
    ) -> None:  # fmt: skip
        check: Callable[..., Awaitable[None]] = getattr(self, f"_check_{kind}")
        await check(s, ctx, row, lb)

    async def _check_listener(
        self, s: AsyncSession, ctx: RequestContext, row: m.Listener, lb: m.LoadBalancer
    ) -> None:
        if row.protocol in ("UDP", "SCTP", "TERMINATED_HTTPS", "PROMETHEUS"):
            raise InvalidOption(
                f"Provider 'haproxy' does not support a requested option: {row.protocol} "
                "listeners are not supported."
            )
        if row.insert_headers and row.protocol != "HTTP":
            raise InvalidOption("The insert_headers option is only available for HTTP listeners.")
        for cidr in row.allowed_cidrs or []:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValidationException(f"Invalid CIDR: {cidr}") from None
        same = await s.scalar(
            select(m.Listener.id).where(
                m.Listener.loadbalancer_id == lb.id,
                m.Listener.protocol_port == row.protocol_port,
                m.Listener.id != (row.id or ""),
                m.Listener.provisioning_status != m.DELETED,
            )
        )
        if same is not None:
            raise DuplicateListener(row.protocol, row.protocol_port)
        if row.default_pool_id:
            pool = await self.core.load(s, ctx, "pool", row.default_pool_id)
            if pool.loadbalancer_id != lb.id:
                raise InvalidOption(f"Pool {pool.id} is not on load balancer {lb.id}.")
            self._protocols(row.protocol, pool.protocol)

    @staticmethod
    def _protocols(listener: str, pool: str) -> None:
        if pool not in POOL_PROTOCOLS.get(listener, {listener}):
            raise ValidationException(
                f"The pool protocol '{pool}' is invalid while the listener protocol is "
                f"'{listener}'."
            )

    async def _check_pool(
        self, s: AsyncSession, ctx: RequestContext, row: m.Pool, lb: m.LoadBalancer
    ) -> None:
        if row.lb_algorithm not in ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"):
            raise InvalidOption(
                "Provider 'haproxy' does not support a requested option: "
                f"lb_algorithm {row.lb_algorithm}"
            )
        sp = row.session_persistence
        if sp:
            if sp.get("type") == "APP_COOKIE" and not sp.get("cookie_name"):
                raise ValidationException("A cookie_name is required with APP_COOKIE persistence.")
            if sp.get("type") != "APP_COOKIE" and sp.get("cookie_name"):
                raise ValidationException(
                    "Field 'cookie_name' can only be set with APP_COOKIE persistence."
                )
            if sp.get("type") in ("HTTP_COOKIE", "APP_COOKIE") and row.protocol not in ("HTTP",):
                raise ValidationException(f"{sp['type']} persistence needs an HTTP pool.")
        listeners = await s.scalars(select(m.Listener).where(m.Listener.default_pool_id == row.id))
        for listener in listeners:
            self._protocols(listener.protocol, row.protocol)

    async def _check_member(
        self, s: AsyncSession, ctx: RequestContext, row: m.Member, lb: m.LoadBalancer
    ) -> None:
        try:
            address = ipaddress.ip_address(row.address)
        except ValueError:
            raise ValidationException(f"Invalid IP address: {row.address}") from None
        if row.monitor_address:
            try:
                ipaddress.ip_address(row.monitor_address)
            except ValueError:
                raise ValidationException(f"Invalid IP address: {row.monitor_address}") from None
        if row.subnet_id and self.vips is not None:
            network, cidr = await self.vips.subnet(ctx, row.subnet_id)
            if address not in ipaddress.ip_network(cidr):
                raise ValidationException(
                    f"Member address {row.address} is not in subnet {row.subnet_id}."
                )
            if network != lb.vip_network_id:
                raise InvalidOption(
                    f"Subnet {row.subnet_id} is not reachable from load balancer {lb.id}: "
                    f"its VIP is on network {lb.vip_network_id}, the subnet on {network}."
                )
        same = await s.scalar(
            select(m.Member.id).where(
                m.Member.pool_id == row.pool_id,
                m.Member.address == row.address,
                m.Member.protocol_port == row.protocol_port,
                m.Member.id != (row.id or ""),
            )
        )
        if same is not None:
            raise DuplicateMember(row.address, row.protocol_port)

    async def _check_healthmonitor(
        self, s: AsyncSession, ctx: RequestContext, row: m.HealthMonitor, lb: m.LoadBalancer
    ) -> None:
        same = await s.scalar(
            select(m.HealthMonitor.id).where(
                m.HealthMonitor.pool_id == row.pool_id, m.HealthMonitor.id != (row.id or "")
            )
        )
        if same is not None:
            raise DuplicateHealthMonitor()
        if row.type in ("UDP-CONNECT", "SCTP", "TLS-HELLO"):
            raise InvalidOption(
                f"Provider 'haproxy' does not support a requested option: {row.type} monitors"
            )
        if row.timeout > row.delay:
            raise ValidationException("The health monitor timeout must not exceed its delay.")
        http = row.type in ("HTTP", "HTTPS")
        if not http:
            for key in ("http_method", "url_path", "expected_codes"):
                if getattr(row, key) not in (None, ""):
                    raise InvalidOption(
                        f"{key} is not a valid option for health monitors of type {row.type}"
                    )
        else:
            row.http_method = row.http_method or "GET"
            row.url_path = row.url_path or "/"
            row.expected_codes = row.expected_codes or "200"
            if not row.url_path.startswith("/"):
                raise ValidationException("url_path must start with /")
            _expected_codes(row.expected_codes)

    async def _check_l7policy(
        self, s: AsyncSession, ctx: RequestContext, row: m.L7Policy, lb: m.LoadBalancer
    ) -> None:
        listener = await s.get(m.Listener, row.listener_id)
        if listener is not None and listener.protocol != "HTTP":
            raise InvalidOption("L7 policies are only available on HTTP listeners.")
        need = {"REDIRECT_TO_POOL": "redirect_pool_id", "REDIRECT_TO_URL": "redirect_url",
                "REDIRECT_PREFIX": "redirect_prefix"}.get(row.action)  # fmt: skip
        if need and not getattr(row, need):
            raise ValidationException(f"{need} is required with action {row.action}.")
        if row.redirect_pool_id:
            pool = await self.core.load(s, ctx, "pool", row.redirect_pool_id)
            if pool.loadbalancer_id != lb.id:
                raise InvalidOption(f"Pool {pool.id} is not on load balancer {lb.id}.")
        if row.redirect_http_code not in (None, 301, 302, 303, 307, 308):
            raise ValidationException("redirect_http_code must be one of 301, 302, 303, 307, 308.")

    async def _check_l7rule(
        self, s: AsyncSession, ctx: RequestContext, row: m.L7Rule, lb: m.LoadBalancer
    ) -> None:
        if row.type in ("HEADER", "COOKIE") and not row.key:
            raise ValidationException(f"A key is required for {row.type} rules.")
        if row.type not in ("HEADER", "COOKIE") and row.key:
            raise ValidationException(f"A key is not allowed for {row.type} rules.")
        if any(c in row.value for c in "\n\r") or (row.key and " " in row.key):
            raise ValidationException("The rule's value or key holds forbidden characters.")


def _expected_codes(text: str) -> None:
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            codes = [int(low)] + ([int(high)] if high else [])
            if any(not 100 <= c <= 599 for c in codes) or (high and int(high) < int(low)):
                raise ValueError
    except ValueError:
        raise ValidationException(f"Invalid expected_codes: {text}") from None
