"""Configuration: defaults, stratus.toml, STRATUS_SECTION__OPTION, bad values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from stratus.common.config import DEFAULT_FILE, ConfigError, load, write_default


def test_defaults_without_file(tmp_path: Path) -> None:
    cfg = load(tmp_path, environ={})
    assert cfg.data_dir == tmp_path
    assert cfg.region == "RegionOne"
    assert cfg.server.host == "127.0.0.1"
    assert cfg.server.port == 8080
    assert cfg.identity.token_expiration == 3600
    assert cfg.identity.max_active_keys == 3
    assert cfg.auth.mode == "local"
    assert cfg.services.enabled == [
        "identity", "image", "compute", "object-store", "volume", "network", "load-balancer",
        "database", "orchestration",
    ]
    assert cfg.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'stratus.db').resolve()}"
    assert cfg.public_url == "http://127.0.0.1:8080"


def test_default_file_matches_defaults(tmp_path: Path) -> None:
    path = write_default(tmp_path)
    assert path.read_text() == DEFAULT_FILE
    documented = tomllib.loads(DEFAULT_FILE)
    from_file = load(tmp_path, environ={})
    assert from_file == load(tmp_path / "empty", environ={}).model_copy(update={"data_dir": tmp_path})
    assert documented["identity"]["token_expiration"] == from_file.identity.token_expiration
    # write_default never overwrites an operator's file.
    path.write_text('region = "Mine"\n')
    write_default(tmp_path)
    assert load(tmp_path, environ={}).region == "Mine"


def test_toml_file_values(tmp_path: Path) -> None:
    (tmp_path / "stratus.toml").write_text(
        'region = "RegionTwo"\n'
        "[server]\nport = 9999\npublic_url = \"https://cloud.example.org/\"\n"
        "[identity]\ntoken_expiration = 120\nmax_active_keys = 5\n"
        '[database]\nurl = "postgresql+asyncpg://u:p@db/x"\n'
        '[services]\nenabled = ["identity", "compute"]\n'
    )
    cfg = load(tmp_path, environ={})
    assert cfg.region == "RegionTwo"
    assert cfg.server.port == 9999
    assert cfg.server.host == "127.0.0.1"  # untouched options keep defaults
    assert cfg.public_url == "https://cloud.example.org"
    assert cfg.identity.token_expiration == 120
    assert cfg.identity.max_active_keys == 5
    assert cfg.database_url == "postgresql+asyncpg://u:p@db/x"
    assert cfg.services.enabled == ["identity", "compute"]


def test_env_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "stratus.toml").write_text("[server]\nport = 9999\n[identity]\ntoken_expiration = 120\n")
    env = {
        "STRATUS_SERVER__PORT": "7000",
        "STRATUS_IDENTITY__TOKEN_EXPIRATION": "600",
        "STRATUS_DATABASE__URL": "postgresql+asyncpg://a:b@h/d",
        "STRATUS_LOGGING__ACCESS_LOG": "true",
        "STRATUS_SERVICES__ENABLED": "[identity, 'image']",
        "STRATUS_REGION": "Env-Region",
        "STRATUS_TEST_POSTGRES_URL": "ignored",
        "OTHER": "ignored",
    }
    cfg = load(tmp_path, environ=env)
    assert cfg.server.port == 7000
    assert cfg.identity.token_expiration == 600
    assert cfg.database.url == "postgresql+asyncpg://a:b@h/d"
    assert cfg.logging.access_log is True
    assert cfg.services.enabled == ["identity", "image"]
    assert cfg.region == "Env-Region"


def test_explicit_overrides_win(tmp_path: Path) -> None:
    cfg = load(tmp_path, {"server": {"port": 1234}}, environ={"STRATUS_SERVER__PORT": "7000"})
    assert cfg.server.port == 1234


def test_env_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUS_IDENTITY__LIST_LIMIT", "50")
    assert load(tmp_path).identity.list_limit == 50


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"STRATUS_SERVER__PORT": "eighty"}, "server.port"),
        ({"STRATUS_SERVER__PORT": "70000"}, "server.port"),
        ({"STRATUS_IDENTITY__TOKEN_EXPIRATION": "59"}, "identity.token_expiration"),
        ({"STRATUS_IDENTITY__MAX_ACTIVE_KEYS": "1"}, "identity.max_active_keys"),
        ({"STRATUS_AUTH__MODE": "sometimes"}, "auth.mode"),
        ({"STRATUS_SERVER__NO_SUCH_OPTION": "1"}, "server.no_such_option"),
        ({"STRATUS_NOSECTION__X": "1"}, "nosection"),
    ],
)
def test_bad_env_values_raise(tmp_path: Path, env: dict[str, str], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, environ=env)
    message = str(err.value)
    assert where in message
    assert "STRATUS_" in message or "stratus.toml" in message


def test_bad_file_value_raises(tmp_path: Path) -> None:
    (tmp_path / "stratus.toml").write_text("[identity]\ntoken_expiration = \"soon\"\n")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, environ={})
    assert "identity.token_expiration" in str(err.value)
    assert str(tmp_path / "stratus.toml") in str(err.value)


def test_unknown_option_in_file_raises(tmp_path: Path) -> None:
    (tmp_path / "stratus.toml").write_text("[server]\nprot = 80\n")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, environ={})
    assert "server.prot" in str(err.value)


def test_toml_syntax_error_raises(tmp_path: Path) -> None:
    (tmp_path / "stratus.toml").write_text("[server\nport = \n")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, environ={})
    assert "stratus.toml" in str(err.value)


def test_stratus_up_reports_bad_config(tmp_path: Path) -> None:
    """The command line turns a ConfigError into a one-line error, not a traceback."""
    import os
    import subprocess

    from tests.conftest import BIN

    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    env["STRATUS_IDENTITY__TOKEN_EXPIRATION"] = "10"
    result = subprocess.run(
        [str(BIN / "stratus"), "up", "--data-dir", str(tmp_path / "d"), "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "identity.token_expiration" in result.stderr
    assert "Traceback" not in result.stderr


def test_workers_default_to_one_per_core(tmp_path: Path) -> None:
    import os

    cfg = load(tmp_path, environ={})
    assert cfg.server.workers == "auto"
    assert cfg.server_workers == min(len(os.sched_getaffinity(0)), 16)
    assert load(tmp_path, environ={"STRATUS_SERVER__WORKERS": "3"}).server_workers == 3
    with pytest.raises(ConfigError):
        load(tmp_path, environ={"STRATUS_SERVER__WORKERS": "many"})
    with pytest.raises(ConfigError):
        load(tmp_path, environ={"STRATUS_SERVER__WORKERS": "0"})


def test_access_log_and_metrics_are_on_by_default(tmp_path: Path) -> None:
    cfg = load(tmp_path, environ={})
    assert cfg.logging.access_log is True
    assert (cfg.metrics.enabled, cfg.metrics.access) == (True, "loopback")
    off = load(tmp_path, environ={"STRATUS_LOGGING__ACCESS_LOG": "false", "STRATUS_METRICS__ACCESS": "token"})
    assert off.logging.access_log is False and off.metrics.access == "token"


def test_a_file_naming_a_removed_option_still_loads(tmp_path: Path) -> None:
    # default files written before [dbaas] fake_backup_store was removed name it
    (tmp_path / "stratus.toml").write_text("[dbaas]\nfake_backup_store = true\n")
    assert load(tmp_path, environ={}).dbaas.backup_container == "database_backups"
