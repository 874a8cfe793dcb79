"""The HAProxy configuration of one load balancer, rendered from its spec:
a frontend per listener (with its L7 policies as ACLs), a backend per pool
(balance, session persistence, health monitor, members), and the global
limits (``maxconn`` from the open files limit)."""

from __future__ import annotations

from stratus.loadbalancer.drivers.base import (
    ListenerSpec,
    LoadBalancerSpec,
    PolicySpec,
    PoolSpec,
    RuleSpec,
)

_ALGORITHMS = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn", "SOURCE_IP": "source"}


def _ms(value: int) -> str:
    return f"{max(int(value), 0)}ms"


def _codes(expected: str) -> str:
    """Octavia's expected codes ("200", "200,202", "200-204") as HAProxy's
    ``http-check expect`` argument."""
    expected = expected.strip()
    if expected.isdigit():
        return f"status {expected}"
    codes: list[str] = []
    for part in expected.split(","):
        if "-" in part:
            low, high = (int(x) for x in part.split("-", 1))
            codes.extend(str(c) for c in range(low, high + 1))
        else:
            codes.append(part.strip())
    return f"rstatus ^({'|'.join(codes)})$"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ").replace('"', '\\"')


def _acl(rule: RuleSpec) -> str:
    """One L7 rule as an HAProxy ACL expression (without its name)."""
    fetch = {
        "PATH": "path",
        "HOST_NAME": "req.hdr(host),field(1,:)",
        "HEADER": f"req.hdr({rule.key})",
        "COOKIE": f"req.cook({rule.key})",
        "FILE_TYPE": "path,field(-1,.)",
    }[rule.type]
    match = {
        "REGEX": "-m reg",
        "STARTS_WITH": "-m beg",
        "ENDS_WITH": "-m end",
        "CONTAINS": "-m sub",
        "EQUAL_TO": "-m str",
    }[rule.compare_type]
    return f"{fetch} {match} {_quote(rule.value)}"


def _policy_lines(policy: PolicySpec, pools: set[str]) -> list[str]:
    names = []
    lines = []
    for rule in policy.rules:
        name = f"r_{rule.id}"
        lines.append(f"    acl {name} {_acl(rule)}")
        names.append(("!" if rule.invert else "") + name)
    if not names:
        return []  # Octavia: a policy without rules matches nothing
    cond = " ".join(names)
    if policy.action == "REJECT":
        lines.append(f"    http-request deny if {cond}")
    elif policy.action == "REDIRECT_TO_URL" and policy.redirect_url:
        code = policy.redirect_http_code or 302
        lines.append(f"    redirect location {_quote(policy.redirect_url)} code {code} if {cond}")
    elif policy.action == "REDIRECT_PREFIX" and policy.redirect_prefix:
        code = policy.redirect_http_code or 302
        lines.append(f"    redirect prefix {_quote(policy.redirect_prefix)} code {code} if {cond}")
    elif policy.action == "REDIRECT_TO_POOL" and policy.redirect_pool_id in pools:
        lines.append(f"    use_backend {policy.redirect_pool_id} if {cond}")
    return lines


def _frontend(spec: LoadBalancerSpec, listener: ListenerSpec, pools: set[str]) -> list[str]:
    http = listener.protocol == "HTTP"
    lines = [
        f"frontend {listener.id}",
        f"    bind {spec.vip_address}:{listener.protocol_port}",
        f"    mode {'http' if http else 'tcp'}",
        f"    timeout client {_ms(listener.timeout_client_data)}",
    ]
    if listener.connection_limit >= 0:
        lines.append(f"    maxconn {listener.connection_limit}")
    if listener.allowed_cidrs:
        lines.append(f"    acl allowed src {' '.join(listener.allowed_cidrs)}")
        lines.append("    tcp-request connection reject unless allowed")
    if http:
        # Soft-stopped by a reload, an old process closes a client's idle
        # keep-alive connection only after answering on it: no request lost.
        lines.append("    option idle-close-on-response")
        headers = {k.lower(): str(v).lower() for k, v in listener.insert_headers.items()}
        if headers.get("x-forwarded-for") == "true":
            lines.append("    option forwardfor")
        if headers.get("x-forwarded-port") == "true":
            lines.append("    http-request set-header X-Forwarded-Port %[dst_port]")
        if headers.get("x-forwarded-proto") == "true":
            lines.append("    http-request set-header X-Forwarded-Proto http")
        for policy in sorted(listener.policies, key=lambda p: p.position):
            lines.extend(_policy_lines(policy, pools))
    elif listener.timeout_tcp_inspect:
        lines.append(f"    tcp-request inspect-delay {_ms(listener.timeout_tcp_inspect)}")
    if listener.default_pool_id in pools:
        lines.append(f"    default_backend {listener.default_pool_id}")
    if not listener.admin_state_up:
        lines.append("    disabled")
    return lines


