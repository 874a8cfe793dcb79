"""The sections of the platform itself: the API server, its database, identity and
token checks, images, policy, which services run, logging and metrics."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stratus.common.config.section import Section


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # The address clients reach; the catalog and clouds.yaml use it.
    # Empty means http://HOST:PORT (the machine's name when HOST is a wildcard).
    public_url: str = ""
    # Processes serving the port: "auto" (one per core this process may use),
    # 1 (this process only), or N (API workers; see docs/configuration.md).
    workers: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = "auto"
    # With several workers: pin process k (the primary is 0) to CPU k mod the
    # CPUs this process may use, so that each keeps its threads on one core.
    cpu_affinity: bool = False
    # Seconds a client may take to send a request's headers, and the longest
    # silence while it sends a body; then the connection is closed.
    header_timeout: float = Field(20.0, gt=0)
    body_timeout: float = Field(60.0, gt=0)
    # Seconds an idle kept-alive connection stays open between requests.
    # Longer than the clients' polling periods (python-heatclient's --wait
    # polls every 5 s): a server closing an idle connection just as the
    # client reuses it fails that request with "Remote end closed connection".
    keepalive_timeout: int = Field(75, gt=0)
    # Connections one process holds at most; more are closed at once.
    max_connections: int = Field(4096, ge=16)


class DatabaseConfig(Section):
    # Empty means SQLite in the data folder.
    url: str = ""
    echo: bool = False


class IdentityConfig(Section):
    token_expiration: int = Field(3600, ge=60, description="token lifetime in seconds")
    max_active_keys: int = Field(
        3, ge=2, description="token keys kept (staged + primary + secondary)"
    )
    # argon2id parameters; the defaults are OWASP's recommended minimum.
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_cost_kib: int = Field(19456, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    # Largest page a list returns; 0 means no limit (Keystone's list_limit).
    list_limit: int = Field(0, ge=0)
    # How often (seconds) a process looks for identity changes made by others
    # (revocations, role changes) when several API processes share a database.
    sync_interval: float = Field(1.0, gt=0)


class AuthConfig(Section):
    # "local": validate tokens with the local key repository (all-in-one, or
    # an API process that shares the identity keys).  "remote": ask the identity
    # service at identity_url, caching answers for cache_ttl seconds.
    mode: Literal["local", "remote"] = "local"
    identity_url: str = ""
    service_username: str = ""
    service_password: str = ""
    service_project: str = ""
    service_domain: str = "Default"
    cache_ttl: float = Field(30.0, ge=0)


class ImageConfig(Section):
    # "file" (a folder) or "swift" (the object store, in the service's account).
    store: Literal["file", "swift"] = "file"
    swift_container: str = "images"
    swift_segment_size: int = Field(200 << 20, ge=1 << 20)
    # Folder of the file store (relative paths are in the data folder).
    file_dir: str = "images"
    max_image_size: int = Field(1 << 40, ge=1)
    # Per-project defaults; 0 means unlimited.
    quota_images: int = Field(0, ge=0)
    quota_bytes: int = Field(0, ge=0)
    import_methods: list[str] = ["glance-direct", "web-download"]
    # Hosts (name or name:port) web-download may fetch from; none by default.
    web_download_allowed_hosts: list[str] = []
    # Convert imported images to this disk format with qemu-img ("" = keep).
    import_convert_to: str = ""
    # Refuse data that is not its declared disk_format (Glance's
    # [image_format] require_image_format_match).  Unsafe data (a qcow2 with a
    # backing or data file, a VMDK with other extents...) is refused either way.
    require_format_match: bool = True


class PolicyConfig(Section):
    # A TOML file of rule overrides (relative paths are in the data folder).
    file: str = "policy.toml"


class ServicesConfig(Section):
    enabled: list[str] = [
        "identity",
        "image",
        "compute",
        "object-store",
        "volume",
        "network",
        "load-balancer",
        "database",
        "orchestration",
    ]


class LoggingConfig(Section):
    level: str = "INFO"
    # One line per request (method, path, status, bytes, duration, request
    # id, project, user) on the logger "stratus.access".
    access_log: bool = True


class MetricsConfig(Section):
    # Serve Prometheus metrics at /metrics on the API port.
    enabled: bool = True
    # Who may read them: "loopback" (no token from 127.0.0.0/8 and ::1, an
    # admin token from elsewhere) or "token" (an admin token always).
    access: Literal["loopback", "token"] = "loopback"
