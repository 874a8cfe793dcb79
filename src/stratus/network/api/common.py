"""What the network handlers share: the service, ``If-Match`` revision
constraints, attribute policies, and one resource's rendering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.network.api import listing
from stratus.network.errors import BadRequest, PolicyNotAuthorized
from stratus.network.service import NetworkService


def svc(req: ApiRequest[NetworkService]) -> NetworkService:
    return req.service  # type: ignore[no-any-return]


def if_match(req: ApiRequest[NetworkService]) -> int | None:
    """``If-Match: revision_number=N`` (other entity tags are ignored)."""
    header = req.raw.headers.get("if-match")
    if not header:
        return None
    found: int | None = None
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if not tag.startswith("revision_number="):
            continue
        if found is not None:
            raise BadRequest("Multiple revision_number etags are not supported.")
        try:
            found = int(tag.split("=", 1)[1])
        except ValueError:
            raise BadRequest(
                "Revision number etag must be in the format of revision_number=<int>"
            ) from None
    return found


def authorize(req: ApiRequest[NetworkService], action: str, target: Mapping[str, Any]) -> None:
    """Neutron's policy check: 403 naming the rule."""
    if not req.allowed(action, target):
        raise PolicyNotAuthorized(action)


def check_attrs(
    req: ApiRequest[NetworkService],
    action: str,
    attrs: Mapping[str, Any],
    rules: Mapping[str, str],
    target: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Attribute policies (``create_network:shared``...): checked when the
    request sets the attribute (to something other than its default)."""
    for key, rule in rules.items():
        if key not in attrs:
            continue
        if defaults is not None and key in defaults and attrs[key] == defaults[key]:
            continue
        authorize(req, f"{action}:{rule}", target)


def hidden(
    req: ApiRequest[NetworkService], action: str, names: Iterable[str], target: Mapping[str, Any]
) -> set[str]:
    """Attributes policy hides from this caller (``provider:*``, ``binding:*``)."""
    return set() if req.allowed(action, target) else set(names)


def one(
    req: ApiRequest[NetworkService],
    member: str,
    item: dict[str, Any],
    *,
    status: int = 200,
    hide: set[str] | None = None,
) -> Response:
    fields = listing.fields_of(req) if req.raw.method == "GET" else []
    return json_response({member: listing.select_fields(item, fields, hide or set())}, status)


def many(
    req: ApiRequest[NetworkService], collection: str, items: list[dict[str, Any]], hide: set[str] | None = None
) -> Response:
    """A bulk create's answer."""
    return json_response(
        {collection: [listing.select_fields(i, [], hide or set()) for i in items]}, 201
    )