def _backend(pool: PoolSpec, ping_script: str) -> list[str]:
    http = pool.protocol == "HTTP"
    lines = [
        f"backend {pool.id}",
        f"    mode {'http' if http else 'tcp'}",
        f"    balance {_ALGORITHMS.get(pool.lb_algorithm, 'roundrobin')}",
        f"    timeout connect {_ms(pool.member_connect_timeout)}",
        f"    timeout server {_ms(pool.member_data_timeout)}",
    ]
    if http:
        lines.append("    http-reuse always")
    persistence = pool.session_persistence or {}
    kind = persistence.get("type")
    cookie = False
    if kind == "SOURCE_IP":
        lines += ["    stick-table type ip size 10k expire 30m", "    stick on src"]
    elif kind == "HTTP_COOKIE" and http:
        lines.append("    cookie SRV insert indirect nocache")
        cookie = True
    elif kind == "APP_COOKIE" and http and persistence.get("cookie_name"):
        name = persistence["cookie_name"]
        lines += [
            "    stick-table type string len 64 size 10k expire 30m",
            f"    stick store-response res.cook({name})",
            f"    stick match req.cook({name})",
        ]
    monitor = pool.monitor if pool.monitor and pool.monitor.admin_state_up else None
    check = ""
    if monitor is not None:
        lines.append(f"    timeout check {monitor.timeout}s")
        if monitor.type in ("HTTP", "HTTPS"):
            lines.append(f"    option httpchk {monitor.http_method} {monitor.url_path}")
            lines.append(f"    http-check expect {_codes(monitor.expected_codes)}")
        elif monitor.type == "PING":
            lines += ["    option external-check", f"    external-check command {ping_script}"]
        rise, fall = monitor.max_retries, monitor.max_retries_down
        check = f" check inter {monitor.delay}s fall {fall} rise {rise}"
        if monitor.type == "HTTPS":
            check += " check-ssl verify none"
    for member in pool.members:
        line = (
            f"    server {member.id} {member.address}:{member.protocol_port} weight {member.weight}"
        )
        if member.backup:
            line += " backup"
        if check:
            line += check
            if member.monitor_address:
                line += f" addr {member.monitor_address}"
            if member.monitor_port:
                line += f" port {member.monitor_port}"
        if cookie:
            line += f" cookie {member.id}"
        if not member.admin_state_up:
            line += " disabled"
        lines.append(line)
    return lines


def max_connections() -> int:
    """HAProxy's global maxconn: what the open files limit allows (each
    connection holds two descriptors), at most Octavia's 50000."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 50000
    return max(256, min(50000, (hard - 200) // 2))


def render(
    spec: LoadBalancerSpec,
    socket_path: str,
    ping_script: str = "/bin/true",
    maxconn: int = 50000,
) -> str:
    """The HAProxy configuration of one load balancer."""
    pools = {p.id for p in spec.pools if p.admin_state_up}
    external = any(
        p.monitor is not None and p.monitor.type == "PING" for p in spec.pools if p.admin_state_up
    )
    out = [
        "# Rendered by the Stratus lb agent from the database: do not edit.",
        "global",
        f"    maxconn {maxconn}",
        f"    stats socket {socket_path} mode 600 level admin expose-fd listeners",
        "    hard-stop-after 60s",
        # One thread: on a small host the kernel's share of each proxied
        # request (two hops through the bridge) wants the other core.
        "    nbthread 1",
    ]
    if external:
        out += ["    external-check", "    insecure-fork-wanted"]
    out += [
        "",
        "defaults",
        "    retries 3",
        "    option redispatch",
        "    timeout connect 5s",
        "    timeout client 50s",
        "    timeout server 50s",
        "",
    ]
    if spec.admin_state_up:
        for listener in spec.listeners:
            out += _frontend(spec, listener, pools) + [""]
        for pool in spec.pools:
            if pool.admin_state_up:
                out += _backend(pool, ping_script) + [""]
    return "\n".join(out) + "\n"
