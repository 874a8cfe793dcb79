"""Users, passwords, groups and membership."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.api.projects import default_domain
from stratus.identity.service import IdentityService


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_users")
    q = req.query
    page = await req.service.users.list_users(
        q.filters("name", "domain_id"), q.enabled, q.limit, q.marker
    )
    return json_response(views.page("users", page, views.user, req.base_url, req.url))


async def show(req: ApiRequest[IdentityService]) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:get_user", {"target.user.id": user_id})
    user = await req.service.users.get(user_id)
    return json_response({"user": views.user(user, req.base_url)})


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_user")
    user = await req.service.users.create(req.body.user.attrs(), default_domain(req))
    return json_response({"user": views.user(user, req.base_url)}, status=201)


async def update(req: ApiRequest[IdentityService]) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:update_user", {"target.user.id": user_id})
    user = await req.service.users.update(user_id, req.body.user.attrs())
    return json_response({"user": views.user(user, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:delete_user", {"target.user.id": user_id})
    await req.service.users.delete(user_id)
    return empty_response()


async def change_password(req: ApiRequest[IdentityService]) -> Response:
    # Unenforced, as Keystone's: no token needed (a user whose password
    # expired can still change it); knowing the original password is the proof.
    user_id = req.params["user_id"]
    body = req.body.user
    await req.service.users.change_password(user_id, body.original_password, body.password)
    return empty_response()


async def user_groups(req: ApiRequest[IdentityService]) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:list_groups_for_user", {"target.user.id": user_id})
    q = req.query
    page = await req.service.users.list_groups(
        q.filters("name", "domain_id"), q.limit, q.marker, user_id=user_id
    )
    return json_response(views.page("groups", page, views.group, req.base_url, req.url))


# -- groups ------------------------------------------------------------------------


async def group_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_groups")
    q = req.query
    page = await req.service.users.list_groups(q.filters("name", "domain_id"), q.limit, q.marker)
    return json_response(views.page("groups", page, views.group, req.base_url, req.url))


async def group_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_group", {"target.group.id": req.params["group_id"]})
    group = await req.service.users.get_group(req.params["group_id"])
    return json_response({"group": views.group(group, req.base_url)})


async def group_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_group")
    group = await req.service.users.create_group(req.body.group.attrs(), default_domain(req))
    return json_response({"group": views.group(group, req.base_url)}, status=201)


async def group_update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_group", {"target.group.id": req.params["group_id"]})
    group = await req.service.users.update_group(req.params["group_id"], req.body.group.attrs())
    return json_response({"group": views.group(group, req.base_url)})


async def group_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_group", {"target.group.id": req.params["group_id"]})
    await req.service.users.delete_group(req.params["group_id"])
    return empty_response()


async def member_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_users_in_group", {"target.group.id": req.params["group_id"]})
    q = req.query
    page = await req.service.users.list_users(
        q.filters("name", "domain_id"),
        q.enabled,
        q.limit,
        q.marker,
        group_id=req.params["group_id"],
    )
    return json_response(views.page("users", page, views.user, req.base_url, req.url))


async def member_add(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:add_user_to_group", {"target.group.id": req.params["group_id"]})
    await req.service.users.add_member(req.params["group_id"], req.params["user_id"])
    return empty_response()


async def member_check(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:check_user_in_group", {"target.group.id": req.params["group_id"]})
    await req.service.users.is_member(req.params["group_id"], req.params["user_id"])
    return empty_response()


async def member_remove(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:remove_user_from_group", {"target.group.id": req.params["group_id"]})
    await req.service.users.remove_member(req.params["group_id"], req.params["user_id"])
    return empty_response()
