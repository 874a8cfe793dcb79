"""The request path's observability: one access-log line per request with its
id, project and user; the request id in every log line the request causes;
metrics labelled by route template; /metrics readable from loopback only or
with an admin token."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route

from stratus.common import logs
from stratus.common import metrics as metrics_mod
from stratus.common.api import ApiRequest, NoBody, NoQuery, ServiceAPI, json_response
from stratus.common.api import Route as ApiRoute
from stratus.common.context import RequestContext
from stratus.common.errors import BadRequest, StratusError, Unauthorized
from stratus.common.middleware import RequestIdMiddleware
from stratus.common.policy import Enforcer


class Validator:
    async def validate(self, token: str, request_id: str) -> RequestContext:
        if token == "admin":
            return RequestContext(request_id, user_id="u-admin", project_id="p-admin", roles=("admin",))
        if token == "member":
            return RequestContext(request_id, user_id="u-1", project_id="p-1", roles=("member",))
        raise Unauthorized()


async def show(req: ApiRequest) -> Response:
    logging.getLogger("test.handler").info("showing %s", req.params["thing_id"])
    return json_response({"thing": req.params["thing_id"]})


def render(exc: StratusError) -> Response:
    return json_response({"error": {"code": exc.status, "message": exc.message}}, exc.status)


def build(access: str = "loopback", client: tuple[str, int] = ("127.0.0.1", 5000)) -> httpx.AsyncClient:
    api = ServiceAPI(
        name="things",
        routes=[ApiRoute("GET", "/v1/things/{thing_id}", show, body=NoBody, query=NoQuery)],
        service=None,
        renderer=render,
        validator=Validator(),
        enforcer=Enforcer({}),
        base_url="http://x/things",
    )
    metrics = metrics_mod.Metrics("primary")
    mounts = [
        Mount("/things", api.asgi()),
        Route("/metrics", metrics_mod.endpoint(metrics, Validator(), access), methods=["GET"]),
    ]
    app = RequestIdMiddleware(
        Starlette(routes=mounts),
        access_log=logs.AccessLog(True),
        metrics=metrics.http,
        services={"things": "things", "metrics": "metrics"},
    )
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://x")


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.handler.addFilter(logs.RequestIdFilter())
    caplog.set_level(logging.INFO)
    return caplog


async def test_one_access_line_per_request_with_its_id_project_and_user(records: Any) -> None:
    async with build() as c:
        resp = await c.get("/things/v1/things/t-1?x=1", headers={"X-Auth-Token": "member"})
    assert resp.status_code == 200
    request_id = resp.headers["x-openstack-request-id"]
    access = [r for r in records.records if r.name == logs.ACCESS_LOGGER]
    assert len(access) == 1
    line = access[0].getMessage()
    assert '"GET /things/v1/things/t-1?x=1" 200' in line
    assert f" {len(resp.content)} " in line
    assert "project=p-1 user=u-1" in line
    assert access[0].request_id == request_id
    handler_line = next(r for r in records.records if r.name == "test.handler")
    assert handler_line.request_id == request_id


async def test_the_access_log_can_be_turned_off(records: Any) -> None:
    app = RequestIdMiddleware(Starlette(routes=[]), access_log=logs.AccessLog(False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
        assert (await c.get("/nothing")).status_code == 404
    assert not [r for r in records.records if r.name == logs.ACCESS_LOGGER]


async def test_metrics_name_the_route_template_never_the_raw_path() -> None:
    labels = {"service": "things", "route": "/v1/things/{thing_id}", "method": "GET", "status": "401"}
    before = REGISTRY.get_sample_value("stratus_http_requests_total", labels) or 0
    async with build() as c:
        for n in range(3):
            assert (await c.get(f"/things/v1/things/t-{n}")).status_code == 401
        unmatched = await c.get("/things/v1/elsewhere/secret-name")
        assert unmatched.status_code == 404
        text = (await c.get("/metrics")).text
    assert REGISTRY.get_sample_value("stratus_http_requests_total", labels) == before + 3
    assert "secret-name" not in text and "t-1" not in text
    assert 'route="unmatched"' in text
    assert "stratus_http_request_duration_seconds_bucket" in text
    assert "stratus_process_resident_memory_bytes" in text


@pytest.mark.parametrize(
    ("access", "client", "token", "status"),
    [
        ("loopback", ("127.0.0.1", 1), None, 200),
        ("loopback", ("::1", 1), None, 200),
        ("loopback", ("192.0.2.7", 1), None, 401),
        ("loopback", ("192.0.2.7", 1), "member", 403),
        ("loopback", ("192.0.2.7", 1), "admin", 200),
        ("loopback", ("192.0.2.7", 1), "forged", 401),
        ("token", ("127.0.0.1", 1), None, 401),
        ("token", ("127.0.0.1", 1), "admin", 200),
    ],
)
async def test_who_may_read_the_metrics(
    access: str, client: tuple[str, int], token: str | None, status: int
) -> None:
    headers = {"X-Auth-Token": token} if token else {}
    async with build(access, client) as c:
        resp = await c.get("/metrics", headers=headers)
    assert resp.status_code == status, resp.text
    if status == 200:
        assert resp.headers["content-type"].startswith("text/plain")


async def test_resource_gauges_come_from_their_services_and_a_broken_one_is_skipped() -> None:
    metrics = metrics_mod.Metrics("primary")

    async def things() -> list[metrics_mod.GaugeFamily]:
        fam = metrics_mod.GaugeFamily("stratus_test_things", "Things.", ("state",))
        fam.samples.append((("shiny",), 3.0))
        return [fam]

    async def broken() -> list[metrics_mod.GaugeFamily]:
        raise BadRequest("no")

    metrics.add_gauges("broken", broken)
    metrics.add_gauges("things", things)
    text = (await metrics.render()).decode()
    assert 'stratus_test_things{state="shiny"} 3.0' in text


def test_batched_observations_equal_observe() -> None:
    """The recorder's added-up observations land where Histogram.observe puts them."""
    from prometheus_client import CollectorRegistry, Histogram

    registry = CollectorRegistry()
    reference = Histogram("ref_seconds", "r", ["x"], buckets=metrics_mod.LATENCY_BUCKETS, registry=registry)
    batched = Histogram("bat_seconds", "b", ["x"], buckets=metrics_mod.LATENCY_BUCKETS, registry=registry)
    values = [0.0004, 0.001, 0.003, 0.02, 0.7, 3.0, 45.0, 0.001]
    bounds = (*metrics_mod.LATENCY_BUCKETS, float("inf"))
    counts = [0] * len(bounds)
    import bisect

    for v in values:
        reference.labels("a").observe(v)
        counts[bisect.bisect_left(bounds, v)] += 1
    metrics_mod._add_to_histogram(batched.labels("a"), sum(values), counts)
    for suffix in ("_count", "_sum"):
        assert registry.get_sample_value(f"bat_seconds{suffix}", {"x": "a"}) == pytest.approx(
            registry.get_sample_value(f"ref_seconds{suffix}", {"x": "a"})
        )
    for le in ("0.001", "0.005", "1.0", "+Inf"):
        assert registry.get_sample_value("bat_seconds_bucket", {"x": "a", "le": le}) == registry.get_sample_value(
            "ref_seconds_bucket", {"x": "a", "le": le}
        )


def test_the_fast_access_log_writes_what_the_formatter_would(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    stream = io.StringIO()
    monkeypatch.setattr(logs, "_HANDLER", None)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.setup("INFO", stream=stream)
        access = logs.AccessLog(True)
        req = logs.Request("req-1", project="p", user="u")
        scope = {"client": ("10.0.0.1", 9), "raw_path": b"/a/b", "query_string": b"x=1", "method": "PUT"}
        access.write(scope, req, 201, 12, 0.5)  # no event loop: written at once
        with logs.acting_for("req-2"):
            logging.getLogger(logs.ACCESS_LOGGER).info("through logging")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    fast, slow = stream.getvalue().splitlines()
    assert fast.endswith(' INFO stratus.access [req-1] 10.0.0.1 "PUT /a/b?x=1" 201 12 0.5000s project=p user=u')
    # the same prefix as the handler's own lines: date, time with milliseconds
    assert fast[:24].count(":") == 2 and fast[19] == "," and len(fast.split(" INFO ")[0]) == len(slow.split(" INFO ")[0])
