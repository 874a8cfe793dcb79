"""Application credentials' access rules, enforced where every service
checks tokens (``common.api.ServiceAPI`` and the object store's caller), as
keystonemiddleware enforces them: a token made from a credential with access
rules is good only for a request whose service type, HTTP method and path
(below the service's mount, e.g. ``/v2.1/servers`` for compute) match one of
them; any other request is answered as a bad token (401).

A rule's path may hold ``*`` (any text up to the next ``/``), ``{name}``
(the same) and ``**`` (any text, ``/`` included)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.common.errors import Unauthorized

_TOKENS = re.compile(r"(?P<named>\{[^}]*\})|(?P<deep>\*\*)|(?P<one>\*)|(?P<text>[^{*]+|[{*])")


@dataclass(frozen=True, slots=True)
class AccessRule:
    service: str
    path: str
    method: str

    @classmethod
    def from_token(cls, rule: Mapping[str, Any]) -> AccessRule:
        return cls(str(rule["service"]), str(rule["path"]), str(rule["method"]))


@functools.lru_cache(maxsize=4096)
def _pattern(path: str) -> re.Pattern[str]:
    out = []
    for m in _TOKENS.finditer(path):
        if m.group("named") or m.group("one"):
            out.append(r"[^/]+")
        elif m.group("deep"):
            out.append(r".*")
        else:
            out.append(re.escape(m.group("text")))
    return re.compile("".join(out))


def path_matches(pattern: str, path: str) -> bool:
    return _pattern(pattern).fullmatch(path) is not None


def allows(
    rules: Iterable[AccessRule], service_types: Iterable[str], method: str, path: str
) -> bool:
    types = set(service_types)
    return any(
        r.method == method and r.service in types and path_matches(r.path, path) for r in rules
    )


def enforce(
    rules: tuple[AccessRule, ...] | None, service_types: Iterable[str], method: str, path: str
) -> None:
    """Raise 401 unless the token's access rules (None: unrestricted) allow
    this request."""
    if rules is not None and not allows(rules, service_types, method, path):
        raise Unauthorized("The request you have made requires authentication.")


def request_path(scope: Mapping[str, Any]) -> str:
    """The request's path below the service's mount, as the client sent it
    (percent-encoded, no query): what a rule's path is matched against."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else str(scope["path"])
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"
