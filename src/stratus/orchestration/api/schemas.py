"""Orchestration request schemas (Heat v1's field names)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt

from stratus.common.api import Query, Schema

Text = Annotated[str, Field(max_length=255)]
Template = dict[str, Any] | Annotated[str, Field(max_length=512 * 1024)]
Environment = dict[str, Any] | Annotated[str, Field(max_length=512 * 1024)]


class StackFields(Schema):
    template: Template | None = None
    template_url: Annotated[str, Field(max_length=4096)] | None = None
    parameters: dict[str, Any] = {}
    files: dict[str, Any] = {}
    environment: Environment | None = None
    environment_files: list[Text] = []
    files_container: Text | None = None
    disable_rollback: StrictBool | None = None
    timeout_mins: Annotated[StrictInt, Field(ge=1, le=10080)] | None = None
    tags: Annotated[str, Field(max_length=1024)] | list[Text] | None = None


class StackCreateBody(StackFields):
    stack_name: Annotated[str, Field(min_length=1, max_length=255)]
    adopt_stack_data: Any = None


class StackUpdateBody(StackFields):
    clear_parameters: list[Text] = []
    converge: StrictBool = False
    existing: StrictBool | None = None


class ValidateBody(Schema):
    template: Template | None = None
    template_url: Annotated[str, Field(max_length=4096)] | None = None
    parameters: dict[str, Any] = {}
    files: dict[str, Any] = {}
    environment: Environment | None = None
    environment_files: list[Text] = []
    files_container: Text | None = None
    show_nested: StrictBool | None = None
    ignore_errors: Text | None = None


class StackListQuery(Query):
    stack_name: str | None = None
    name: str | None = None
    id: str | None = None
    status: str | None = None
    stack_status: str | None = None
    tags: str | None = None
    global_tenant: str | None = None
    show_deleted: str | None = None
    show_nested: str | None = None
    sort_keys: str | None = None
    sort_dir: str | None = None
    limit: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    marker: str | None = None


class StackShowQuery(Query):
    resolve_outputs: str | None = None


class ResourceListQuery(Query):
    nested_depth: Annotated[int, Field(ge=0, le=100)] | None = None
    with_detail: str | None = None
    name: str | None = None
    type: str | None = None
    status: str | None = None
    action: str | None = None


class EventListQuery(Query):
    resource_action: str | None = None
    resource_status: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    sort_dir: str | None = None
    sort_keys: str | None = None
    limit: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    marker: str | None = None
    nested_depth: Annotated[int, Field(ge=0, le=100)] | None = None


class TypeListQuery(Query):
    name: str | None = None
    version: str | None = None
    support_status: str | None = None
    with_description: str | None = None


class SignalBody(Schema):
    status: Annotated[str, Field(pattern="^(SUCCESS|FAILURE)$")] = "SUCCESS"
    reason: Annotated[str, Field(max_length=1024)] = ""
    data: Any = None
    id: Annotated[str, Field(max_length=255)] | None = None


class FunctionsQuery(Query):
    with_condition_func: str | None = None


class ActionBody(Schema):
    """One of Heat's stack actions, each given with a null value."""

    suspend: None = None
    resume: None = None
    check: None = None
    cancel_update: None = None
    cancel_without_rollback: None = None


class ResourcePatchBody(Schema):
    mark_unhealthy: StrictBool
    resource_status_reason: Annotated[str, Field(max_length=255)] = ""


class SnapshotBody(Schema):
    name: Text | None = None
