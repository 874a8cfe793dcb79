"""Image policy defaults, as data.

Targets carry ``project_id`` (the image's owner) and, for members,
``member_id``.  Whether an image is visible at all (owner, public, community,
or shared with the caller's project) is decided by the service before these
rules run; these decide what a caller who can see it may do.
"""

RULES: dict[str, str] = {
    "image:get_image": "rule:admin_required or role:reader",
    "image:get_images": "role:reader",
    "image:add_image": "rule:admin_required or (role:member and project_id:%(project_id)s)",
    "image:modify_image": "rule:admin_or_member",
    "image:delete_image": "rule:admin_or_member",
    "image:upload_image": "rule:admin_or_member",
    "image:download_image": "rule:admin_required or role:reader",
    "image:publicize_image": "rule:admin_required",
    "image:communitize_image": "rule:admin_or_member",
    "image:set_owner": "rule:admin_required",
    # Glance's defaults: the owner's members too.
    "image:deactivate": "rule:admin_or_member",
    "image:reactivate": "rule:admin_or_member",
    "image:add_member": "rule:admin_or_member",
    "image:delete_member": "rule:admin_or_member",
    "image:get_members": "rule:admin_required or role:reader",
    "image:get_member": "rule:admin_required or role:reader",
    "image:modify_member": "rule:admin_required or (role:member and project_id:%(member_id)s)",
    "image:stage_image": "rule:admin_or_member",
    "image:import_image": "rule:admin_or_member",
    "image:get_tasks": "rule:admin_required",
    "image:get_task": "rule:admin_required or project_id:%(project_id)s",
}
