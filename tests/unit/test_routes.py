"""Every route of every service declares its request schemas."""

import inspect

from pydantic import BaseModel

from stratus.common.api import NoBody, Route
from stratus.identity.api.routes import ROUTES as IDENTITY_ROUTES

ALL_ROUTES: list[tuple[str, Route]] = [("identity", r) for r in IDENTITY_ROUTES]


def test_every_route_declares_schemas() -> None:
    problems = []
    for service, route in ALL_ROUTES:
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


def test_writes_take_a_body_schema_or_say_they_take_none() -> None:
    # PUT/POST/PATCH routes with NoBody are the ones that take no body on
    # purpose (grants, memberships, single tags); listed here so a new one is a
    # decision, not an accident.
    bodyless = sorted(
        {
            (r.method, r.path)
            for r in IDENTITY_ROUTES
            if r.method in ("POST", "PUT", "PATCH") and r.body is NoBody
        }
    )
    for method, path in bodyless:
        assert method == "PUT", (method, path)
        assert path.endswith(
            (
                "/roles/{role_id}",
                "/inherited_to_projects",
                "/users/{user_id}",
                "/tags/{tag}",
                "/implies/{implied_role_id}",
            )
        ), path


def test_no_two_routes_share_a_method_and_path() -> None:
    seen = [(r.method, r.path) for r in IDENTITY_ROUTES]
    assert len(seen) == len(set(seen))
