"""The orchestration service's figures.

1. A stack of 50 resources without servers (10 networks, 10 subnets, 10
   ports, 5 volumes, 5 containers, 10 random strings): ``POST /stacks`` ->
   CREATE_COMPLETE (target < 10 s), beside the same calls made one by one
   from this script in the same run (the stack must be faster: the engine
   makes independent resources at once).
2. ``GET /stacks`` with 500 stacks in the project: p50 and p99 (target
   p50 < 200 ms).

Each figure comes with the CPU time of the cloud's process per operation.
Starts its own ``stratus up`` (SQLite, fake network data plane, file
volumes) in a temporary folder on 127.0.0.1.

    .venv/bin/python bench/orchestration.py [--stacks 500] [--lists 30]

With ``--app`` it runs bench/orchestration_app.py instead: the application
template (docs/examples/app.yaml) on a real cloud (root; its own options
follow ``--app``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ENV = {
    "STRATUS_SERVICES__ENABLED": '["identity", "network", "volume", "object-store", "orchestration"]',
    "STRATUS_NETWORK__DRIVER": "fake",
    "STRATUS_COMPUTE__DRIVER": "fake",
    "STRATUS_SERVER__WORKERS": "1",
    "STRATUS_LOGGING__ACCESS_LOG": "false",
}


def template(tag: str) -> dict[str, Any]:
    r: dict[str, Any] = {}
    for i in range(10):
        r[f"net{i}"] = {"type": "OS::Neutron::Net"}
        r[f"sub{i}"] = {"type": "OS::Neutron::Subnet", "properties": {
            "network": {"get_resource": f"net{i}"}, "cidr": f"10.{60 + i}.0.0/24"}}
        r[f"port{i}"] = {"type": "OS::Neutron::Port", "properties": {
            "network": {"get_resource": f"net{i}"},
            "fixed_ips": [{"subnet": {"get_resource": f"sub{i}"}}]}}
        r[f"rnd{i}"] = {"type": "OS::Heat::RandomString", "properties": {"length": 24}}
    for i in range(5):
        r[f"vol{i}"] = {"type": "OS::Cinder::Volume", "properties": {"size": 1}}
        r[f"box{i}"] = {"type": "OS::Swift::Container", "properties": {"name": f"{tag}-box{i}"}}
    return {"heat_template_version": "2018-08-31", "resources": r}  # fmt: skip


class Api:
    def __init__(self, server: h.Server) -> None:
        self.url = f"http://{h.HOST}:{server.port}"
        self.client = httpx.Client(timeout=120.0)
        tok, body = h.issue(self.client, server.base, h.password_body(server.password()))
        self.project = body["project"]["id"]
        self.client.headers["X-Auth-Token"] = tok
        self.heat = f"{self.url}/orchestration/v1/{self.project}"

    def ok(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 300:
            h.fail(f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else None

    def wait_stack(self, name: str, sid: str) -> dict[str, Any]:
        while True:
            st = self.ok(self.client.get(f"{self.heat}/stacks/{name}/{sid}",
                                         params={"resolve_outputs": "false"}))["stack"]  # fmt: skip
            if not st["stack_status"].endswith("IN_PROGRESS"):
                return st  # type: ignore[no-any-return]
            time.sleep(0.02)


def by_hand(api: Api, tag: str) -> list[tuple[str, str]]:
    """The template's resources made one call after another; what to delete."""
    import secrets

    made: list[tuple[str, str]] = []
    net = f"{api.url}/network/v2.0"
    vol = f"{api.url}/volume/v3/{api.project}"
    for i in range(10):
        n = api.ok(api.client.post(f"{net}/networks", json={"network": {"name": f"{tag}-n{i}"}}))
        s = api.ok(api.client.post(f"{net}/subnets", json={"subnet": {
            "network_id": n["network"]["id"], "cidr": f"10.{80 + i}.0.0/24", "ip_version": 4}}))
        api.ok(api.client.post(f"{net}/ports", json={"port": {
            "network_id": n["network"]["id"],
            "fixed_ips": [{"subnet_id": s["subnet"]["id"]}]}}))  # fmt: skip
        secrets.token_urlsafe(18)
        made.append(("net", n["network"]["id"]))
    for i in range(5):
        v = api.ok(api.client.post(f"{vol}/volumes", json={"volume": {"size": 1, "name": f"{tag}-v{i}"}}))
        while api.ok(api.client.get(f"{vol}/volumes/{v['volume']['id']}"))["volume"]["status"] != "available":
            time.sleep(0.02)
        made.append(("vol", v["volume"]["id"]))
        api.ok(api.client.put(f"{api.url}/v1/AUTH_{api.project}/{tag}-c{i}"))
        made.append(("box", f"{tag}-c{i}"))
    return made


