"""A service without the token keys validates tokens through the identity
service (the scaled-out path of the shared auth middleware)."""

import httpx
import pytest

from stratus.common.auth import RemoteValidator
from stratus.common.config import AuthConfig
from stratus.common.errors import Unauthorized
from tests.conftest import Server


def validator(server: Server, ttl: float = 30.0) -> RemoteValidator:
    cfg = AuthConfig(
        mode="remote",
        identity_url=server.identity_url,
        service_username="admin",
        service_password=server.admin_password,
        service_project="admin",
        cache_ttl=ttl,
    )
    return RemoteValidator(cfg)


async def test_remote_validation_builds_the_context(server: Server) -> None:
    token = server.admin_token()
    remote = validator(server)
    try:
        ctx = await remote.validate(token, "req-1")
        assert ctx.user_name == "admin"
        assert ctx.project_name == "admin"
        assert {"admin", "member", "reader"} <= set(ctx.roles)
        again = await remote.validate(token, "req-2")
        assert again.request_id == "req-2" and again.user_id == ctx.user_id
    finally:
        await remote.close()


async def test_remote_validation_refuses_bad_and_revoked_tokens(server: Server) -> None:
    remote = validator(server, ttl=0)  # no caching: every call asks identity
    try:
        with pytest.raises(Unauthorized):
            await remote.validate("not-a-token", "req-1")
        token = server.admin_token()
        await remote.validate(token, "req-2")
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        assert httpx.delete(f"{server.auth_url}/auth/tokens", headers=headers).status_code == 204
        with pytest.raises(Unauthorized):
            await remote.validate(token, "req-3")
    finally:
        await remote.close()
