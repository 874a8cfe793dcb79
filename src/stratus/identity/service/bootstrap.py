"""First-start set-up of identity (idempotent: every start reconciles)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import Config
from stratus.common.db import utcnow
from stratus.common.service_auth import SERVICE_PASSWORD_FILE, SERVICE_USER
from stratus.identity import models as m
from stratus.identity.service.core import Core
from stratus.identity.service.projects import DEFAULT_DOMAIN_ID
from stratus.identity.service.roles import NULL_DOMAIN
from stratus.identity.service.tokens import generated_secret
from stratus.registry import SERVICES

log = logging.getLogger(__name__)

ROLES = ("admin", "manager", "member", "reader", "service", "ResellerAdmin")
IMPLIED = (("admin", "manager"), ("manager", "member"), ("member", "reader"))
INTERFACES = ("public", "internal", "admin")
PASSWORD_FILE = "admin-password"

CLOUDS_FILE = "clouds.yaml"
CLOUD_NAME = "stratus"


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, replacing it atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def admin_password(data_dir: Path, name: str = PASSWORD_FILE) -> tuple[str, bool]:
    """A password kept in the data folder; created when absent."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip(), False
    password = generated_secret(24)
    write_private(path, password + "\n")
    return password, True


def clouds_yaml(cfg: Config, password: str) -> str:
    auth_url = f"{cfg.public_url}{SERVICES['identity'].prefix}/v3"
    quoted = password.replace("'", "''")
    return (
        "# Written by `stratus up`: the admin's cloud.  Use it with\n"
        f"#   export OS_CLIENT_CONFIG_FILE={(cfg.data_dir / CLOUDS_FILE).resolve()} OS_CLOUD={CLOUD_NAME}\n"
        "clouds:\n"
        f"  {CLOUD_NAME}:\n"
        "    auth:\n"
        f"      auth_url: {auth_url}\n"
        "      username: admin\n"
        f"      password: '{quoted}'\n"
        "      project_name: admin\n"
        "      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
        f"    region_name: {cfg.region}\n"
        "    interface: public\n"
        "    identity_api_version: 3\n"
    )


async def _ensure_role(s: AsyncSession, name: str) -> m.Role:
    role = await s.scalar(
        select(m.Role).where(m.Role.name == name, m.Role.domain_id == NULL_DOMAIN)
    )
    if role is None:
        role = m.Role(id=m.new_id(), name=name, domain_id=NULL_DOMAIN, description="", extra={})
        s.add(role)
    return role


async def _ensure_project(s: AsyncSession, name: str, description: str) -> m.Project:
    project = await s.scalar(
        select(m.Project).where(m.Project.domain_id == DEFAULT_DOMAIN_ID, m.Project.name == name)
    )
    if project is None:
        project = m.Project(
            id=m.new_id(),
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            description=description,
            enabled=True,
            extra={},
        )
        project.tags = []
        s.add(project)
    return project


async def _ensure_grant(s: AsyncSession, kind: str, actor: str, target: str, role: str) -> None:
    key = (kind, actor, target, role, False)
    if await s.get(m.RoleAssignment, key) is None:
        s.add(
            m.RoleAssignment(
                type=kind, actor_id=actor, target_id=target, role_id=role, inherited=False
            )
        )


async def _ensure_catalog(s: AsyncSession, cfg: Config) -> None:
    if await s.get(m.Region, cfg.region) is None:
        s.add(m.Region(id=cfg.region, description="", parent_region_id=None, extra={}))
        await s.flush()
    for name in cfg.services.enabled:
        info = SERVICES.get(name)
        if info is None:
            continue
        url = info.endpoint_url(cfg.public_url)
        for service_type, service_name in info.catalog_entries():
            await _ensure_service(s, cfg, service_type, service_name, url)


