"""A policy engine whose rules are data.

Rules use oslo.policy's familiar syntax, so operators can carry their habits
over::

    "identity:get_project": "rule:admin_required or project_id:%(target.project.id)s"

A check is ``role:NAME``, ``rule:NAME``, ``@`` (always), ``!`` (never), or
``FIELD:VALUE`` where FIELD is one of the caller's credentials (user_id,
project_id, domain_id, system_scope, ...) and VALUE is a literal or a
``%(key)s`` reference into the target.  Checks combine with ``and``, ``or``,
``not`` and parentheses.

Each service keeps its defaults in ``policies.py``; an operator overrides any of
them in the TOML file named by ``[policy] file``.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden

log = logging.getLogger(__name__)

Check = Callable[["Enforcer", Mapping[str, Any], Mapping[str, Any]], bool]

# Base rules every service may build on.  Roles imply one another
# (admin -> manager -> member -> reader), so a member also holds "reader".
BASE_RULES: dict[str, str] = {
    "admin_required": "role:admin",
    "service_role": "role:service",
    "project_reader": "role:reader and project_id:%(project_id)s",
    "project_member": "role:member and project_id:%(project_id)s",
    "admin_or_reader": "rule:admin_required or rule:project_reader",
    "admin_or_member": "rule:admin_required or rule:project_member",
}

_TEMPLATE = re.compile(r"^%\((?P<key>[^)]+)\)s$")


class PolicyError(ValueError):
    """A rule that does not parse."""


def _lookup(target: Mapping[str, Any], key: str) -> Any:
    if key in target:
        return target[key]
    node: Any = target
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _role_check(name: str) -> Check:
    wanted = name.lower()

    def check(_e: Enforcer, creds: Mapping[str, Any], _t: Mapping[str, Any]) -> bool:
        return any(r.lower() == wanted for r in creds.get("roles", ()))

    return check


def _rule_check(name: str) -> Check:
    def check(e: Enforcer, creds: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
        return e.check_rule(name, creds, target)

    return check


def _field_check(field: str, value: str) -> Check:
    template = _TEMPLATE.match(value)

    def check(_e: Enforcer, creds: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
        have = creds.get(field)
        if have is None:
            return False
        want = _lookup(target, template.group("key")) if template else value
        if want is None:
            return False
        if isinstance(have, (list, tuple)):
            return str(want) in (str(h) for h in have)
        return str(have) == str(want)

    return check


def _const(result: bool) -> Check:
    return lambda _e, _c, _t: result


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for chunk in text.split():
        lead = len(chunk) - len(chunk.lstrip("("))
        tokens.extend("(" * lead)
        chunk = chunk[lead:]
        trail = 0
        # A trailing ")" closes a group unless it belongs to a "%(key)s".
        while chunk.endswith(")"):
            chunk, trail = chunk[:-1], trail + 1
        if chunk:
            tokens.append(chunk)
        tokens.extend(")" * trail)
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self) -> Check:
        if not self.tokens:
            return _const(True)  # an empty rule allows, as in oslo.policy
        check = self._or()
        if self.pos != len(self.tokens):
            raise PolicyError(f"unexpected {self.tokens[self.pos]!r} in rule {self.text!r}")
        return check

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise PolicyError(f"rule {self.text!r} ends too early")
        self.pos += 1
        return token

    def _or(self) -> Check:
        parts = [self._and()]
        while self._peek() == "or":
            self._take()
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda e, c, t: any(p(e, c, t) for p in parts)

    def _and(self) -> Check:
        parts = [self._not()]
        while self._peek() == "and":
            self._take()
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda e, c, t: all(p(e, c, t) for p in parts)

    def _not(self) -> Check:
        if self._peek() == "not":
            self._take()
            inner = self._not()
            return lambda e, c, t: not inner(e, c, t)
        return self._atom()

    def _atom(self) -> Check:
        token = self._take()
        if token == "(":
            inner = self._or()
            if self._take() != ")":
                raise PolicyError(f"unbalanced parentheses in rule {self.text!r}")
            return inner
        if token == "@":
            return _const(True)
        if token == "!":
            return _const(False)
        kind, sep, value = token.partition(":")
        if not sep or not kind or not value:
            raise PolicyError(f"bad check {token!r} in rule {self.text!r}")
        # Re-attach a "%(key)s" whose closing parenthesis the tokenizer split off.
        if value.startswith("%(") and not value.endswith("s") and self._peek() == ")":
            value += self._take()
        if kind == "role":
            return _role_check(value)
        if kind == "rule":
            return _rule_check(value)
        return _field_check(kind, value.strip("'\""))


def parse_rule(text: str) -> Check:
    return _Parser(text).parse()


class Enforcer:
    """Checks actions against the rules; one instance serves every service."""

    def __init__(self, defaults: Mapping[str, str], overrides: Mapping[str, str] | None = None):
        self._text: dict[str, str] = {**BASE_RULES, **defaults, **(overrides or {})}
        self._compiled: dict[str, Check] = {name: parse_rule(t) for name, t in self._text.items()}

    @classmethod
    def from_file(cls, defaults: Mapping[str, str], path: Path | None) -> Enforcer:
        overrides: dict[str, str] = {}
        if path is not None and path.exists():
            data = tomllib.loads(path.read_text())
            rules = data.get("rules", data)
            overrides = {str(k): str(v) for k, v in rules.items()}
            log.info("policy: %d rule overrides from %s", len(overrides), path)
        return cls(defaults, overrides)

    def rules(self) -> dict[str, str]:
        return dict(self._text)

    def check_rule(self, name: str, creds: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
        check = self._compiled.get(name)
        if check is None:
            log.warning("policy: unknown rule %r denies", name)
            return False
        return check(self, creds, target)

    def allowed(
        self, action: str, ctx: RequestContext, target: Mapping[str, Any] | None = None
    ) -> bool:
        return self.check_rule(action, ctx.credentials(), target or {})

    def authorize(
        self, action: str, ctx: RequestContext, target: Mapping[str, Any] | None = None
    ) -> None:
        if not self.allowed(action, ctx, target):
            raise Forbidden(f"You are not authorized to perform the requested action: {action}.")
