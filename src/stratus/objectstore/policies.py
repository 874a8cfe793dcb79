"""Object-store policy defaults, as data.

Targets carry ``project_id``: the project whose account (``AUTH_<project_id>``)
the request reaches.  A project's members read and write its account, its
readers only read; admins and ResellerAdmins reach every account.  Container
ACLs (``X-Container-Read``/``-Write``) are checked by the proxy after these
rules deny: they grant access to callers these rules do not know.
"""

RULES: dict[str, str] = {
    "object_store:reseller": "rule:admin_required or role:ResellerAdmin",
    "object_store:owner_read": "rule:object_store:reseller or rule:project_reader",
    "object_store:owner_write": "rule:object_store:reseller or rule:project_member",
    # Per operation, so that an operator can tighten one of them.
    "object_store:get_account": "rule:object_store:owner_read",
    "object_store:post_account": "rule:object_store:owner_write",
    "object_store:get_container": "rule:object_store:owner_read",
    "object_store:put_container": "rule:object_store:owner_write",
    "object_store:post_container": "rule:object_store:owner_write",
    "object_store:delete_container": "rule:object_store:owner_write",
    "object_store:get_object": "rule:object_store:owner_read",
    "object_store:put_object": "rule:object_store:owner_write",
    "object_store:post_object": "rule:object_store:owner_write",
    "object_store:delete_object": "rule:object_store:owner_write",
    # Account quotas (X-Account-Meta-Quota-Bytes/-Count): resellers only.
    "object_store:set_account_quota": "rule:object_store:reseller",
}
