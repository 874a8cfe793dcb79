"""Domain-specific configuration (Keystone's /v3/domains/{id}/config): the
``identity`` and ``ldap`` options a domain may set for itself.  Stratus keeps
and serves them; its own identity backend is SQL for every domain."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import Forbidden, NotFound, not_found
from stratus.identity.service.core import Core

_LDAP_OPTIONS = (
    "url user suffix query_scope page_size alias_dereferencing debug_level chase_referrals "
    "user_tree_dn user_filter user_objectclass user_id_attribute user_name_attribute "
    "user_mail_attribute user_description_attribute user_pass_attribute "
    "user_enabled_attribute user_enabled_invert user_enabled_mask user_enabled_default "
    "user_attribute_ignore user_default_project_id_attribute user_enabled_emulation "
    "user_enabled_emulation_dn user_enabled_emulation_use_group_config "
    "user_additional_attribute_mapping group_tree_dn group_filter group_objectclass "
    "group_id_attribute group_name_attribute group_members_are_ids group_member_attribute "
    "group_desc_attribute group_attribute_ignore group_additional_attribute_mapping "
    "tls_cacertfile tls_cacertdir use_tls tls_req_cert use_pool pool_size pool_retry_max "
    "pool_retry_delay pool_connection_timeout pool_connection_lifetime use_auth_pool "
    "auth_pool_size auth_pool_connection_lifetime"
).split()

# The options a domain may set, by group, and what they are when it does not.
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        **dict.fromkeys(_LDAP_OPTIONS),
        "url": "ldap://localhost",
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "alias_dereferencing": "default",
        "chase_referrals": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_member_attribute": "member",
        "use_tls": False,
        "tls_req_cert": "demand",
        "use_pool": True,
        "pool_size": 10,
    },
}
# Kept, never shown (Keystone's sensitive options).
SENSITIVE: dict[str, set[str]] = {"ldap": {"password"}}


def invalid(message: str) -> Forbidden:
    return Forbidden(f"Invalid domain specific configuration: {message}")


def _check_option(group: str, option: str) -> None:
    if option not in DEFAULTS[group] and option not in SENSITIVE.get(group, set()):
        raise invalid(f"Option {option} in group {group} is not supported for domains.")


def check_groups(config: dict[str, Any]) -> None:
    if not config:
        raise invalid("No options specified.")
    for group, options in config.items():
        if group not in DEFAULTS:
            raise invalid(f"Group {group} is not supported for domain specific configurations.")
        if not isinstance(options, dict) or not options:
            raise invalid(f"Group {group} needs a map of options.")
        for option in options:
            _check_option(group, option)


def _split(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    shown: dict[str, Any] = {}
    hidden: dict[str, Any] = {}
    for group, options in config.items():
        for option, value in options.items():
            side = hidden if option in SENSITIVE.get(group, set()) else shown
            side.setdefault(group, {})[option] = value
    return shown, hidden


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(into)
    for group, options in extra.items():
        out.setdefault(group, {}).update(options)
    return out


async def _stored(s: AsyncSession, domain_id: str) -> m.DomainConfig:
    """The domain's stored configuration (404 for the domain, or for a
    configuration it does not have)."""
    row = await s.get(m.DomainConfig, domain_id)
    if row is None or not (row.config or row.sensitive):
        if await s.get(m.Domain, domain_id) is None:
            raise not_found("domain", domain_id)
        raise NotFound(f"Could not find domain config for domain {domain_id}.")
    return row


class DomainConfigs:
    def __init__(self, core: Core):
        self.core = core

    async def get(self, domain_id: str) -> dict[str, Any]:
        async with self.core.db.session() as s:
            if await s.get(m.Domain, domain_id) is None:
                raise not_found("domain", domain_id)
            row = await s.get(m.DomainConfig, domain_id)
        if row is None or not row.config:
            raise NotFound(f"Could not find domain config for domain {domain_id}.")
        return copy.deepcopy(row.config)

    async def put(self, domain_id: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Replace the domain's configuration; whether it had none before."""
        check_groups(config)
        shown, hidden = _split(config)
        async with self.core.write() as s:
            if await s.get(m.Domain, domain_id) is None:
                raise not_found("domain", domain_id)
            row = await s.get(m.DomainConfig, domain_id)
            created = row is None or not (row.config or row.sensitive)
            if row is None:
                s.add(m.DomainConfig(domain_id=domain_id, config=shown, sensitive=hidden))
            else:
                row.config, row.sensitive = shown, hidden
        return copy.deepcopy(shown), created

    async def update(
        self, domain_id: str, config: dict[str, Any], group: str | None, option: str | None
    ) -> dict[str, Any]:
        """Change some options: all of ``config``, one group, or one option."""
        if option is not None:
            assert group is not None
            if group not in DEFAULTS:
                raise invalid(f"Group {group} is not supported for domain specific configurations.")
            _check_option(group, option)
            if set(config) != {option}:
                raise invalid(f"The body names option {option} only.")
            config = {group: config}
        elif group is not None:
            if set(config) != {group}:
                raise invalid(f"The body names group {group} only.")
        check_groups(config)
        shown, hidden = _split(config)
        async with self.core.write() as s:
            row = await _stored(s, domain_id)
            current = _merge(row.config, row.sensitive)
            if group is not None and group not in current:
                raise NotFound(f"Could not find group {group} in the domain's configuration.")
            if group is not None and option is not None and option not in current[group]:
                raise NotFound(f"Could not find option {option} in group {group}.")
            row.config = _merge(row.config, shown)
            row.sensitive = _merge(row.sensitive, hidden)
            result = copy.deepcopy(row.config)
        return result

    async def delete(self, domain_id: str, group: str | None, option: str | None) -> None:
        async with self.core.write() as s:
            row = await _stored(s, domain_id)
            if group is None:
                await s.delete(row)
                return
            current = _merge(row.config, row.sensitive)
            if group not in current:
                raise NotFound(f"Could not find group {group} in the domain's configuration.")
            if option is not None and option not in current[group]:
                raise NotFound(f"Could not find option {option} in group {group}.")
            config, sensitive = copy.deepcopy(row.config), copy.deepcopy(row.sensitive)
            for side in (config, sensitive):
                if option is None:
                    side.pop(group, None)
                elif group in side:
                    side[group].pop(option, None)
                    if not side[group]:
                        del side[group]
            row.config, row.sensitive = config, sensitive


def default(group: str | None, option: str | None) -> dict[str, Any]:
    """The options' values for a domain that sets none (whitelisted only)."""
    if group is None:
        return copy.deepcopy(DEFAULTS)
    if group not in DEFAULTS:
        raise invalid(f"Group {group} is not supported for domain specific configurations.")
    if option is None:
        return {group: dict(DEFAULTS[group])}
    if option not in DEFAULTS[group]:
        raise invalid(f"Option {option} in group {group} is not supported for domains.")
    return {option: DEFAULTS[group][option]}
