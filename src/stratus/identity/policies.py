"""Identity policy defaults, as data.  Operators override any rule in the
policy file (see docs/configuration.md).

Project-scoped "admin" is the cloud administrator, as in Keystone's legacy
defaults; members and readers see themselves, their projects and their own
application credentials, and change nothing but their own password and
credentials.
"""

RULES: dict[str, str] = {
    "owner": "user_id:%(target.user.id)s",
    "admin_or_owner": "rule:admin_required or rule:owner",
    "token_subject": "user_id:%(target.token.user_id)s",
    # tokens
    "identity:validate_token": "rule:admin_required or rule:service_role or rule:token_subject",
    "identity:check_token": "rule:admin_required or rule:service_role or rule:token_subject",
    "identity:revoke_token": "rule:admin_required or rule:service_role or rule:token_subject",
    # domains
    "identity:get_domain": "rule:admin_required or domain_id:%(target.domain.id)s or user_domain_id:%(target.domain.id)s or project_domain_id:%(target.domain.id)s",
    "identity:list_domains": "rule:admin_required",
    "identity:create_domain": "rule:admin_required",
    "identity:update_domain": "rule:admin_required",
    "identity:delete_domain": "rule:admin_required",
    # projects
    "identity:get_project": "rule:admin_required or project_id:%(target.project.id)s",
    "identity:list_projects": "rule:admin_required",
    "identity:list_user_projects": "rule:admin_or_owner",
    "identity:create_project": "rule:admin_required",
    "identity:update_project": "rule:admin_required",
    "identity:delete_project": "rule:admin_required",
    "identity:list_project_tags": "rule:admin_required or project_id:%(target.project.id)s",
    "identity:get_project_tag": "rule:admin_required or project_id:%(target.project.id)s",
    "identity:update_project_tags": "rule:admin_required",
    "identity:create_project_tag": "rule:admin_required",
    "identity:delete_project_tags": "rule:admin_required",
    "identity:delete_project_tag": "rule:admin_required",
    # users
    "identity:get_user": "rule:admin_or_owner",
    "identity:list_users": "rule:admin_required",
    "identity:create_user": "rule:admin_required",
    "identity:update_user": "rule:admin_required",
    "identity:delete_user": "rule:admin_required",
    "identity:change_password": "rule:owner",
    "identity:list_groups_for_user": "rule:admin_or_owner",
    # groups
    "identity:get_group": "rule:admin_required",
    "identity:list_groups": "rule:admin_required",
    "identity:create_group": "rule:admin_required",
    "identity:update_group": "rule:admin_required",
    "identity:delete_group": "rule:admin_required",
    "identity:list_users_in_group": "rule:admin_required",
    "identity:add_user_to_group": "rule:admin_required",
    "identity:remove_user_from_group": "rule:admin_required",
    "identity:check_user_in_group": "rule:admin_required",
    # roles
    "identity:get_role": "rule:admin_required",
    "identity:list_roles": "rule:admin_required",
    "identity:create_role": "rule:admin_required",
    "identity:update_role": "rule:admin_required",
    "identity:delete_role": "rule:admin_required",
    "identity:list_implied_roles": "rule:admin_required",
    "identity:list_role_inference_rules": "rule:admin_required",
    "identity:create_implied_role": "rule:admin_required",
    "identity:get_implied_role": "rule:admin_required",
    "identity:delete_implied_role": "rule:admin_required",
    # role assignments
    "identity:list_role_assignments": "rule:admin_required",
    "identity:list_grants": "rule:admin_required",
    "identity:check_grant": "rule:admin_required",
    "identity:create_grant": "rule:admin_required",
    "identity:revoke_grant": "rule:admin_required",
    # catalog
    "identity:get_region": "@",
    "identity:list_regions": "@",
    "identity:create_region": "rule:admin_required",
    "identity:update_region": "rule:admin_required",
    "identity:delete_region": "rule:admin_required",
    "identity:get_service": "rule:admin_required",
    "identity:list_services": "rule:admin_required",
    "identity:create_service": "rule:admin_required",
    "identity:update_service": "rule:admin_required",
    "identity:delete_service": "rule:admin_required",
    "identity:get_endpoint": "rule:admin_required",
    "identity:list_endpoints": "rule:admin_required",
    "identity:create_endpoint": "rule:admin_required",
    "identity:update_endpoint": "rule:admin_required",
    "identity:delete_endpoint": "rule:admin_required",
    # unified limits
    "identity:get_registered_limit": "@",
    "identity:list_registered_limits": "@",
    "identity:create_registered_limits": "rule:admin_required",
    "identity:update_registered_limit": "rule:admin_required",
    "identity:delete_registered_limit": "rule:admin_required",
    "identity:get_limit_model": "@",
    "identity:get_limit": "rule:admin_required or project_id:%(target.limit.project_id)s",
    "identity:list_limits": "@",
    "identity:create_limits": "rule:admin_required",
    "identity:update_limit": "rule:admin_required",
    "identity:delete_limit": "rule:admin_required",
    # application credentials
    "identity:get_application_credential": "rule:admin_or_owner",
    "identity:list_application_credentials": "rule:admin_or_owner",
    "identity:create_application_credential": "rule:owner",
    "identity:delete_application_credential": "rule:admin_or_owner",
}