def cleanup_by_hand(api: Api, made: list[tuple[str, str]]) -> None:
    net = f"{api.url}/network/v2.0"
    for kind, ident in made:
        if kind == "net":
            for p in api.ok(api.client.get(f"{net}/ports", params={"network_id": ident}))["ports"]:
                api.client.delete(f"{net}/ports/{p['id']}")
            for s in api.ok(api.client.get(f"{net}/subnets", params={"network_id": ident}))["subnets"]:
                api.client.delete(f"{net}/subnets/{s['id']}")
            api.client.delete(f"{net}/networks/{ident}")
        elif kind == "vol":
            api.client.delete(f"{api.url}/volume/v3/{api.project}/volumes/{ident}")
        else:
            api.client.delete(f"{api.url}/v1/AUTH_{api.project}/{ident}")


def stack_vs_script(api: Api, server: h.Server) -> None:
    tag = f"b{uuid.uuid4().hex[:6]}"
    cpu0, t0 = sum(server.cpu_times()), time.monotonic()
    made = by_hand(api, tag)
    script_s, script_cpu = time.monotonic() - t0, sum(server.cpu_times()) - cpu0
    cleanup_by_hand(api, made)
    cpu0, t0 = sum(server.cpu_times()), time.monotonic()
    created = api.ok(api.client.post(f"{api.heat}/stacks", json={
        "stack_name": f"{tag}-stack", "template": template(tag)}))["stack"]  # fmt: skip
    st = api.wait_stack(f"{tag}-stack", created["id"])
    stack_s, stack_cpu = time.monotonic() - t0, sum(server.cpu_times()) - cpu0
    if st["stack_status"] != "CREATE_COMPLETE":
        h.fail(f"the 50-resource stack ended {st['stack_status']}: {st['stack_status_reason']}")
    print("50 resources (10 nets, 10 subnets, 10 ports, 5 volumes, 5 containers, 10 randoms):")
    print(f"  one by one from a script: {script_s:6.2f} s  cloud CPU {script_cpu:5.2f} s "
          f"({script_cpu / 50 * 1000:.1f} ms/resource)")  # fmt: skip
    print(f"  stack create -> COMPLETE: {stack_s:6.2f} s  cloud CPU {stack_cpu:5.2f} s "
          f"({stack_cpu / 50 * 1000:.1f} ms/resource)  target < 10 s, "
          f"{script_s / stack_s:.1f}x the script's speed")  # fmt: skip
    t0 = time.monotonic()
    api.ok(api.client.delete(f"{api.heat}/stacks/{tag}-stack/{created['id']}"))
    st = api.wait_stack(f"{tag}-stack", created["id"])
    print(f"  stack delete -> COMPLETE: {time.monotonic() - t0:6.2f} s ({st['stack_status']})")


def stack_list(api: Api, server: h.Server, stacks: int, lists: int) -> None:
    none = {"heat_template_version": "2018-08-31", "resources": {"n": {"type": "OS::Heat::None"}}}
    t0 = time.monotonic()
    for i in range(stacks):
        api.ok(api.client.post(f"{api.heat}/stacks", json={"stack_name": f"l{i:04d}",
                                                          "template": none}))  # fmt: skip
    while any(s["stack_status"].endswith("IN_PROGRESS")
              for s in api.ok(api.client.get(f"{api.heat}/stacks"))["stacks"]):  # fmt: skip
        time.sleep(0.5)
    made_s = time.monotonic() - t0
    times: list[float] = []
    cpu0 = sum(server.cpu_times())
    for _ in range(lists):
        t = time.monotonic()
        body = api.ok(api.client.get(f"{api.heat}/stacks"))
        times.append((time.monotonic() - t) * 1000)
        if len(body["stacks"]) < stacks:
            h.fail(f"stack list gave {len(body['stacks'])} stacks, not {stacks}")
    cpu = (sum(server.cpu_times()) - cpu0) / lists * 1000
    print(f"stack list of {stacks} stacks ({stacks} creates -> COMPLETE took {made_s:.1f} s): "
          f"p50 {statistics.median(times):.1f} ms  p99 {h.pct(times, 0.99):.1f} ms  "
          f"cloud CPU {cpu:.1f} ms/list  target p50 < 200 ms")  # fmt: skip


def main() -> None:
    if "--app" in sys.argv[1:]:
        import orchestration_app

        orchestration_app.main([a for a in sys.argv[1:] if a != "--app"])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stacks", type=int, default=500)
    ap.add_argument("--lists", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sorb-", dir="/tmp"))
    server = h.Server(tmp / "cloud", env=ENV)
    try:
        server.start()
        with httpx.Client() as c:
            server.wait_ready(c, timeout=120)
        time.sleep(2.0)  # the agents' start
        api = Api(server)
        print(h.machine())
        stack_vs_script(api, server)
        stack_list(api, server, args.stacks, args.lists)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
