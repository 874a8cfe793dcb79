"""Configuration: one TOML file in the data folder, plus environment overrides.

Every option lives in a section of ``DATA_DIR/stratus.toml``.  An environment
variable ``STRATUS_<SECTION>__<OPTION>`` overrides the file (for example
``STRATUS_DATABASE__URL=postgresql+asyncpg://...``).  The file is written with
every option documented the first time the cloud starts; docs/configuration.md
holds the same text.

The sections live in ``platform.py`` and ``services.py``; the documented
default file in ``defaults.py``.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stratus.common.config.defaults import DEFAULT_FILE
from stratus.common.config.platform import (
    AuthConfig,
    DatabaseConfig,
    IdentityConfig,
    ImageConfig,
    LoggingConfig,
    MetricsConfig,
    PolicyConfig,
    ServerConfig,
    ServicesConfig,
)
from stratus.common.config.section import Section
from stratus.common.config.services import (
    ComputeConfig,
    DbaasConfig,
    LoadBalancerConfig,
    NetworkConfig,
    ObjectStoreConfig,
    OrchestrationConfig,
    VolumeConfig,
)

__all__ = [
    "AuthConfig",
    "CONFIG_FILE",
    "ComputeConfig",
    "Config",
    "ConfigError",
    "DEFAULT_FILE",
    "DatabaseConfig",
    "DbaasConfig",
    "ENV_PREFIX",
    "IdentityConfig",
    "ImageConfig",
    "LoadBalancerConfig",
    "LoggingConfig",
    "MAX_AUTO_WORKERS",
    "MetricsConfig",
    "NetworkConfig",
    "ObjectStoreConfig",
    "OrchestrationConfig",
    "PolicyConfig",
    "ServerConfig",
    "ServicesConfig",
    "VolumeConfig",
    "load",
    "write_default",
]

ENV_PREFIX = "STRATUS_"


CONFIG_FILE = "stratus.toml"


MAX_AUTO_WORKERS = 16  # "auto" workers: one per core, at most this many


class Config(Section):
    data_dir: Path = Path("data")
    region: str = "RegionOne"
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    identity: IdentityConfig = IdentityConfig()
    auth: AuthConfig = AuthConfig()
    image: ImageConfig = ImageConfig()
    compute: ComputeConfig = ComputeConfig()
    objectstore: ObjectStoreConfig = ObjectStoreConfig()
    network: NetworkConfig = NetworkConfig()
    volume: VolumeConfig = VolumeConfig()
    loadbalancer: LoadBalancerConfig = LoadBalancerConfig()
    dbaas: DbaasConfig = DbaasConfig()
    orchestration: OrchestrationConfig = OrchestrationConfig()
    policy: PolicyConfig = PolicyConfig()
    services: ServicesConfig = ServicesConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'stratus.db').resolve()}"

    @property
    def server_workers(self) -> int:
        """How many processes serve the API port (``[server] workers``)."""
        if self.server.workers == "auto":
            return max(1, min(len(os.sched_getaffinity(0)), MAX_AUTO_WORKERS))
        return self.server.workers

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = self.server.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    def data_path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.data_dir / path


class ConfigError(Exception):
    """The configuration file or environment holds a bad value."""


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key.startswith(ENV_PREFIX + "TEST_"):
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) == 1:
            if parts[0] in ("region",):
                out[parts[0]] = value
            continue
        section, option = parts[0], "__".join(parts[1:])
        parsed: Any = value
        if value.startswith("["):
            parsed = [v.strip().strip("'\"") for v in value.strip("[]").split(",") if v.strip()]
        out.setdefault(section, {})[option] = parsed
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(
    data_dir: Path,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Read DATA_DIR/stratus.toml, then the environment, then ``overrides``."""
    raw: dict[str, Any] = {}
    path = data_dir / CONFIG_FILE
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    raw = _merge(raw, _env_overrides(dict(os.environ if environ is None else environ)))
    raw = _merge(raw, overrides or {})
    raw["data_dir"] = data_dir
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"bad configuration ({path} or STRATUS_* variables): {problems}") from exc


def write_default(data_dir: Path) -> Path:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        path.write_text(DEFAULT_FILE)
    return path
