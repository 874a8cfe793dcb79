"""Rendering identity entities in Keystone's JSON shapes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from stratus.common.listing import Page
from stratus.identity import models as m
from stratus.identity.service.assignments import Assignment
from stratus.identity.service.roles import NULL_DOMAIN

T = TypeVar("T")


def _link(base: str, path: str) -> dict[str, str]:
    return {"self": f"{base}/v3/{path}"}


def domain(d: m.Domain, base: str) -> dict[str, Any]:
    return {
        **d.extra,
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": d.extra.get("tags", []),
        "options": {},
        "links": _link(base, f"domains/{d.id}"),
    }


def domain_project(d: m.Domain, base: str) -> dict[str, Any]:
    """A domain as /v3/projects shows it: Keystone's project acting as a domain."""
    return {
        **d.extra,
        "id": d.id,
        "name": d.name,
        "domain_id": None,
        "description": d.description,
        "enabled": d.enabled,
        "parent_id": None,
        "is_domain": True,
        "tags": d.extra.get("tags", []),
        "options": {},
        "links": _link(base, f"projects/{d.id}"),
    }


def any_project(p: m.Project | m.Domain, base: str) -> dict[str, Any]:
    return domain_project(p, base) if isinstance(p, m.Domain) else project(p, base)


def project(p: m.Project, base: str) -> dict[str, Any]:
    return {
        **p.extra,
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "parent_id": p.parent_id or p.domain_id,
        "is_domain": False,
        "tags": [t.name for t in p.tags],
        "options": {},
        "links": _link(base, f"projects/{p.id}"),
    }


def user(u: m.User, base: str) -> dict[str, Any]:
    out = {
        **u.extra,
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": None,
        "options": {},
        "links": _link(base, f"users/{u.id}"),
    }
    if u.default_project_id:
        out["default_project_id"] = u.default_project_id
    return out


def group(g: m.Group, base: str) -> dict[str, Any]:
    return {
        **g.extra,
        "id": g.id,
        "name": g.name,
        "domain_id": g.domain_id,
        "description": g.description,
        "links": _link(base, f"groups/{g.id}"),
    }


def role(r: m.Role, base: str) -> dict[str, Any]:
    return {
        **r.extra,
        "id": r.id,
        "name": r.name,
        "domain_id": None if r.domain_id == NULL_DOMAIN else r.domain_id,
        "description": r.description,
        "options": {},
        "links": _link(base, f"roles/{r.id}"),
    }


def role_ref(r: m.Role, base: str) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "links": _link(base, f"roles/{r.id}")}


def region(r: m.Region, base: str) -> dict[str, Any]:
    return {
        **r.extra,
        "id": r.id,
        "description": r.description,
        "parent_region_id": r.parent_region_id,
        "links": _link(base, f"regions/{r.id}"),
    }


def service(s: m.Service, base: str) -> dict[str, Any]:
    return {
        **s.extra,
        "id": s.id,
        "type": s.type,
        "name": s.name,
        "description": s.description,
        "enabled": s.enabled,
        "links": _link(base, f"services/{s.id}"),
    }


def endpoint(e: m.Endpoint, base: str) -> dict[str, Any]:
    return {
        **{k: v for k, v in e.extra.items() if k != "managed_by"},
        "id": e.id,
        "service_id": e.service_id,
        "region_id": e.region_id,
        "region": e.region_id,
        "interface": e.interface,
        "url": e.url,
        "enabled": e.enabled,
        "links": _link(base, f"endpoints/{e.id}"),
    }


def access_rule(r: m.AccessRule) -> dict[str, Any]:
    """An access rule as an application credential (and its token) shows it."""
    return {"id": r.id, "service": r.service, "path": r.path, "method": r.method}


def access_rule_entity(r: m.AccessRule, base: str) -> dict[str, Any]:
    return {**access_rule(r), "links": _link(base, f"users/{r.user_id}/access_rules/{r.id}")}


