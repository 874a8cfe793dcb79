"""The orchestration service's routes table (all under /orchestration)."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, RawBody, Route
from stratus.orchestration.api import misc, resources, snapshots, stacks
from stratus.orchestration.api import schemas as s

P = "/v1/{project_id}"
S = f"{P}/stacks/{{stack_name}}/{{stack_id}}"
R = f"{S}/resources/{{resource_name}}"
LOOKUP = f"{P}/stacks/{{stack_name}}"
# Heat's sub-paths a stack's name stands for its name/id (answered 302).
SUBPATHS = ("resources", "events", "template", "environment", "files", "outputs", "abandon", "actions")
ALL = ("GET", "PUT", "PATCH", "DELETE", "POST")
_LOOKUP_BODY = {"GET": NoBody, "DELETE": NoBody, "PUT": RawBody, "PATCH": RawBody, "POST": RawBody}

ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, public=True, body=NoBody, query=NoQuery),
    Route("GET", "/versions", misc.versions, public=True, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/build_info", misc.build_info, body=NoBody, query=NoQuery),
    Route("POST", f"{P}/validate", misc.validate, body=s.ValidateBody, query=NoQuery),
    Route("GET", f"{P}/resource_types", misc.types, body=NoBody, query=s.TypeListQuery),
    Route("GET", f"{P}/resource_types/{{type_name}}", misc.type_show, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/resource_types/{{type_name}}/template", misc.type_template, body=NoBody,
          query=NoQuery),  # fmt: skip
    Route("GET", f"{P}/template_versions", misc.template_versions, body=NoBody, query=NoQuery),
    # wait condition handles: the secret in the URL is the credential
    Route("POST", f"{P}/signal/{{secret}}", misc.signal, public=True, body=s.SignalBody,
          query=NoQuery),  # fmt: skip
    Route("GET", f"{P}/signal/{{secret}}", misc.signals, public=True, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/template_versions/{{version}}/functions", misc.functions, body=NoBody,
          query=s.FunctionsQuery),  # fmt: skip
    # stacks
    Route("GET", f"{P}/stacks", stacks.index, body=NoBody, query=s.StackListQuery),
    Route("GET", f"{P}/stacks/detail", stacks.index, body=NoBody, query=s.StackListQuery),
    Route("POST", f"{P}/stacks", stacks.create, body=s.StackCreateBody, query=NoQuery),
    Route("POST", f"{P}/stacks/preview", stacks.preview, body=s.StackCreateBody, query=NoQuery),
    # (a write's body is not read: the client sends it again to the stack's URL)
    *[Route(method, f"{LOOKUP}/{sub}", stacks.lookup, body=_LOOKUP_BODY[method], query=NoQuery)
      for sub in SUBPATHS for method in ALL],  # fmt: skip
    *[Route(method, LOOKUP, stacks.lookup, body=_LOOKUP_BODY[method], query=NoQuery)
      for method in ALL],  # fmt: skip
    Route("GET", S, stacks.show, body=NoBody, query=s.StackShowQuery),
    Route("PUT", S, stacks.update, body=s.StackUpdateBody, query=NoQuery),
    Route("PATCH", S, stacks.update_patch, body=s.StackUpdateBody, query=NoQuery),
    Route("DELETE", S, stacks.delete, body=NoBody, query=NoQuery),
    Route("POST", f"{S}/actions", stacks.action, body=s.ActionBody, query=NoQuery),
    Route("POST", f"{S}/snapshots", snapshots.create, body=s.SnapshotBody, query=NoQuery),
    Route("GET", f"{S}/snapshots", snapshots.index, body=NoBody, query=NoQuery),
    Route("GET", f"{S}/snapshots/{{snapshot_id}}", snapshots.show, body=NoBody, query=NoQuery),
    Route("DELETE", f"{S}/snapshots/{{snapshot_id}}", snapshots.delete, body=NoBody,
          query=NoQuery),  # fmt: skip
    Route("POST", f"{S}/snapshots/{{snapshot_id}}/restore", snapshots.restore, body=NoBody,
          query=NoQuery),  # fmt: skip
    Route("DELETE", f"{S}/abandon", stacks.abandon, body=NoBody, query=NoQuery),
    Route("GET", f"{S}/template", stacks.template, body=NoBody, query=NoQuery),
    Route("GET", f"{S}/environment", stacks.environment, body=NoBody, query=NoQuery),
    Route("GET", f"{S}/files", stacks.files, body=NoBody, query=NoQuery),
    Route("GET", f"{S}/outputs", stacks.outputs, body=NoBody, query=NoQuery),
    Route("GET", f"{S}/outputs/{{output_key}}", stacks.output, body=NoBody, query=NoQuery),
    # resources and events
    Route("GET", f"{S}/resources", resources.index, body=NoBody, query=s.ResourceListQuery),
    Route("GET", R, resources.show, body=NoBody, query=NoQuery),
    Route("PATCH", R, resources.mark_unhealthy, body=s.ResourcePatchBody, query=NoQuery),
    Route("GET", f"{R}/metadata", resources.metadata, body=NoBody, query=NoQuery),
    Route("POST", f"{R}/signal", resources.signal, body=s.SignalBody, query=NoQuery),
    Route("GET", f"{S}/events", resources.events, body=NoBody, query=s.EventListQuery),
    Route("GET", f"{R}/events", resources.resource_events, body=NoBody, query=s.EventListQuery),
    Route("GET", f"{R}/events/{{event_id}}", resources.event, body=NoBody, query=NoQuery),
]
