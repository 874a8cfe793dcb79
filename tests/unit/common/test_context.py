"""The request context carried from one request to the next."""

from __future__ import annotations

import dataclasses

from stratus.common.access_rules import AccessRule
from stratus.common.context import RequestContext


def test_a_context_for_another_request_differs_only_by_its_request_id() -> None:
    values = {}
    for f in dataclasses.fields(RequestContext):  # every field set, none left at its default
        if f.name == "access_rules":
            values[f.name] = (AccessRule(service="compute", method="GET", path="/servers"),)
        elif f.type.startswith("tuple"):
            values[f.name] = (f"{f.name}-1", f"{f.name}-2")
        else:
            values[f.name] = f"{f.name}-value"
    ctx = RequestContext(**values)
    again = ctx.for_request("req-2")
    assert again == dataclasses.replace(ctx, request_id="req-2")
    assert again.request_id == "req-2" and ctx.request_id == "request_id-value"
