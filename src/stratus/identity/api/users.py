"""Users, passwords, groups and membership."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.api.projects import default_domain
from stratus.identity.service import IdentityService


def _svc(req: ApiRequest) -> IdentityService:
    return req.service  # type: ignore[no-any-return]


async def index(req: ApiRequest) -> Response:
    req.authorize("identity:list_users")
    q = req.query
    page = await _svc(req).users.list_users(
        q.filters("name", "domain_id"), q.enabled, q.limit, q.marker
    )
    return json_response(views.page("users", page, views.user, req.base_url, req.url))


async def show(req: ApiRequest) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:get_user", {"target.user.id": user_id})
    user = await _svc(req).users.get(user_id)
    return json_response({"user": views.user(user, req.base_url)})


async def create(req: ApiRequest) -> Response:
    req.authorize("identity:create_user")
    user = await _svc(req).users.create(req.body.user.attrs(), default_domain(req))
    return json_response({"user": views.user(user, req.base_url)}, status=201)


async def update(req: ApiRequest) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:update_user", {"target.user.id": user_id})
    user = await _svc(req).users.update(user_id, req.body.user.attrs())
    return json_response({"user": views.user(user, req.base_url)})


async def delete(req: ApiRequest) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:delete_user", {"target.user.id": user_id})
    await _svc(req).users.delete(user_id)
    return empty_response()


async def change_password(req: ApiRequest) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:change_password", {"target.user.id": user_id})
    body = req.body.user
    await _svc(req).users.change_password(user_id, body.original_password, body.password)
    return empty_response()


async def user_groups(req: ApiRequest) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:list_groups_for_user", {"target.user.id": user_id})
    q = req.query
    page = await _svc(req).users.list_groups(
        q.filters("name", "domain_id"), q.limit, q.marker, user_id=user_id
    )
    return json_response(views.page("groups", page, views.group, req.base_url, req.url))


# -- groups ------------------------------------------------------------------------


async def group_index(req: ApiRequest) -> Response:
    req.authorize("identity:list_groups")
    q = req.query
    page = await _svc(req).users.list_groups(q.filters("name", "domain_id"), q.limit, q.marker)
    return json_response(views.page("groups", page, views.group, req.base_url, req.url))


async def group_show(req: ApiRequest) -> Response:
    req.authorize("identity:get_group", {"target.group.id": req.params["group_id"]})
    group = await _svc(req).users.get_group(req.params["group_id"])
    return json_response({"group": views.group(group, req.base_url)})


async def group_create(req: ApiRequest) -> Response:
    req.authorize("identity:create_group")
    group = await _svc(req).users.create_group(req.body.group.attrs(), default_domain(req))
    return json_response({"group": views.group(group, req.base_url)}, status=201)


async def group_update(req: ApiRequest) -> Response:
    req.authorize("identity:update_group", {"target.group.id": req.params["group_id"]})
    group = await _svc(req).users.update_group(req.params["group_id"], req.body.group.attrs())
    return json_response({"group": views.group(group, req.base_url)})


async def group_delete(req: ApiRequest) -> Response:
    req.authorize("identity:delete_group", {"target.group.id": req.params["group_id"]})
    await _svc(req).users.delete_group(req.params["group_id"])
    return empty_response()


async def member_index(req: ApiRequest) -> Response:
    req.authorize("identity:list_users_in_group", {"target.group.id": req.params["group_id"]})
    q = req.query
    page = await _svc(req).users.list_users(
        q.filters("name", "domain_id"),
        q.enabled,
        q.limit,
        q.marker,
        group_id=req.params["group_id"],
    )
    return json_response(views.page("users", page, views.user, req.base_url, req.url))


async def member_add(req: ApiRequest) -> Response:
    req.authorize("identity:add_user_to_group", {"target.group.id": req.params["group_id"]})
    await _svc(req).users.add_member(req.params["group_id"], req.params["user_id"])
    return empty_response()


async def member_check(req: ApiRequest) -> Response:
    req.authorize("identity:check_user_in_group", {"target.group.id": req.params["group_id"]})
    await _svc(req).users.is_member(req.params["group_id"], req.params["user_id"])
    return empty_response()


async def member_remove(req: ApiRequest) -> Response:
    req.authorize("identity:remove_user_from_group", {"target.group.id": req.params["group_id"]})
    await _svc(req).users.remove_member(req.params["group_id"], req.params["user_id"])
    return empty_response()
