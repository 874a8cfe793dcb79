"""What a stack shows: its resources, events and outputs, and the resource
types and template versions this cloud knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from stratus.common.db import Database
from stratus.orchestration import models as m
from stratus.orchestration.agent.recorder import state_of
from stratus.orchestration.agent.state import ResourceState
from stratus.orchestration.drivers.base import ResourceType
from stratus.orchestration.errors import BadRequest, NotFound
from stratus.orchestration.template import functions as fns
from stratus.orchestration.template import hot
from stratus.orchestration.template.plan import build


@dataclass
class Output:
    key: str
    value: Any
    description: str
    error: str | None


@dataclass
class EventQuery:
    resource_name: str | None = None
    actions: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    sort_dir: str = "asc"
    limit: int | None = None
    marker: str | None = None


class Reads:
    def __init__(self, db: Database, registry: Mapping[str, ResourceType]):
        self.db = db
        self.registry = registry

    async def resources(self, stack: m.Stack) -> list[m.Resource]:
        async with self.db.session() as s:
            q = select(m.Resource).where(m.Resource.stack_id == stack.id)
            return list(await s.scalars(q.order_by(m.Resource.created_at, m.Resource.name)))

    async def resource(self, stack: m.Stack, name: str) -> m.Resource:
        async with self.db.session() as s:
            row = await s.scalar(select(m.Resource).where(
                m.Resource.stack_id == stack.id, m.Resource.name == name))  # fmt: skip
        if row is None:
            raise NotFound(f"The Resource ({name}) could not be found.")
        return row

    async def events(self, stack: m.Stack, q: EventQuery) -> list[m.Event]:
        query = select(m.Event).where(m.Event.stack_id == stack.id)
        if q.resource_name is not None:
            query = query.where(m.Event.resource_name == q.resource_name)
        if q.actions:
            query = query.where(m.Event.action.in_(q.actions))
        if q.statuses:
            query = query.where(m.Event.status.in_(q.statuses))
        if q.types:
            query = query.where(m.Event.resource_type.in_(q.types))
        desc = q.sort_dir == "desc"
        if q.marker:
            async with self.db.session() as s:
                mark = await s.scalar(select(m.Event.seq).where(m.Event.id == q.marker,
                                                                m.Event.stack_id == stack.id))  # fmt: skip
            if mark is None:
                raise NotFound(f"The Event ({q.marker}) could not be found.")
            query = query.where(m.Event.seq < mark if desc else m.Event.seq > mark)
        query = query.order_by(m.Event.seq.desc() if desc else m.Event.seq.asc())
        if q.limit is not None:
            query = query.limit(q.limit)
        async with self.db.session() as s:
            return list(await s.scalars(query))

    async def event(self, stack: m.Stack, resource: str, event_id: str) -> m.Event:
        async with self.db.session() as s:
            row = await s.scalar(select(m.Event).where(
                m.Event.stack_id == stack.id, m.Event.id == event_id,
                m.Event.resource_name == resource))  # fmt: skip
        if row is None:
            raise NotFound(f"The Event ({event_id}) could not be found.")
        return row

    async def outputs(self, stack: m.Stack) -> list[Output]:
        """The template's outputs, from what the resources recorded."""
        pseudo = {"OS::stack_name": stack.name, "OS::stack_id": stack.id,
                  "OS::project_id": stack.project_id}  # fmt: skip
        try:
            plan = build(stack.template, stack.environment or {}, stack.files or {},
                         stack.parameters or {}, pseudo, self.registry.__contains__)  # fmt: skip
        except Exception:
            return []
        async with self.db.session() as s:
            rows = await s.scalars(select(m.Resource).where(m.Resource.stack_id == stack.id))
            states: dict[str, ResourceState] = {r.name: state_of(r) for r in rows}

        def ref(name: str) -> Any:
            st = states.get(name)
            return st.reference if st else None

        def attr(name: str, attribute: str) -> Any:
            st = states.get(name)
            return st.attribute(attribute) if st else None

        scope = plan.scope(ref, attr)
        out = []
        for key, body in plan.outputs().items():
            try:
                value, error = fns.resolve(body.get("value"), scope), None
            except Exception as exc:
                value, error = None, str(exc)
            out.append(Output(key, value, str(body.get("description") or "No description given"),
                              error))  # fmt: skip
        return out

    async def output(self, stack: m.Stack, key: str) -> Output:
        for o in await self.outputs(stack):
            if o.key == key:
                return o
        raise NotFound(f"Specified output key {key} not found.")

    # -- types and versions -----------------------------------------------------------------

    def type(self, name: str) -> ResourceType:
        kind = self.registry.get(name)
        if kind is None:
            raise NotFound(f"The Resource Type ({name}) could not be found.")
        return kind

    def types(self) -> list[str]:
        return sorted(self.registry)

    @staticmethod
    def versions() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for v in hot.VERSIONS:
            aliases = [f"heat_template_version.{a}" for a, d in hot.NAMES.items() if d == v]
            out.append({"version": f"heat_template_version.{v}", "type": "hot",
                        "aliases": aliases})  # fmt: skip
        return out

    @staticmethod
    def functions(version: str, with_conditions: bool = False) -> list[dict[str, str]]:
        date = version.split(".", 1)[-1]
        date = hot.NAMES.get(date, date)
        rank = hot.VERSIONS.get(date)
        if rank is None:
            raise BadRequest(f"Template version {version} is not supported.")
        names = [n for n, (_, r) in fns.FUNCTIONS.items() if r <= rank]
        if with_conditions:
            names = [n for n in names if n in fns.CONDITION_FUNCTIONS]
        return [{"functions": n, "description": f"The {n} intrinsic function."} for n in names]
