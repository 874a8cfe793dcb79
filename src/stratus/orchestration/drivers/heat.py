"""OS::Heat:: types that need no other service: RandomString, Value, None,
and ResourceGroup (members of any type, numbered)."""

from __future__ import annotations

import asyncio
import json
import secrets
import string
from typing import Any, ClassVar

from stratus.orchestration.drivers.base import Context, Outcome, Prop, ResourceType
from stratus.orchestration.errors import ResourceFailure, StackValidationFailed

SEQUENCES = {
    "lettersdigits": string.ascii_letters + string.digits,
    "letters": string.ascii_letters,
    "lowercase": string.ascii_lowercase,
    "uppercase": string.ascii_uppercase,
    "digits": string.digits,
    "hexdigits": string.digits + "abcdef",
    "octdigits": string.octdigits,
}
CLASSES = {"LETTERS_DIGITS": SEQUENCES["lettersdigits"], "LETTERS": string.ascii_letters,
           "LOWERCASE": string.ascii_lowercase, "UPPERCASE": string.ascii_uppercase,
           "DIGITS": string.digits, "HEXDIGITS": SEQUENCES["hexdigits"],
           "OCTDIGITS": string.octdigits}  # fmt: skip


def _count(n: Any, key: str, strict: bool) -> int | None:
    """A minimum count: a non-negative whole number (ValueError), or None
    when not yet known (validation)."""
    if not strict and (n is None or not isinstance(n, (int, float, str))):
        return None
    try:
        f = float(n) if not isinstance(n, bool) else -1.0
        count = int(f) if f == int(f) else -1
    except (TypeError, ValueError, OverflowError):
        count = -1
    if count < 0:
        raise ValueError(f"{key}: min must be a non-negative integer, not {n!r}")
    return count


def _pools(props: dict[str, Any], strict: bool = True) -> list[tuple[str, int]]:
    """The character pools and their minimum counts, checked before any
    string is built (ValueError); not ``strict``, values not yet known pass."""
    length: int = props["length"] if isinstance(props.get("length"), int) else -1
    known = length >= 0
    if known and not 1 <= length <= 512:
        raise ValueError("length must be between 1 and 512")
    pools: list[tuple[str, int]] = []
    for key in ("character_classes", "character_sequences"):
        items = props.get(key) or []
        for c in items if isinstance(items, list) else []:
            if key == "character_classes" and isinstance(c, str):
                c = {"class": c}
            if not isinstance(c, dict):
                if strict:
                    raise ValueError(f"{key}: each item must be a map")
                known = False
                continue
            if key == "character_classes":
                pool = CLASSES.get(str(c.get("class", "LETTERS_DIGITS")))
                if pool is None:
                    raise ValueError(f"unknown character class {c.get('class')}")
            else:
                pool = str(c.get("sequence") or "")
                if not pool:
                    raise ValueError("a character sequence needs a non-empty sequence")
            n = _count(c.get("min", 1), key, strict)
            if n is None:
                known = False
                continue
            pools.append((pool, n))
    if known and sum(n for _, n in pools) > length:
        raise ValueError("the minimum counts add up to more than length")
    return pools


