"""HOT intrinsic functions.

``resolve(value, scope)`` evaluates every function in a value; ``scope``
says what parameters, conditions, files and resources are.  A mapping
with one key naming a function is that function (as Heat reads it);
anything else is data."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from stratus.orchestration.errors import InvalidTemplateReference, StackValidationFailed
from stratus.orchestration.template.unknown import UNKNOWN, UnknownValue, known

Fn = Callable[[Any, "Scope"], Any]


@dataclass
class Scope:
    """What functions see.  ``ref`` and ``attr`` answer get_resource and
    get_attr (a placeholder while the resource does not exist yet)."""

    params: dict[str, Any]
    resources: frozenset[str] = frozenset()
    conditions: dict[str, bool] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    ref: Callable[[str], Any] = lambda name: name
    attr: Callable[[str, str], Any] = lambda name, attribute: None
    in_conditions: bool = False  # evaluating the conditions section


def _fail(fn: str, message: str) -> StackValidationFailed:
    return StackValidationFailed(f"{fn}: {message}")


def _args_list(fn: str, args: Any, lo: int, hi: int | None = None) -> list[Any]:
    if not isinstance(args, list) or len(args) < lo or (hi is not None and len(args) > hi):
        want = f"{lo}" if hi == lo else f"{lo} or more" if hi is None else f"{lo} to {hi}"
        raise _fail(fn, f"Arguments to \"{fn}\" must be a list of {want} items")
    return args


def _walk_path(value: Any, path: list[Any], fn: str) -> Any:
    known(path)
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(key, (dict, list)) or key is None:
            raise _fail(fn, f"the path element {key!r} is not a key or an index")
        if isinstance(value, dict):
            value = value.get(str(key)) if str(key) in value else value.get(key)
        elif isinstance(value, list):
            try:
                value = value[int(key)]
            except (TypeError, ValueError, IndexError):
                return None
        elif value is None:
            return None
        else:
            raise _fail(fn, f"cannot follow the path {path} into {value!r}")
    return value


def get_param(args: Any, scope: Scope) -> Any:
    path = args if isinstance(args, list) else [args]
    if not path:
        raise _fail("get_param", "needs a parameter name")
    name = resolve(path[0], scope)
    known(name)
    if not isinstance(name, str):
        raise _fail("get_param", "the parameter name must be a string")
    if name not in scope.params:
        raise StackValidationFailed(f"The Parameter ({name}) was not provided.")
    return _walk_path(scope.params[name], [resolve(p, scope) for p in path[1:]], "get_param")


def get_resource(args: Any, scope: Scope) -> Any:
    if not isinstance(args, str):
        raise _fail("get_resource", "the argument must be a resource name")
    if args not in scope.resources:
        raise InvalidTemplateReference(f'The specified reference "{args}" (in unknown) is '
                                       "incorrect.")  # fmt: skip
    return scope.ref(args)


def get_attr(args: Any, scope: Scope) -> Any:
    args = _args_list("get_attr", args, 1)
    name = args[0]
    if not isinstance(name, str):
        raise _fail("get_attr", "the first argument must be a resource name")
    if name not in scope.resources:
        raise InvalidTemplateReference(f'The specified reference "{name}" (in unknown) is '
                                       "incorrect.")  # fmt: skip
    rest = [resolve(a, scope) for a in args[1:]]
    known(rest)
    if not rest:
        return scope.attr(name, "show")  # every attribute (Heat 2015-10-15+)
    return _walk_path(scope.attr(name, str(rest[0])), rest[1:], "get_attr")


def _known(args: Any, scope: Scope) -> Any:
    """The arguments evaluated; UnknownValue when any is not known yet."""
    value = resolve(args, scope)
    known(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _str_replace(args: Any, scope: Scope, strict: int, fn: str) -> Any:
    if not isinstance(args, dict) or set(args) != {"template", "params"}:
        raise _fail(fn, '"template" and "params" are required')
    tmpl, params = resolve(args["template"], scope), resolve(args["params"], scope)
    known(tmpl, params)
    if not isinstance(params, dict):
        raise _fail(fn, '"params" must be a map')
    text = _text(tmpl)
    for key in sorted(params, key=lambda k: -len(str(k))):  # longest first
        value = params[key]
        if strict and str(key) not in text:
            raise _fail(fn, f'The following params were not found in the template: "{key}"')
        if strict > 1 and (value is None or value == ""):
            raise _fail(fn, f'The following params were empty: "{key}"')
        text = text.replace(str(key), _text(value))
    return text


def list_join(args: Any, scope: Scope) -> Any:
    args = _args_list("list_join", _known(args, scope), 2)
    delim = args[0]
    if not isinstance(delim, str):
        raise _fail("list_join", "the delimiter must be a string")
    items: list[Any] = []
    for part in args[1:]:
        if not isinstance(part, list):
            raise _fail("list_join", "the items to join must be lists")
        items.extend(part)
    return delim.join(_text(i) for i in items)


def repeat(args: Any, scope: Scope) -> Any:
    if not isinstance(args, dict) or not {"template", "for_each"} <= set(args):
        raise _fail("repeat", '"template" and "for_each" are required')
    for_each = _known(args["for_each"], scope)
    if not isinstance(for_each, dict) or not all(isinstance(v, list) for v in for_each.values()):
        raise _fail("repeat", '"for_each" must map names to lists')
    keys = list(for_each)
    if args.get("permutations", True):
        combos = list(itertools.product(*(for_each[k] for k in keys)))
    else:
        lengths = {len(v) for v in for_each.values()}
        if len(lengths) > 1:
            raise _fail("repeat", "the lists must have the same length without permutations")
        combos = list(zip(*(for_each[k] for k in keys), strict=True))

    def fill(tmpl: Any, values: dict[str, Any]) -> Any:
        if isinstance(tmpl, str):
            for k, v in values.items():
                tmpl = tmpl.replace(k, _text(v))
            return tmpl
        if isinstance(tmpl, list):
            return [fill(t, values) for t in tmpl]
        if isinstance(tmpl, dict):
            return {fill(k, values): fill(v, values) for k, v in tmpl.items()}
        return tmpl

    return [resolve(fill(args["template"], dict(zip(keys, c, strict=True))), scope) for c in combos]


DIGESTS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def digest(args: Any, scope: Scope) -> Any:
    alg, value = _args_list("digest", _known(args, scope), 2, 2)
    if not isinstance(alg, str) or alg not in DIGESTS:
        raise _fail("digest", f"Algorithm must be one of {list(DIGESTS)}")
    return hashlib.new(str(alg), _text(value).encode()).hexdigest()


def str_split(args: Any, scope: Scope) -> Any:
    args = _args_list("str_split", _known(args, scope), 2, 3)
    if _text(args[0]) == "":
        raise _fail("str_split", "the delimiter must not be empty")
    parts = _text(args[1]).split(_text(args[0]))
    if len(args) == 3:
        try:
            return parts[int(args[2])]
        except (TypeError, ValueError, IndexError):
            raise _fail("str_split", f"Incorrect index to \"str_split\" should be between 0 and "
                        f"{len(parts) - 1}") from None  # fmt: skip
    return parts


def map_merge(args: Any, scope: Scope) -> Any:
    maps = _known(args, scope)
    if not isinstance(maps, list) or not all(isinstance(m, dict) for m in maps):
        raise _fail("map_merge", "the argument must be a list of maps")
    out: dict[str, Any] = {}
    for m in maps:
        out.update(m)
    return out


def map_replace(args: Any, scope: Scope) -> Any:
    args = _args_list("map_replace", _known(args, scope), 2, 2)
    source, repl = args
    if not isinstance(source, dict) or not isinstance(repl, dict) or set(repl) - {"keys", "values"}:
        raise _fail("map_replace", 'a map, then a map of "keys" and "values" replacements')
    keys, values = repl.get("keys") or {}, repl.get("values") or {}
    if not isinstance(keys, dict) or not isinstance(values, dict):
        raise _fail("map_replace", '"keys" and "values" must be maps')
    out: dict[str, Any] = {}
    for k, v in source.items():
        nk = str(keys.get(k, k))
        if nk in out:
            raise _fail("map_replace", f'key collision on "{nk}"')
        out[nk] = values.get(v, v) if isinstance(v, (str, int, float)) else v
    return out


def condition_value(cond: Any, scope: Scope) -> bool:
    if isinstance(cond, bool):
        return cond
    if isinstance(cond, str):
        if cond not in scope.conditions:
            raise StackValidationFailed(f"Invalid condition \"{cond}\"")
        return scope.conditions[cond]
    value = resolve(cond, scope)
    if not isinstance(value, bool):
        raise StackValidationFailed(f"The condition {cond!r} is not a boolean")
    return value


def if_(args: Any, scope: Scope) -> Any:
    cond, yes, no = _args_list("if", args, 3, 3)
    return resolve(yes if condition_value(cond, scope) else no, scope)


def equals(args: Any, scope: Scope) -> Any:
    a, b = _args_list("equals", _known(args, scope), 2, 2)
    return a == b


def not_(args: Any, scope: Scope) -> Any:
    return not condition_value(args, scope)


def and_(args: Any, scope: Scope) -> Any:
    items = _args_list("and", args, 2)
    return all(condition_value(c, scope) for c in items)


def or_(args: Any, scope: Scope) -> Any:
    items = _args_list("or", args, 2)
    return any(condition_value(c, scope) for c in items)


def contains(args: Any, scope: Scope) -> Any:
    value, seq = _args_list("contains", _known(args, scope), 2, 2)
    if not isinstance(seq, list):
        raise _fail("contains", "the second argument must be a list")
    return value in seq


def filter_(args: Any, scope: Scope) -> Any:
    drop, items = _args_list("filter", _known(args, scope), 2, 2)
    if not isinstance(items, list) or not isinstance(drop, list):
        raise _fail("filter", "both arguments must be lists")
    return [i for i in items if i not in drop]


def make_url(args: Any, scope: Scope) -> Any:
    args = _known(args, scope)
    if not isinstance(args, dict) or set(args) - {"scheme", "username", "password", "host",
                                                  "port", "path", "query", "fragment"}:  # fmt: skip
        raise _fail("make_url", "unknown URL part")
    url = f"{args['scheme']}://" if args.get("scheme") else "//"
    if args.get("username"):
        url += quote(str(args["username"]), safe="")
        if args.get("password"):
            url += ":" + quote(str(args["password"]), safe="")
        url += "@"
    host = str(args.get("host") or "")
    url += f"[{host}]" if ":" in host and not host.startswith("[") else host
    if args.get("port") not in (None, ""):
        try:
            port = int(args["port"])
        except (TypeError, ValueError):
            raise _fail("make_url", f"Invalid URL port {args['port']!r}") from None
        if not 0 < port < 65536:
            raise _fail("make_url", f"Invalid URL port {port}")
        url += f":{port}"
    path = str(args.get("path") or "")
    url += quote(path if path.startswith("/") or not path else "/" + path, safe="/%")
    if args.get("query"):
        if not isinstance(args["query"], dict):
            raise _fail("make_url", "the query must be a map")
        url += "?" + urlencode(args["query"])
    if args.get("fragment"):
        url += "#" + quote(str(args["fragment"]))
    return url


def _concat(fn: str, args: Any, scope: Scope, unique: bool) -> Any:
    lists = _known(args, scope)
    if not isinstance(lists, list) or not all(isinstance(x, list) for x in lists):
        raise _fail(fn, "the argument must be a list of lists")
    out: list[Any] = []
    for x in itertools.chain.from_iterable(lists):
        if not unique or x not in out:
            out.append(x)
    return out


def get_file(args: Any, scope: Scope) -> Any:
    if not isinstance(args, str):
        raise _fail("get_file", "the argument must be a file name")
    if args not in scope.files:
        raise StackValidationFailed(f"No content found in the \"files\" section for get_file "
                                    f"path: {args}")  # fmt: skip
    return scope.files[args]


def yaql(args: Any, scope: Scope) -> Any:
    raise _fail("yaql", "YAQL expressions are not supported by this cloud")


# name -> (function, the first template rank that has it)
FUNCTIONS: dict[str, tuple[Fn, int]] = {
    "get_param": (get_param, 1),
    "get_resource": (get_resource, 1),
    "get_attr": (get_attr, 1),
    "get_file": (get_file, 1),
    "str_replace": (lambda a, s: _str_replace(a, s, 0, "str_replace"), 1),
    "list_join": (list_join, 2),
    "repeat": (repeat, 2),
    "digest": (digest, 3),
    "str_split": (str_split, 4),
    "map_merge": (map_merge, 4),
    "map_replace": (map_replace, 6),
    "yaql": (yaql, 6),
    "equals": (equals, 6),
    "if": (if_, 6),
    "not": (not_, 6),
    "and": (and_, 6),
    "or": (or_, 6),
    "str_replace_strict": (lambda a, s: _str_replace(a, s, 1, "str_replace_strict"), 7),
    "filter": (filter_, 7),
    "make_url": (make_url, 7),
    "list_concat": (lambda a, s: _concat("list_concat", a, s, False), 7),
    "contains": (contains, 7),
    "list_concat_unique": (lambda a, s: _concat("list_concat_unique", a, s, True), 8),
    "str_replace_vstrict": (lambda a, s: _str_replace(a, s, 2, "str_replace_vstrict"), 9),
}
CONDITION_FUNCTIONS = frozenset({"equals", "get_param", "not", "and", "or", "contains"})


def function_of(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        if key in FUNCTIONS:
            return key, value[key]
    return None


def resolve(value: Any, scope: Scope) -> Any:
    fn = function_of(value)
    if fn is not None:
        name, args = fn
        if scope.in_conditions and name not in CONDITION_FUNCTIONS:
            raise StackValidationFailed(f'The function "{name}" is invalid in conditions.')
        try:
            return FUNCTIONS[name][0](args, scope)
        except UnknownValue:
            return UNKNOWN
    if isinstance(value, dict):
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value
