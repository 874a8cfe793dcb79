"""HAProxy's configuration rendered from a load balancer's tree: what each
Octavia option becomes, and that HAProxy itself accepts it (``haproxy -c``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stratus.loadbalancer.drivers.base import (
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    MonitorSpec,
    PolicySpec,
    PoolSpec,
    RuleSpec,
)
from stratus.loadbalancer.drivers.haproxy import parse_stats
from stratus.loadbalancer.drivers.haproxy_config import render

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)


def tree() -> LoadBalancerSpec:
    web = PoolSpec(
        id="pool-web",
        protocol="HTTP",
        lb_algorithm="ROUND_ROBIN",
        session_persistence={"type": "HTTP_COOKIE"},
        members=(
            MemberSpec("m1", "10.0.0.11", 8000, weight=3),
            MemberSpec("m2", "10.0.0.12", 8000, backup=True, monitor_port=9000),
            MemberSpec("m3", "10.0.0.13", 8000, admin_state_up=False),
        ),
        monitor=MonitorSpec("hm", "HTTP", delay=2, timeout=1, max_retries=2,
                            max_retries_down=3, url_path="/health", expected_codes="200-202"),
        member_connect_timeout=3000,
    )  # fmt: skip
    static = PoolSpec(
        id="pool-static",
        protocol="HTTP",
        lb_algorithm="SOURCE_IP",
        session_persistence={"type": "SOURCE_IP"},
        members=(MemberSpec("s1", "10.0.0.21", 80),),
        monitor=MonitorSpec("hm2", "PING", delay=5, timeout=2, max_retries=3, max_retries_down=3),
    )
    tcp = PoolSpec(id="pool-tcp", protocol="TCP", lb_algorithm="LEAST_CONNECTIONS",
                   members=(MemberSpec("t1", "10.0.0.31", 5432),))  # fmt: skip
    http = ListenerSpec(
        id="lst-http",
        protocol="HTTP",
        protocol_port=80,
        connection_limit=100,
        default_pool_id="pool-web",
        insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Proto": "true"},
        allowed_cidrs=("10.0.0.0/24", "192.0.2.0/24"),
        policies=(
            PolicySpec("p-reject", "REJECT", 2,
                       rules=(RuleSpec("r2", "HEADER", "EQUAL_TO", "evil", key="X-Bad"),)),
            PolicySpec("p-static", "REDIRECT_TO_POOL", 1, redirect_pool_id="pool-static",
                       rules=(RuleSpec("r1", "PATH", "STARTS_WITH", "/static"),)),
            PolicySpec("p-url", "REDIRECT_TO_URL", 3, redirect_url="https://example.org/",
                       redirect_http_code=301,
                       rules=(RuleSpec("r3", "HOST_NAME", "ENDS_WITH", ".old", invert=True),)),
            PolicySpec("p-empty", "REJECT", 4),
        ),
    )  # fmt: skip
    raw = ListenerSpec(id="lst-tcp", protocol="TCP", protocol_port=5432, default_pool_id="pool-tcp")
    return LoadBalancerSpec(id="lb", vip_address="10.0.0.5", vip_port_id="port",
                            listeners=(http, raw), pools=(web, static, tcp))  # fmt: skip


def test_each_option_becomes_haproxys_directive() -> None:
    text = render(tree(), "/run/x.sock", "/state/ping-check", maxconn=1000)
    lines = [line.strip() for line in text.splitlines()]
    assert "maxconn 1000" in lines
    assert "stats socket /run/x.sock mode 600 level admin expose-fd listeners" in lines
    assert "bind 10.0.0.5:80" in lines and "bind 10.0.0.5:5432" in lines
    assert "maxconn 100" in lines  # the listener's connection limit
    assert "acl allowed src 10.0.0.0/24 192.0.2.0/24" in lines
    assert "option forwardfor" in lines
    assert "http-request set-header X-Forwarded-Proto http" in lines
    assert (
        "balance roundrobin" in lines and "balance source" in lines and "balance leastconn" in lines
    )
    assert "cookie SRV insert indirect nocache" in lines
    assert "stick on src" in lines
    assert "option httpchk GET /health" in lines
    assert "http-check expect rstatus ^(200|201|202)$" in lines
    assert "external-check command /state/ping-check" in lines
    assert "timeout connect 3000ms" in lines
    server = next(x for x in lines if x.startswith("server m1 "))
    assert server.startswith("server m1 10.0.0.11:8000 weight 3 check inter 2s fall 3 rise 2")
    assert "cookie m1" in server
    assert " backup" in next(x for x in lines if x.startswith("server m2 "))
    assert "port 9000" in next(x for x in lines if x.startswith("server m2 "))
    assert next(x for x in lines if x.startswith("server m3 ")).endswith(" disabled")
    # L7 policies in order of position; a policy without rules matches nothing.
    static, reject = (
        lines.index("use_backend pool-static if r_r1"),
        lines.index("http-request deny if r_r2"),
    )
    assert static < reject
    assert "acl r_r2 req.hdr(X-Bad) -m str evil" in lines
    assert "redirect location https://example.org/ code 301 if !r_r3" in lines
    assert not any("p-empty" in x for x in lines)
    assert lines.index("default_backend pool-web") > reject


def test_a_load_balancer_switched_off_serves_nothing() -> None:
    from dataclasses import replace

    text = render(replace(tree(), admin_state_up=False), "/run/x.sock")
    assert "frontend" not in text and "backend" not in text


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    assert HAPROXY is not None
    ping = tmp_path / "ping-check"
    ping.write_text("#!/bin/sh\nexit 0\n")
    ping.chmod(0o755)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render(tree(), str(tmp_path / "s.sock"), str(ping), maxconn=1000))
    proc = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


STATS = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code
lst-http,FRONTEND,,,2,5,100,42,1000,9000,0,0,1,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,5,,
pool-web,m1,0,0,1,2,,20,500,4000,,0,,0,0,0,0,UP,3,1,0,0,0,10,0,,1,3,1,,20,,2,0,,2,L7OK,200
pool-web,m2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/3,1,0,1,1,1,10,10,,1,3,2,,0,,2,0,,0,L4CON,
pool-tcp,t1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,,,,,,1,4,1,,0,,2,0,,0,,
pool-web,BACKEND,0,0,1,2,,20,500,4000,0,0,,0,0,0,0,UP,4,1,1,,0,10,0,,1,3,0,,20,,1,0,,2,,
"""


def test_stats_become_health_and_counters() -> None:
    health = parse_stats(STATS)
    assert health.running
    servers = {s.member_id: s for s in health.servers}
    assert set(servers) == {"m1", "m2", "t1"}
    assert (servers["m1"].status, servers["m1"].checked) == ("UP", True)
    assert servers["m2"].status == "DOWN"
    assert (servers["t1"].status, servers["t1"].checked) == ("no", False)
    (listener,) = health.listeners
    assert (listener.listener_id, listener.active_connections, listener.total_connections) == (
        "lst-http", 2, 42
    )  # fmt: skip
    assert (listener.bytes_in, listener.bytes_out, listener.request_errors) == (1000, 9000, 1)