class RandomString(ResourceType):
    name = "OS::Heat::RandomString"
    description = "A random string: a password or a name suffix (get_attr value)."
    properties: ClassVar[dict[str, Prop]] = {
        "length": Prop("integer", default=32),
        "sequence": Prop("string", allowed=tuple(SEQUENCES)),
        "character_classes": Prop("list"),
        "character_sequences": Prop("list"),
        "salt": Prop("string", update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {"value": "The random string."}

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().validate(props, where)
        try:
            _pools(out, strict=False)
        except ValueError as exc:
            raise StackValidationFailed(f"Property error: {where}.properties: {exc}") from None
        return out

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        try:
            pools = _pools(props)
        except ValueError as exc:
            raise ResourceFailure(str(exc)) from None
        length = props["length"]
        alphabet = "".join(p for p, _ in pools) or SEQUENCES[props.get("sequence") or "lettersdigits"]
        chars = [secrets.choice(pool) for pool, n in pools for _ in range(n)]
        chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
        secrets.SystemRandom().shuffle(chars)
        value = "".join(chars)
        # The id shown is not the secret; get_resource gives the value.
        return Outcome(f"{ctx.stack_name}-{ctx.name}-{secrets.token_hex(4)}", {"value": value})

    async def update(
        self, api: Any, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        if old.get("salt") != new.get("salt"):
            return await self.create(api, new, ctx)
        return current


class Value(ResourceType):
    name = "OS::Heat::Value"
    description = "A value computed once, read with get_attr value."
    properties: ClassVar[dict[str, Prop]] = {
        "value": Prop("any", required=True, update_allowed=True),
        "type": Prop("string", allowed=("string", "number", "json", "comma_delimited_list",
                                        "boolean"), update_allowed=True),  # fmt: skip
    }
    attributes: ClassVar[dict[str, str]] = {"value": "The value."}

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        unknown = sorted(set(props) - set(self.properties))
        if unknown:
            raise StackValidationFailed(f"Property error: {where}.properties: Unknown Property "
                                        f"{unknown[0]}")  # fmt: skip
        if "value" not in props:
            raise StackValidationFailed(f"Property error: {where}.properties: Property value "
                                        "not assigned")  # fmt: skip
        return {"value": props["value"], "type": props.get("type")}

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        value = props["value"]
        if props.get("type") == "json" and isinstance(value, str):
            value = json.loads(value)
        return Outcome(ctx.name, {"value": value})

    async def update(
        self, api: Any, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        return await self.create(api, new, ctx)


class NoneResource(ResourceType):
    name = "OS::Heat::None"
    description = "Does nothing: a placeholder in a template or a registry."

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        return dict(props)  # takes any properties

    def updatable(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return True

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        return Outcome(ctx.name)


def _substitute(value: Any, var: str, index: int) -> Any:
    if isinstance(value, str):
        return value.replace(var, str(index))
    if isinstance(value, list):
        return [_substitute(v, var, index) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, var, index) for k, v in value.items()}
    return value


class ResourceGroup(ResourceType):
    name = "OS::Heat::ResourceGroup"
    description = "count copies of one resource definition, %index% numbered."
    properties: ClassVar[dict[str, Prop]] = {
        "count": Prop("integer", default=1, update_allowed=True),
        "index_var": Prop("string", default="%index%"),
        "resource_def": Prop("map", required=True, update_allowed=True),
        "removal_policies": Prop("list", default=[], update_allowed=True),
        "removal_policies_mode": Prop("string", default="append", update_allowed=True),
    }
    lazy: ClassVar[tuple[tuple[str, str], ...]] = (("resource_def", "properties"),)
    attributes: ClassVar[dict[str, str]] = {
        "refs": "The members' ids, in index order.",
        "refs_map": "The members' ids by index.",
        "attributes": "A member attribute for every member (a path after it).",
        "removed_rsrc_list": "Indexes removed by removal policies.",
    }

    def _member_type(self, rdef: dict[str, Any]) -> ResourceType:
        kind = rdef.get("type")
        member = self.registry.get(str(kind))
        if member is None or isinstance(member, ResourceGroup):
            raise ResourceFailure(f"ResourceGroup: unknown member type {kind}")
        return member

    def check_member(self, rdef: Any, where: str) -> None:
        """A member definition (ResourceGroup's resource_def, an autoscaling
        group's resource) is a map of type, properties and metadata, of a
        type the registry knows."""
        if not isinstance(rdef, dict):
            return
        if set(rdef) - {"type", "properties", "metadata"} or "type" not in rdef:
            raise StackValidationFailed(f"Property error: {where}: "
                                        "a map of type, properties and metadata")  # fmt: skip
        if str(rdef["type"]) not in self.registry:
            raise StackValidationFailed(f"The Resource Type ({rdef['type']}) could not be "
                                        "found.")  # fmt: skip

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().validate(props, where)
        self.check_member(out.get("resource_def"), f"{where}.properties.resource_def")
        if out.get("count") is not None and out["count"] < 0:
            raise StackValidationFailed(f"Property error: {where}.properties.count: must be >= 0")
        return out

    def _member_props(self, props: dict[str, Any], index: int, ctx: Context) -> dict[str, Any]:
        rdef = props["resource_def"]
        raw = _substitute(rdef.get("properties") or {}, props["index_var"], index)
        return self._member_type(rdef).validate(ctx.resolve(raw), f"resources.{ctx.name}.{index}")

    async def _make(
        self, api: Any, props: dict[str, Any], index: int, ctx: Context
    ) -> dict[str, Any]:
        member = self._member_type(props["resource_def"])
        mprops = self._member_props(props, index, ctx)
        sub = Context(ctx.stack_name, ctx.stack_id, f"{ctx.name}-{index}", ctx.resolve,
                      config=ctx.config)
        out = await member.create(api, mprops, sub)
        return {"index": index, "type": member.name, "physical_id": out.physical_id,
                "attributes": out.attributes, "data": out.data, "properties": mprops}  # fmt: skip

    @staticmethod
    def _outcome(physical_id: str | None, members: list[dict[str, Any]]) -> Outcome:
        members.sort(key=lambda m: m["index"])
        attrs: dict[str, Any] = {
            "refs": [m["physical_id"] for m in members],
            "refs_map": {str(m["index"]): m["physical_id"] for m in members},
            "removed_rsrc_list": [],
            "members": {str(m["index"]): m["attributes"] for m in members},
        }
        return Outcome(physical_id, attrs, {"members": members})

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        made = await asyncio.gather(
            *(self._make(api, props, i, ctx) for i in range(props["count"])),
            return_exceptions=True,
        )
        members = [m for m in made if isinstance(m, dict)]
        errors = [m for m in made if isinstance(m, BaseException)]
        if errors:
            for m in members:  # nothing half-made stays behind
                await self._remove(api, m)
            raise ResourceFailure(f"A member failed: {errors[0]}")
        return self._outcome(f"{ctx.stack_name}-{ctx.name}", members)

    async def _remove(self, api: Any, member: dict[str, Any]) -> None:
        kind = self.registry[member["type"]]
        await kind.delete(api, Outcome(member["physical_id"], member["attributes"],
                                       member["data"]))  # fmt: skip

    def updatable(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return old.get("index_var") == new.get("index_var")

    @staticmethod
    def _plan(members: dict[int, Any], count: int) -> tuple[list[int], list[int]]:
        """The indices to remove and those to make for ``count`` members:
        the highest go first, the gaps below ``count`` are filled (Heat's)."""
        doomed = sorted(i for i in members if i >= count)
        return doomed, [i for i in range(count) if i not in members]

    async def update(
        self, api: Any, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        members = {m["index"]: m for m in current.data.get("members", [])}
        try:
            return await self._update(api, current, new, ctx, members)
        except BaseException:
            # what exists now (members made, replaced or removed so far) is
            # recorded, so a rollback or delete finds every one of them
            await ctx.made(self._outcome(current.physical_id, list(members.values())))
            raise

    async def _update(
        self, api: Any, current: Outcome, new: dict[str, Any], ctx: Context,
        members: dict[int, dict[str, Any]],
    ) -> Outcome:  # fmt: skip
        count = new["count"]
        doomed, fresh = self._plan(members, count)
        for index in doomed:
            await self._remove(api, members.pop(index))
        for index, m in list(members.items()):
            kind = self._member_type(new["resource_def"])
            mprops = self._member_props(new, index, ctx)
            if kind.name == m["type"] and mprops == m["properties"]:
                continue
            if kind.name != m["type"] or not kind.updatable(m["properties"], mprops):
                await self._remove(api, members.pop(index))
                members[index] = await self._make(api, new, index, ctx)
            else:
                sub = Context(ctx.stack_name, ctx.stack_id, f"{ctx.name}-{index}", ctx.resolve,
                              config=ctx.config)
                out = await kind.update(api, Outcome(m["physical_id"], m["attributes"], m["data"]),
                                        m["properties"], mprops, sub)  # fmt: skip
                members[index] = {**m, "physical_id": out.physical_id,
                                  "attributes": out.attributes, "data": out.data,
                                  "properties": mprops}  # fmt: skip
        made = await asyncio.gather(
            *(self._make(api, new, i, ctx) for i in fresh),
            return_exceptions=True,
        )
        members.update((m["index"], m) for m in made if isinstance(m, dict))
        errors = [m for m in made if isinstance(m, BaseException)]
        if errors:
            raise ResourceFailure(f"A member failed: {errors[0]}")
        return self._outcome(current.physical_id, list(members.values()))

    async def delete(self, api: Any, current: Outcome) -> None:
        await asyncio.gather(*(self._remove(api, m) for m in current.data.get("members", [])))


def group_attribute(attrs: dict[str, Any], name: str) -> Any:
    """get_attr on a group: refs/refs_map, ``resource.N[.attr]``, or the
    named attribute of every member as a list."""
    if name in ("refs", "refs_map", "removed_rsrc_list"):
        return attrs.get(name)
    members: dict[str, Any] = attrs.get("members") or {}
    if name.startswith("resource."):
        _, index, *rest = name.split(".", 2)
        member = members.get(index) or {}
        return member.get(rest[0]) if rest else (attrs.get("refs_map") or {}).get(index)
    if name == "attributes":
        return members
    return [members[k].get(name) for k in sorted(members, key=int)]
