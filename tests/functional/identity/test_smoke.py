"""The first thing a new user does: get a token and look at the catalog."""


from tests import clirun
from tests.conftest import BIN, Server


def openstack(server: Server, *args: str) -> str:
    result = clirun.run(
        [str(BIN / "openstack"), *args], env=server.env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_token_issue_and_catalog(server: Server) -> None:
    out = openstack(server, "token", "issue", "-f", "value", "-c", "project_id")
    assert len(out.strip()) == 32
    catalog = openstack(server, "catalog", "list", "-f", "value")
    assert "identity" in catalog
    assert f"{server.url}/identity" in catalog
