"""OS::Heat::WaitConditionHandle and OS::Heat::WaitCondition.

A handle is a secret URL (its physical id) under the orchestration API:
a guest POSTs ``{"status": "SUCCESS", "reason": ..., "data": ..., "id": ...}``
to it with curl, no token needed (the URL is the credential, as a Swift
TempURL is).  A wait condition polls its handle's signals through the same
API until ``count`` successes arrive (CREATE_COMPLETE), one FAILURE comes
(CREATE_FAILED with its reason) or ``timeout`` seconds pass."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any, ClassVar

from stratus.orchestration.drivers.base import Api, Context, Outcome, Prop, ResourceType
from stratus.orchestration.errors import ResourceFailure

STATUSES = ("SUCCESS", "FAILURE")


def endpoint(api: Api, secret: str) -> str:
    """The handle's signal URL, as guests reach the cloud."""
    base = api.endpoint("orchestration", guest=True) if hasattr(api, "endpoint") else ""
    return f"{base}/signal/{secret}"


class WaitConditionHandle(ResourceType):
    name = "OS::Heat::WaitConditionHandle"
    description = "A URL a guest signals (curl) to tell a WaitCondition it is ready."
    properties: ClassVar[dict[str, Prop]] = {
        "signal_transport": Prop(default="TOKEN_SIGNAL"),
    }
    attributes: ClassVar[dict[str, str]] = {
        "endpoint": "The URL to POST a signal to.",
        "curl_cli": "A curl command line that signals; add --data-binary '{...}'.",
        "token": "Empty: the endpoint carries its own secret.",
        "signal": "The endpoint, as a map.",
    }

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        secret = secrets.token_urlsafe(24)
        url = endpoint(api, secret)
        curl = f"curl -i -X POST -H 'Content-Type: application/json' {url}"
        return Outcome(secret, {"endpoint": url, "curl_cli": curl, "token": "",
                                "signal": {"url": url}})  # fmt: skip


class WaitCondition(ResourceType):
    name = "OS::Heat::WaitCondition"
    properties: ClassVar[dict[str, Prop]] = {
        "handle": Prop(required=True),
        "timeout": Prop("number", required=True),
        "count": Prop("integer", default=1),
    }
    attributes: ClassVar[dict[str, str]] = {"data": "The signals' data by id (JSON text)."}

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        secret, count = str(props["handle"]), int(props["count"])
        deadline = time.monotonic() + float(props["timeout"])
        delay = 0.1
        while True:
            signals = (await api.call("orchestration", "GET", f"/signal/{secret}"))["signals"]
            failed = [s for s in signals if s.get("status") == "FAILURE"]
            if failed:
                raise ResourceFailure(f"WaitConditionFailure: {failed[0].get('reason') or ''}")
            done = [s for s in signals if s.get("status") == "SUCCESS"]
            if len(done) >= count:
                data = {str(s.get("id")): s.get("data") for s in done}
                return Outcome(f"{ctx.stack_name}-{ctx.name}", {"data": json.dumps(data)})
            if time.monotonic() > deadline:
                raise ResourceFailure(f"WaitConditionTimeout: {len(done)} of {count} received")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)
