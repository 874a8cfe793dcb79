"""Every route of every service declares its request schemas."""

import ast
import inspect
from pathlib import Path

from pydantic import BaseModel

import stratus
from stratus.common.api import NoBody, NoQuery, Route
from stratus.compute.api.routes import ROUTES as COMPUTE_ROUTES
from stratus.database.api.routes import ROUTES as DATABASE_ROUTES
from stratus.identity.api.routes import ROUTES as IDENTITY_ROUTES
from stratus.image.api.routes import ROUTES as IMAGE_ROUTES
from stratus.loadbalancer.api.routes import ROUTES as LOADBALANCER_ROUTES
from stratus.network.api.routes import ROUTES as NETWORK_ROUTES
from stratus.objectstore.api import routes as objectstore_routes
from stratus.orchestration.api.routes import ROUTES as ORCHESTRATION_ROUTES
from stratus.volume.api.routes import ROUTES as VOLUME_ROUTES

ALL_ROUTES: list[tuple[str, Route]] = (
    [("identity", r) for r in IDENTITY_ROUTES]
    + [("image", r) for r in IMAGE_ROUTES]
    + [("compute", r) for r in COMPUTE_ROUTES]
    + [("volume", r) for r in VOLUME_ROUTES]
    + [("network", r) for r in NETWORK_ROUTES]
    + [("load-balancer", r) for r in LOADBALANCER_ROUTES]
    + [("database", r) for r in DATABASE_ROUTES]
    + [("orchestration", r) for r in ORCHESTRATION_ROUTES]
)
# Swift's writes carry their metadata in headers: they are not in the list
# of JSON writes below, but their schemas are checked all the same.
OBJECT_STORE_ROUTES = [("object-store", r) for r in objectstore_routes.ROUTES]


def test_every_route_declares_schemas() -> None:
    problems = []
    for service, route in ALL_ROUTES + OBJECT_STORE_ROUTES:
        name = f"{service}: {route.method} {route.path}"
        if route.action:
            name += f" ({route.action})"
        for schema in route.undeclared:
            problems.append(f"{name} names no {schema} schema (NoBody / NoQuery when none)")
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
        "/failover",  # Octavia's load balancer failover
        "/snapshots/{snapshot_id}/restore",  # Heat's stack snapshot restore (heatclient sends none)
    )
    odd = [
        f"{service}: {r.method} {r.path}"
        for service, r in ALL_ROUTES
        if r.method in ("POST", "PUT", "PATCH")
        and r.body is NoBody
        and not r.path.endswith(allowed_suffixes)
        # Keystone's OS-EP-FILTER associations: PUT .../projects/{id}, .../endpoints/{id}
        and not (service == "identity" and r.path.startswith("/v3/OS-EP-FILTER/"))
    ]
    assert not odd, odd


def test_a_route_without_schemas_is_found() -> None:
    async def handler(req: object) -> None: ...

    assert Route("GET", "/x", handler).undeclared == ("body", "query")  # type: ignore[arg-type]
    named = Route("GET", "/x", handler, body=NoBody, query=NoQuery)  # type: ignore[arg-type]
    assert named.undeclared == ()


def test_no_two_routes_share_a_method_and_path() -> None:
    services = ("identity", "image", "compute", "volume", "network", "load-balancer", "database",
                "orchestration")  # fmt: skip
    for service in (*services, "object-store"):
        seen = [
            (r.method, r.path, r.action)
            for s, r in ALL_ROUTES + OBJECT_STORE_ROUTES
            if s == service
        ]
        assert len(seen) == len(set(seen)), service


def test_no_handler_opens_a_database_session() -> None:
    """Handlers make service calls: no session, transaction or select() in
    any service's ``api/`` (the service owns its transactions)."""
    root = Path(stratus.__file__).parent
    problems = []
    for path in sorted(root.glob("*/api/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                problems.append(f"{path.relative_to(root)}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in ("session", "transaction"):
                    problems.append(f"{path.relative_to(root)}:{node.lineno} opens a {node.func.attr}")
    assert not problems, "\n".join(problems)
