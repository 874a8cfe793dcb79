"""The policy engine: rules as data, in oslo.policy's syntax."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden
from stratus.common.policy import Enforcer, PolicyError, parse_rule


def creds(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"user_id": "u1", "project_id": "p1", "roles": ("member", "reader")}
    base.update(kw)
    return base


def check(rule: str, c: dict[str, Any] | None = None, target: dict[str, Any] | None = None, **rules: str) -> bool:
    enforcer = Enforcer({"x": rule, **rules})
    return enforcer.check_rule("x", c if c is not None else creds(), target or {})


def test_role_check() -> None:
    assert check("role:member")
    assert check("role:MEMBER")  # role names compare case-insensitively
    assert not check("role:admin")
    assert not check("role:member", creds(roles=()))


def test_rule_reference() -> None:
    assert check("rule:is_member", is_member="role:member")
    assert not check("rule:is_admin", is_admin="role:admin")
    # Base rules are available to every service.
    assert check("rule:admin_required", creds(roles=("admin",)))
    assert not check("rule:admin_required")


def test_base_project_rules_use_target() -> None:
    assert check("rule:project_member", target={"project_id": "p1"})
    assert not check("rule:project_member", target={"project_id": "p2"})
    assert check("rule:project_reader", creds(roles=("reader",)), {"project_id": "p1"})
    assert not check("rule:project_member", creds(roles=("reader",)), {"project_id": "p1"})


def test_target_templates() -> None:
    rule = "project_id:%(target.project.id)s"
    assert check(rule, target={"target.project.id": "p1"})  # flat dotted key
    assert check(rule, target={"target": {"project": {"id": "p1"}}})  # nested
    assert not check(rule, target={"target.project.id": "p2"})
    assert not check(rule, target={})  # missing target value denies
    assert not check(rule, creds(project_id=None), {"target.project.id": "p1"})  # missing credential denies
    assert check("user_id:%(owner)s", target={"owner": "u1"})


def test_literal_field_values() -> None:
    assert check("project_id:p1")
    assert check("project_id:'p1'")
    assert not check("project_id:p2")
    assert check("system_scope:all", creds(system_scope="all"))
    assert not check("system_scope:all")


def test_and_or_not_and_parentheses() -> None:
    assert check("role:member and project_id:p1")
    assert not check("role:member and project_id:p2")
    assert check("role:admin or role:reader")
    assert not check("role:admin or role:service")
    assert check("not role:admin")
    assert not check("not role:member")
    assert check("not not role:member")
    # "and" binds tighter than "or".
    assert check("role:admin and role:nope or role:member")
    assert not check("role:admin and (role:nope or role:member)")
    assert check("(role:admin or role:member) and (project_id:p1)")
    assert check("((role:member))")
    assert check("role:admin or (project_id:%(target.project.id)s and not role:banned)", target={"target.project.id": "p1"})
    assert not check(
        "role:admin or (project_id:%(target.project.id)s and not role:member)", target={"target.project.id": "p1"}
    )


def test_always_and_never() -> None:
    assert check("@", creds(roles=(), user_id=None))
    assert not check("!", creds(roles=("admin",)))
    assert check("! or role:member")
    assert not check("@ and !")
    assert check("")  # an empty rule allows, as in oslo.policy


def test_unknown_rule_denies() -> None:
    enforcer = Enforcer({})
    assert not enforcer.check_rule("identity:no_such_thing", creds(roles=("admin",)), {})
    assert not check("rule:nowhere", creds(roles=("admin",)))


@pytest.mark.parametrize(
    "text",
    ["role:member and", "not", "()", "(role:member", "role:member)", "or role:x", "role:", "justaword", ":value", "role:a role:b"],
)
def test_bad_syntax_raises(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_rule(text)
    with pytest.raises(PolicyError):
        Enforcer({"x": text})


def test_overrides_from_toml_file(tmp_path: Path) -> None:
    defaults = {"svc:read": "role:reader", "svc:write": "role:admin"}
    path = tmp_path / "policy.toml"
    path.write_text('[rules]\n"svc:write" = "role:member"\n"svc:extra" = "@"\n')
    enforcer = Enforcer.from_file(defaults, path)
    member = creds(roles=("member",))
    assert enforcer.check_rule("svc:write", member, {})
    assert enforcer.check_rule("svc:extra", member, {})
    assert not enforcer.check_rule("svc:read", member, {})  # untouched default
    assert enforcer.rules()["svc:write"] == "role:member"


def test_overrides_top_level_table(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('"svc:write" = "!"\n')
    enforcer = Enforcer.from_file({"svc:write": "@"}, path)
    assert not enforcer.check_rule("svc:write", creds(), {})


def test_missing_override_file_keeps_defaults(tmp_path: Path) -> None:
    enforcer = Enforcer.from_file({"svc:write": "role:admin"}, tmp_path / "absent.toml")
    assert enforcer.rules()["svc:write"] == "role:admin"


def test_bad_override_raises(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('"svc:write" = "role:admin or"\n')
    with pytest.raises(PolicyError):
        Enforcer.from_file({"svc:write": "@"}, path)


def test_authorize_with_context() -> None:
    enforcer = Enforcer({"svc:get": "rule:admin_required or project_id:%(target.project.id)s"})
    mine = RequestContext(request_id="req-1", user_id="u", project_id="p1", roles=("reader",))
    assert enforcer.allowed("svc:get", mine, {"target.project.id": "p1"})
    enforcer.authorize("svc:get", mine, {"target.project.id": "p1"})
    with pytest.raises(Forbidden) as err:
        enforcer.authorize("svc:get", mine, {"target.project.id": "p2"})
    assert err.value.status == 403
    assert "svc:get" in err.value.message
    admin = RequestContext(request_id="req-2", user_id="a", project_id="p9", roles=("admin",))
    enforcer.authorize("svc:get", admin, {"target.project.id": "p1"})
