"""Stacks: the collection, lookups by name, one stack and its template,
environment, files and outputs."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.orchestration import models as m
from stratus.orchestration.api import views
from stratus.orchestration.api.common import check_project, redirect, svc, truthy, visible
from stratus.orchestration.errors import BadRequest
from stratus.orchestration.service import OrchestrationService
from stratus.orchestration.service.definition import definition
from stratus.orchestration.service.stacks import ListQuery


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) else value


async def index(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:stacks:index", {"project_id": req.ctx.project_id})
    q = req.query
    everyone = truthy(q.global_tenant)
    if everyone:
        req.authorize("orchestration:stacks:global_index")
    sort_dir = (q.sort_dir or "desc").lower()
    if sort_dir not in ("asc", "desc"):
        raise BadRequest("Unknown sort direction, must be one of: asc, desc")
    lq = ListQuery(
        names=_split(q.stack_name or q.name), statuses=_split(q.status or q.stack_status),
        ids=_split(q.id), tags=_split(q.tags), all_projects=everyone,
        show_deleted=truthy(q.show_deleted), sort_key=(_split(q.sort_keys) or ["creation_time"])[0],
        sort_dir=sort_dir, limit=q.limit, marker=q.marker,
    )  # fmt: skip
    rows = await svc(req).stacks.index(req.ctx, lq)
    return json_response({"stacks": [views.summary(s, req.base_url) for s in rows]})


def _definition(b: Any) -> Any:
    if b.environment_files and b.environment is None:
        raise BadRequest("environment_files need the environment they merge into.")
    if b.files_container:
        raise BadRequest("files_container is not supported by this cloud yet.")
    return definition(b.template, b.environment, b.files, b.parameters, b.template_url)


async def create(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:stacks:create", {"project_id": req.ctx.project_id})
    b = req.body
    if b.adopt_stack_data is not None:
        raise BadRequest("Stack adopt is not supported by this cloud.")
    stack = await svc(req).stacks.create(
        req.ctx, b.stack_name, _definition(b),
        disable_rollback=True if b.disable_rollback is None else b.disable_rollback,
        timeout_mins=b.timeout_mins, tags=_tags(b.tags),
    )  # fmt: skip
    links = [{"href": views.stack_url(req.base_url, stack), "rel": "self"}]
    return json_response({"stack": {"id": stack.id, "links": links}}, 201)


async def preview(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    req.authorize("orchestration:stacks:create", {"project_id": req.ctx.project_id})
    b = req.body
    d = _definition(b)
    stack = m.Stack(id="None", name=b.stack_name, project_id=req.ctx.project_id,
                    template=d.template, parameters=d.parameters, action=m.INIT,
                    status=m.COMPLETE, status_reason="", disable_rollback=True, tags=_tags(b.tags),
                    timeout_mins=b.timeout_mins)  # fmt: skip
    plan = svc(req).stacks.check(d, b.stack_name, "None", req.ctx.project_id or "")
    body = views.stack(stack, req.base_url, None)
    body["resources"] = [{
        "resource_name": n, "resource_type": r.type, "resource_identity": {
            "stack_name": b.stack_name, "stack_id": "None", "tenant": req.ctx.project_id,
            "path": f"/resources/{n}"},
        "description": "", "properties": r.properties, "required_by": [
            x for x, deps in plan.deps.items() if n in deps],
        "stack_name": b.stack_name, "stack_identity": {"stack_name": b.stack_name,
                                                       "stack_id": "None"},
        "metadata": r.metadata, "resource_action": m.INIT, "resource_status": m.COMPLETE,
        "resource_status_reason": "", "updated_time": None, "creation_time": None,
        "physical_resource_id": "",
    } for n, r in plan.resources.items()]  # fmt: skip
    return json_response({"stack": body})


async def lookup(req: ApiRequest[OrchestrationService]) -> Response:
    check_project(req)
    project = req.params.get("project_id") or req.ctx.project_id or ""
    stack = await svc(req).stacks.find(req.ctx, req.params["stack_name"], project)
    req.authorize("orchestration:stacks:show", {"project_id": stack.project_id})
    after = req.raw.url.path.rsplit(f"/stacks/{req.params['stack_name']}", 1)[-1]
    return redirect(req, stack, after.strip("/"))


async def show(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    resolve = req.query.resolve_outputs is None or truthy(req.query.resolve_outputs)
    outputs = await svc(req).reads.outputs(stack) if resolve and not stack.deleted else None
    return json_response({"stack": views.stack(stack, req.base_url, outputs)})


async def _update(req: ApiRequest[OrchestrationService], patch: bool) -> Response:
    stack = await visible(req, "orchestration:stacks:update")
    b = req.body
    if b.existing is not None and b.existing != patch:
        raise BadRequest("'existing' is given by the method: PATCH updates the existing stack.")
    if patch:
        template = b.template if b.template is not None else stack.template
        params = {k: v for k, v in (stack.parameters or {}).items() if k not in b.clear_parameters}
        params.update(b.parameters)
        env = dict(stack.environment or {})
        if b.environment is not None:
            new_env = definition({}, b.environment, {}, {}).environment
            for key, value in new_env.items():
                env[key] = {**(env.get(key) or {}), **value} if isinstance(value, dict) else value
        files = {**(stack.files or {}), **b.files}
        d = definition(template, env, files, params)
    else:
        if b.clear_parameters:
            raise BadRequest("clear_parameters is for PATCH (an update of the existing stack).")
        d = _definition(b)
    await svc(req).stacks.update(req.ctx, stack, d, disable_rollback=b.disable_rollback,
                                 timeout_mins=b.timeout_mins, tags=_tags(b.tags))  # fmt: skip
    return empty_response(202)


async def update(req: ApiRequest[OrchestrationService]) -> Response:
    return await _update(req, patch=False)


async def update_patch(req: ApiRequest[OrchestrationService]) -> Response:
    return await _update(req, patch=True)


async def delete(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:delete")
    await svc(req).stacks.delete(req.ctx, stack)
    return empty_response(204)


async def template(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    return json_response(stack.template)


async def environment(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    env = {"parameters": {}, "parameter_defaults": {}, "resource_registry": {"resources": {}},
           "event_sinks": [], "encrypted_param_names": [], **(stack.environment or {})}  # fmt: skip
    return json_response(env)


async def files(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    return json_response(stack.files or {})


async def outputs(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    rows = await svc(req).reads.outputs(stack)
    return json_response({"outputs": [{"output_key": o.key, "description": o.description}
                                      for o in rows]})  # fmt: skip


async def output(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    o = await svc(req).reads.output(stack, req.params["output_key"])
    return json_response({"output": views.output(o)})


async def abandon(req: ApiRequest[OrchestrationService]) -> Response:
    await visible(req, "orchestration:stacks:delete")
    raise BadRequest("Stack abandon is not supported by this cloud.")


async def action(req: ApiRequest[OrchestrationService]) -> Response:
    """POST .../actions: suspend, resume, check (engine tasks); a cancel of
    an update is answered as Heat does outside an update in progress."""
    stack = await visible(req, "orchestration:stacks:update")
    given = sorted(req.body.model_fields_set)
    if len(given) != 1:
        raise BadRequest("Multiple actions specified" if given else "No action specified")
    name = given[0]
    if name in ("cancel_update", "cancel_without_rollback"):
        await svc(req).stacks.cancel(req.ctx, stack, rollback=name == "cancel_update")
    else:
        await svc(req).stacks.act(req.ctx, stack, name)
    return empty_response(200)