async def _ensure_service(
    s: AsyncSession, cfg: Config, service_type: str, service_name: str, url: str
) -> None:
    service = await s.scalar(
        select(m.Service).where(m.Service.type == service_type).order_by(m.Service.id)
    )
    if service is None:
        service = m.Service(
            id=m.new_id(),
            type=service_type,
            name=service_name,
            description="",
            enabled=True,
            extra={},
        )
        s.add(service)
        await s.flush()
    for interface in INTERFACES:
        endpoint = await s.scalar(
            select(m.Endpoint).where(
                m.Endpoint.service_id == service.id,
                m.Endpoint.interface == interface,
                m.Endpoint.region_id == cfg.region,
            )
        )
        if endpoint is None:
            s.add(
                m.Endpoint(
                    id=m.new_id(),
                    service_id=service.id,
                    region_id=cfg.region,
                    interface=interface,
                    url=url,
                    enabled=True,
                    extra={},
                )
            )
        elif endpoint.url != url and endpoint.extra.get("managed_by") != "operator":
            log.info("identity: %s %s endpoint moves to %s", service_type, interface, url)
            endpoint.url = url


async def _ensure_default_domain(s: AsyncSession) -> None:
    if await s.get(m.Domain, DEFAULT_DOMAIN_ID) is None:
        s.add(
            m.Domain(
                id=DEFAULT_DOMAIN_ID,
                name="Default",
                description="The default domain",
                enabled=True,
                extra={},
            )
        )
        await s.flush()


async def _ensure_roles(s: AsyncSession) -> dict[str, m.Role]:
    """The standard roles by name, with the implications between them."""
    roles = {name: await _ensure_role(s, name) for name in ROLES}
    await s.flush()
    for prior, implied in IMPLIED:
        key = (roles[prior].id, roles[implied].id)
        if await s.get(m.ImpliedRole, key) is None:
            s.add(m.ImpliedRole(prior_role_id=key[0], implied_role_id=key[1]))
    return roles


async def _default_user(s: AsyncSession, name: str) -> m.User | None:
    return await s.scalar(
        select(m.User).where(m.User.domain_id == DEFAULT_DOMAIN_ID, m.User.name == name)
    )


async def _new_user(core: Core, name: str, project: m.Project, password: str) -> m.User:
    return m.User(
        id=m.new_id(),
        name=name,
        domain_id=DEFAULT_DOMAIN_ID,
        enabled=True,
        default_project_id=project.id,
        password_hash=await core.hasher.hash(password),
        password_created_at=utcnow(),
        extra={},
    )


async def _ensure_admin(
    s: AsyncSession, core: Core, project: m.Project, admin_role: str, password: str, created: bool
) -> None:
    """The cloud administrator: admin on its project, the default domain and the system."""
    admin = await _default_user(s, "admin")
    if admin is None:
        admin = await _new_user(core, "admin", project, password)
        s.add(admin)
        log.info(
            "identity: created the admin user (password in %s)", core.cfg.data_dir / PASSWORD_FILE
        )
    elif created:
        log.warning("identity: %s was missing; the admin keeps its old password", PASSWORD_FILE)
    await s.flush()
    await _ensure_grant(s, m.USER_PROJECT, admin.id, project.id, admin_role)
    await _ensure_grant(s, m.USER_DOMAIN, admin.id, DEFAULT_DOMAIN_ID, admin_role)
    await _ensure_grant(s, m.USER_SYSTEM, admin.id, m.SYSTEM_TARGET, admin_role)


async def _ensure_service_user(
    s: AsyncSession, core: Core, project: m.Project, roles: dict[str, m.Role]
) -> None:
    """The user Stratus's own agents act as (compute agents fetch images)."""
    service_user = await _default_user(s, SERVICE_USER)
    if service_user is None:
        service_password, _ = admin_password(core.cfg.data_dir, SERVICE_PASSWORD_FILE)
        service_user = await _new_user(core, SERVICE_USER, project, service_password)
        s.add(service_user)
        await s.flush()
    for role in ("admin", "service"):
        await _ensure_grant(s, m.USER_PROJECT, service_user.id, project.id, roles[role].id)


async def bootstrap(core: Core) -> None:
    cfg = core.cfg
    password, created = admin_password(cfg.data_dir)
    async with core.write() as s:
        await _ensure_default_domain(s)
        roles = await _ensure_roles(s)
        admin_project = await _ensure_project(
            s, "admin", "Bootstrap project for the cloud administrator"
        )
        service_project = await _ensure_project(s, "service", "Project of the cloud's own services")
        await _ensure_admin(s, core, admin_project, roles["admin"].id, password, created)
        await _ensure_service_user(s, core, service_project, roles)
        await _ensure_catalog(s, cfg)
    write_private(cfg.data_dir / CLOUDS_FILE, clouds_yaml(cfg, password))
