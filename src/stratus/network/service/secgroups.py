"""Security groups and their rules, with the ``default`` group every
project gets on first use (ingress from its own members, egress anywhere)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import SecurityGroupNotFound, SecurityGroupRuleNotFound
from stratus.network.secgroup_errors import (
    SecurityGroupCannotRemoveDefault,
    SecurityGroupCannotUpdateDefault,
    SecurityGroupDefaultAlreadyExists,
    SecurityGroupInUse,
    SecurityGroupRuleExists,
)
from stratus.network.service import records
from stratus.network.service.core import Changes, Core, check_revision, owned, push_filters
from stratus.network.service.quotas import Quotas
from stratus.network.service.rules import Rule, validate
from stratus.network.service.tags import drop_tags, set_tags

DEFAULT = "default"
COLUMNS = {
    "id": m.SecurityGroup.id,
    "name": m.SecurityGroup.name,
    "project_id": m.SecurityGroup.project_id,
    "tenant_id": m.SecurityGroup.project_id,
}
RULE_COLUMNS = {
    "id": m.SecurityGroupRule.id,
    "security_group_id": m.SecurityGroupRule.security_group_id,
    "direction": m.SecurityGroupRule.direction,
    "project_id": m.SecurityGroupRule.project_id,
    "tenant_id": m.SecurityGroupRule.project_id,
}


def _egress_rules() -> list[Rule]:
    return [Rule("egress", e, None, None, None, None, None) for e in ("IPv4", "IPv6")]


class SecurityGroups:
    def __init__(self, core: Core, quotas: Quotas):
        self.core = core
        self.quotas = quotas

    # -- the default group -----------------------------------------------------------

    async def ensure_default(self, project_id: str) -> str | None:
        """The project's ``default`` group, made on first use; safe when
        several requests make it at once (one row per project)."""
        if not project_id:
            return None

        async def find(s: AsyncSession) -> str | None:
            return await s.scalar(
                select(m.DefaultSecurityGroup.security_group_id).where(
                    m.DefaultSecurityGroup.project_id == project_id
                )
            )

        found = await self.core.read(find)
        if found is None:

            async def make(s: AsyncSession, ch: Changes) -> str:
                existing = await find(s)
                return existing or await self.make_default(s, project_id)

            found = await self.core.write(make)
        return found

    async def default_in(self, s: AsyncSession, project_id: str) -> str:
        found = await s.scalar(
            select(m.DefaultSecurityGroup.security_group_id).where(
                m.DefaultSecurityGroup.project_id == project_id
            )
        )
        return found or await self.make_default(s, project_id)

    async def make_default(self, s: AsyncSession, project_id: str) -> str:
        group = m.SecurityGroup(
            project_id=project_id, name=DEFAULT, description="Default security group"
        )
        s.add(group)
        await s.flush()
        s.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
        rules = [Rule("ingress", e, None, None, None, None, group.id) for e in ("IPv4", "IPv6")]
        for rule in [*rules, *_egress_rules()]:
            self._add_rule(s, group, rule, "")
        await s.flush()
        return group.id

    # -- groups ----------------------------------------------------------------------

    async def load(self, s: AsyncSession, ctx: RequestContext, group_id: str) -> m.SecurityGroup:
        group = await s.get(m.SecurityGroup, group_id)
        if group is None or not (ctx.is_admin or group.project_id == ctx.project_id):
            raise SecurityGroupNotFound(group_id)
        return group

    async def get(self, ctx: RequestContext, group_id: str) -> records.SecurityGroupRecord:
        async def work(s: AsyncSession) -> records.SecurityGroupRecord:
            group = await self.load(s, ctx, group_id)
            return (await records.security_groups(s, [group]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.SecurityGroupRecord]:
        await self.ensure_default(ctx.project_id or "")

        async def work(s: AsyncSession) -> list[records.SecurityGroupRecord]:
            stmt = owned(
                ctx,
                m.SecurityGroup.project_id,
                push_filters(select(m.SecurityGroup), COLUMNS, filters),
            )
            rows = (await s.scalars(stmt.order_by(m.SecurityGroup.created_at))).all()
            return await records.security_groups(s, rows)

        return await self.core.read(work)

    async def create(
        self, ctx: RequestContext, attrs: dict[str, Any]
    ) -> records.SecurityGroupRecord:
        project = attrs.get("project_id") or ctx.project_id or ""
        if attrs.get("name") == DEFAULT:
            raise SecurityGroupDefaultAlreadyExists()
        await self.ensure_default(project)

        async def work(s: AsyncSession, ch: Changes) -> records.SecurityGroupRecord:
            await self.quotas.check(s, project, "security_group")
            group = m.SecurityGroup(
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
            )
            s.add(group)
            await s.flush()
            for rule in _egress_rules():
                self._add_rule(s, group, rule, "")
            if attrs.get("tags"):
                await set_tags(s, group.id, attrs["tags"])
            await s.flush()
            return (await records.security_groups(s, [group]))[0]

        return await self.core.write(work)

    async def update(
        self, ctx: RequestContext, group_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> records.SecurityGroupRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.SecurityGroupRecord:
            group = await self.load(s, ctx, group_id)
            check_revision(group, if_match)
            name = attrs.get("name")
            if name is not None and name != group.name:
                if group.name == DEFAULT and await self._is_default(s, group):
                    raise SecurityGroupCannotUpdateDefault()
                if name == DEFAULT:
                    raise SecurityGroupDefaultAlreadyExists()
                group.name = name
            if attrs.get("description") is not None:
                group.description = attrs["description"]
            group.bump()
            await s.flush()
            return (await records.security_groups(s, [group]))[0]

        return await self.core.write(work)

    async def _is_default(self, s: AsyncSession, group: m.SecurityGroup) -> bool:
        row = await s.get(m.DefaultSecurityGroup, group.project_id)
        return row is not None and row.security_group_id == group.id

    async def delete(self, ctx: RequestContext, group_id: str, if_match: int | None) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            group = await self.load(s, ctx, group_id)
            check_revision(group, if_match)
            if await self._is_default(s, group) and not ctx.is_admin:
                raise SecurityGroupCannotRemoveDefault()
            used = await s.scalar(
                select(m.PortSecurityGroup.port_id).where(
                    m.PortSecurityGroup.security_group_id == group.id
                )
            )
            if used is not None:
                raise SecurityGroupInUse(group.id)
            ch.groups.add(group.id)
            await ch.settle(s)
            await drop_tags(s, [group.id])
            await s.delete(group)

        await self.core.write(work)

    # -- rules -----------------------------------------------------------------------

    def _add_rule(
        self, s: AsyncSession, group: m.SecurityGroup, rule: Rule, description: str
    ) -> m.SecurityGroupRule:
        row = m.SecurityGroupRule(
            project_id=group.project_id,
            security_group_id=group.id,
            direction=rule.direction,
            ethertype=rule.ethertype,
            protocol=rule.protocol,
            port_range_min=rule.port_range_min,
            port_range_max=rule.port_range_max,
            remote_ip_prefix=rule.remote_ip_prefix,
            remote_group_id=rule.remote_group_id,
            description=description,
            fingerprint=rule.fingerprint(),
        )
        s.add(row)
        return row

    async def load_rule(
        self, s: AsyncSession, ctx: RequestContext, rule_id: str
    ) -> m.SecurityGroupRule:
        rule = await s.get(m.SecurityGroupRule, rule_id)
        if rule is None:
            raise SecurityGroupRuleNotFound(rule_id)
        if not ctx.is_admin and rule.project_id != ctx.project_id:
            group = await s.get(m.SecurityGroup, rule.security_group_id)
            if group is None or group.project_id != ctx.project_id:
                raise SecurityGroupRuleNotFound(rule_id)
        return rule

    async def get_rule(self, ctx: RequestContext, rule_id: str) -> m.SecurityGroupRule:
        return await self.core.read(lambda s: self.load_rule(s, ctx, rule_id))

    async def list_rules(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[m.SecurityGroupRule]:
        async def work(s: AsyncSession) -> list[m.SecurityGroupRule]:
            stmt = push_filters(select(m.SecurityGroupRule), RULE_COLUMNS, filters)
            if not ctx.is_admin:
                mine = select(m.SecurityGroup.id).where(
                    m.SecurityGroup.project_id == (ctx.project_id or "")
                )
                stmt = stmt.where(m.SecurityGroupRule.security_group_id.in_(mine))
            order = (m.SecurityGroupRule.created_at, m.SecurityGroupRule.id)
            return list((await s.scalars(stmt.order_by(*order))).all())

        return await self.core.read(work)

    async def group_of_rule(self, ctx: RequestContext, attrs: dict[str, Any]) -> m.SecurityGroup:
        """The group a new rule goes into (the policy target)."""
        group_id = str(attrs.get("security_group_id"))
        return await self.core.read(lambda s: self.load(s, ctx, group_id))

    async def create_rules(
        self, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[m.SecurityGroupRule]:
        checked = [(attrs, validate(attrs)) for attrs in items]

        async def work(s: AsyncSession, ch: Changes) -> list[m.SecurityGroupRule]:
            out = []
            for attrs, rule in checked:
                group = await self.load(s, ctx, str(attrs["security_group_id"]))
                if rule.remote_group_id is not None:
                    await self.load(s, ctx, rule.remote_group_id)
                await self.quotas.check(s, group.project_id, "security_group_rule")
                same = await s.scalar(
                    select(m.SecurityGroupRule.id).where(
                        m.SecurityGroupRule.security_group_id == group.id,
                        m.SecurityGroupRule.fingerprint == rule.fingerprint(),
                    )
                )
                if same is not None:
                    raise SecurityGroupRuleExists(same)
                out.append(self._add_rule(s, group, rule, attrs.get("description") or ""))
                await s.flush()
                group.bump()
                ch.groups.add(group.id)
            return out

        return await self.core.write(work)

    async def delete_rule(self, ctx: RequestContext, rule_id: str) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            rule = await self.load_rule(s, ctx, rule_id)
            group = await s.get(m.SecurityGroup, rule.security_group_id)
            if group is not None:
                group.bump()
            ch.groups.add(rule.security_group_id)
            await s.delete(rule)

        await self.core.write(work)
