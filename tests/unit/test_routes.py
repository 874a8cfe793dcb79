"""Every route of every service declares its request schemas."""

import ast
import inspect
from pathlib import Path

from pydantic import BaseModel

from stratus.common.api import NoBody, Route
from stratus.compute.api.routes import ROUTES as COMPUTE_ROUTES
from stratus.identity.api.routes import ROUTES as IDENTITY_ROUTES
from stratus.image.api.routes import ROUTES as IMAGE_ROUTES
from stratus.network.api.routes import ROUTES as NETWORK_ROUTES
from stratus.objectstore.api import routes as objectstore_routes
from stratus.volume.api.routes import ROUTES as VOLUME_ROUTES

ALL_ROUTES: list[tuple[str, Route]] = (
    [("identity", r) for r in IDENTITY_ROUTES]
    + [("image", r) for r in IMAGE_ROUTES]
    + [("compute", r) for r in COMPUTE_ROUTES]
    + [("volume", r) for r in VOLUME_ROUTES]
    + [("network", r) for r in NETWORK_ROUTES]
)
# Swift's writes carry their metadata in headers: they are not in the list
# of JSON writes below, but their schemas are checked all the same.
OBJECT_STORE_ROUTES = [("object-store", r) for r in objectstore_routes.ROUTES]


def test_every_route_declares_schemas() -> None:
    problems = []
    for service, route in ALL_ROUTES + OBJECT_STORE_ROUTES:
        name = f"{service}: {route.method} {route.path}"
        if not (isinstance(route.body, type) and issubclass(route.body, BaseModel)):
            problems.append(f"{name} has no body schema (NoBody when it takes none)")
        elif route.body.model_config.get("extra") != "forbid":
            problems.append(f"{name}: its body schema accepts unknown fields")
        if not (isinstance(route.query, type) and issubclass(route.query, BaseModel)):
            problems.append(f"{name} has no query schema (NoQuery when it reads none)")
        if not inspect.iscoroutinefunction(route.handler):
            problems.append(f"{name}: the handler is not async")
    assert not problems, "\n".join(problems)


def test_writes_without_a_body_are_deliberate() -> None:
    # Writes that take no body: grants, memberships, single tags, role
    # implications and image actions.  Listed so a new one is a decision.
    allowed_suffixes = (
        "/roles/{role_id}",
        "/inherited_to_projects",
        "/users/{user_id}",
        "/tags/{tag}",
        "/implies/{implied_role_id}",
        "/actions/deactivate",
        "/actions/reactivate",
    )
    odd = [
        f"{service}: {r.method} {r.path}"
        for service, r in ALL_ROUTES
        if r.method in ("POST", "PUT", "PATCH")
        and r.body is NoBody
        and not r.path.endswith(allowed_suffixes)
    ]
    assert not odd, odd


def test_no_two_routes_share_a_method_and_path() -> None:
    for service in ("identity", "image", "compute", "volume", "network", "object-store"):
        seen = [(r.method, r.path) for s, r in ALL_ROUTES + OBJECT_STORE_ROUTES if s == service]
        assert len(seen) == len(set(seen)), service


def routes_without_schemas(source: str) -> list[str]:
    """The ``Route(...)`` entries of a routes module that leave their body
    or query schema to a default (a route must name both, NoBody and NoQuery
    included, so that one without a schema is a decision, not an accident)."""
    missing = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Route":
            given = {k.arg for k in node.keywords}
            if not {"body", "query"} <= given:
                missing.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return missing


def test_object_store_routes_name_their_schemas() -> None:
    source = Path(objectstore_routes.__file__).read_text()
    assert not routes_without_schemas(source), routes_without_schemas(source)


def test_a_route_without_schemas_is_found() -> None:
    table = 'ROUTES = [Route("GET", "/x", h, body=NoBody, query=NoQuery), Route("PUT", "/x", h)]'
    assert [m.split(":")[0] for m in routes_without_schemas(table)] == ["line 1"]