def app_cred(
    c: m.ApplicationCredential,
    roles: dict[str, m.Role],
    base: str,
    secret: str | None = None,
    rules: list[m.AccessRule] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "roles": [
            {"id": rid, "name": roles[rid].name, "domain_id": None}
            for rid in c.role_ids
            if rid in roles
        ],
        "unrestricted": c.unrestricted,
        "expires_at": c.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f") if c.expires_at else None,
        "access_rules": [access_rule(r) for r in rules or ()],
        "links": _link(base, f"users/{c.user_id}/application_credentials/{c.id}"),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def collection(
    key: str,
    items: Iterable[T],
    render: Callable[[T, str], dict[str, Any]],
    base: str,
    url: str,
    page: Page[Any] | None = None,
) -> dict[str, Any]:
    next_url = None
    if page is not None and page.next_marker is not None:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "marker"]
        query.append(("marker", page.next_marker))
        next_url = parts._replace(query=urlencode(query)).geturl()
    out: dict[str, Any] = {
        key: [render(i, base) for i in items],
        "links": {"self": url, "previous": None, "next": next_url},
    }
    if page is not None and page.truncated:
        out["truncated"] = True
    return out


def page(
    key: str, p: Page[T], render: Callable[[T, str], dict[str, Any]], base: str, url: str
) -> dict[str, Any]:
    return collection(key, p.items, render, base, url, p)


def assignment(
    a: Assignment,
    base: str,
    names: dict[str, Any] | None,
) -> dict[str, Any]:
    """One role assignment; ``names`` holds roles, users, groups, projects
    and domains by id when include_names was asked for."""

    def named(kind: str, ident: str, with_domain: bool = True) -> dict[str, Any]:
        ref: dict[str, Any] = {"id": ident}
        if names is not None:
            obj = names[kind].get(ident)
            if obj is not None:
                ref["name"] = obj.name
                domain_id = getattr(obj, "domain_id", None)
                if with_domain and domain_id and domain_id != NULL_DOMAIN:
                    dom = names["domains"].get(domain_id)
                    ref["domain"] = {"id": domain_id, "name": dom.name if dom else None}
        return ref

    out: dict[str, Any] = {"role": named("roles", a.role_id)}
    if a.user_id:
        out["user"] = named("users", a.user_id)
        actor = f"users/{a.user_id}"
    else:
        out["group"] = named("groups", a.group_id or "")
        actor = f"groups/{a.group_id}"
    if a.project_id:
        # A grant on a domain's id under /v3/projects: the project acting as it.
        acting_domain = names is not None and a.project_id not in names["projects"]
        kind = "domains" if acting_domain else "projects"
        out["scope"] = {"project": named(kind, a.project_id, with_domain=not acting_domain)}
        target = f"projects/{a.project_id}"
    elif a.domain_id:
        out["scope"] = {"domain": named("domains", a.domain_id, with_domain=False)}
        target = f"domains/{a.domain_id}"
    else:
        out["scope"] = {"system": {"all": True}}
        target = "system"
    if a.inherited:
        out["scope"]["OS-INHERIT:inherited_to"] = "projects"
        link = f"{base}/v3/OS-INHERIT/{target}/{actor}/roles/{a.role_id}/inherited_to_projects"
    else:
        link = f"{base}/v3/{target}/{actor}/roles/{a.role_id}"
    links: dict[str, str] = {"assignment": link}
    if a.via_group_id:
        links["membership"] = f"{base}/v3/groups/{a.via_group_id}/users/{a.user_id}"
    if a.implied_by:
        out["prior_role"] = named("roles", a.implied_by)
    out["links"] = links
    return out


def implied(prior: m.Role, implies: Sequence[m.Role], base: str) -> dict[str, Any]:
    return {
        "prior_role": role_ref(prior, base),
        "implies": [role_ref(r, base) for r in implies],
    }


def registered_limit(r: m.RegisteredLimit, base: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "default_limit": r.default_limit,
        "description": r.description,
        "links": _link(base, f"registered_limits/{r.id}"),
    }


def limit(r: m.Limit, base: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "project_id": r.project_id,
        "domain_id": r.domain_id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "resource_limit": r.resource_limit,
        "description": r.description,
        "links": _link(base, f"limits/{r.id}"),
    }
