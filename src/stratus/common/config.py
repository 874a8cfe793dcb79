"""Configuration: one TOML file in the data folder, plus environment overrides.

Every option lives in a section of ``DATA_DIR/stratus.toml``.  An environment
variable ``STRATUS_<SECTION>__<OPTION>`` overrides the file (for example
``STRATUS_DATABASE__URL=postgresql+asyncpg://...``).  The file is written with
every option documented the first time the cloud starts; docs/configuration.md
holds the same text.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "STRATUS_"
CONFIG_FILE = "stratus.toml"
MAX_AUTO_WORKERS = 16  # "auto" workers: one per core, at most this many


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
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


class DatabaseConfig(_Section):
    # Empty means SQLite in the data folder.
    url: str = ""
    echo: bool = False


class IdentityConfig(_Section):
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


class AuthConfig(_Section):
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


class ImageConfig(_Section):
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


class ComputeConfig(_Section):
    # "qemu" (the default), "libvirt" or "fake" (tests only: no real guests).
    driver: Literal["qemu", "libvirt", "fake"] = "qemu"
    # The libvirt driver's connection URI, and the domain type of its guests
    # ("" : the URI's own: qemu:// gives "qemu", i.e. TCG; set "kvm" for KVM).
    libvirt_uri: str = "qemu:///system"
    libvirt_virt_type: Literal["", "qemu", "kvm", "xen", "lxc", "vmware", "hyperv", "test"] = ""
    # Tests only: the capabilities the fake driver declares (None: all of them).
    fake_capabilities: list[str] | None = None
    # The all-in-one's compute host name; empty means the machine's name.
    host: str = ""
    # Folder of instance disks and the image cache (relative: in the data folder).
    instances_dir: str = "compute"
    accel: Literal["auto", "kvm", "tcg"] = "auto"
    cpu_allocation_ratio: float = Field(16.0, gt=0)
    ram_allocation_ratio: float = Field(1.0, gt=0)
    disk_allocation_ratio: float = Field(1.0, gt=0)
    reserved_host_memory_mb: int = Field(512, ge=0)
    # Seconds between an agent's checks of its guests' power states.
    sync_interval: float = Field(10.0, gt=0)
    # Seconds a clean (ACPI) shutdown may take before the guest is powered off.
    shutdown_timeout: float = Field(60.0, ge=0)
    # Seconds a boot or an interface hot-plug waits for the network service's
    # network-vif-plugged event of each port not yet ACTIVE (Nova's
    # vif_plugging_timeout); 0: no wait.  vif_plugging_is_fatal: a port whose
    # event did not come (or came "failed") fails the boot or the attach;
    # false: the guest starts anyway, and the log says so.
    vif_plugging_timeout: float = Field(300.0, ge=0)
    vif_plugging_is_fatal: bool = True
    # How compute reaches the network service: "local" (its service layer in
    # this process, on the shared database), "http" (Neutron's API at the
    # catalog's network endpoint, as the service user: a compute tier without
    # the network service), "none"; "auto": local when the network service is
    # enabled here, else none.
    network_client: Literal["auto", "local", "http", "none"] = "auto"
    # An agent silent for this long is down.
    service_down_time: float = Field(60.0, gt=0)
    # Seconds a shelved server keeps its host before it is offloaded: 0 at
    # once (Nova's default), -1 never.
    shelved_offload_time: int = Field(0, ge=-1)
    # Register the built-in tiny guest image at first start.
    tiny_image: bool = True
    # Default quotas per project.
    quota_instances: int = 10
    quota_cores: int = 20
    quota_ram: int = 51200
    quota_key_pairs: int = 100
    quota_metadata_items: int = 128
    quota_server_groups: int = 10
    quota_server_group_members: int = 10
    # The agent channel: each compute agent's authenticated HTTP server (disks
    # moving between hosts, console output).  Port 0 picks a free port.
    agent_listen: str = "127.0.0.1"
    agent_port: int = Field(0, ge=0, le=65535)
    # The URL other agents and API processes reach this agent at; empty means
    # http://agent_listen:port.
    agent_url: str = ""
    # Whether a resize may keep the server on its host (Nova's option).  Unset:
    # yes while the cloud has a single compute host (the all-in-one), no once
    # it has more (Nova's default).
    allow_resize_to_same_host: bool | None = None


class SyncRealmConfig(_Section):
    """A container-sync realm (Swift's container-sync-realms.conf section)."""

    # The realm's key, and a second one accepted while keys are rotated.
    key: str = Field(min_length=1)
    key2: str = ""
    # Cluster name -> its Swift endpoint (``http://host:port/v1/``).
    clusters: dict[str, str] = {}


class ObjectStoreConfig(_Section):
    # Folder of the storage devices (relative: in the data folder).
    devices_dir: str = "objectstore/devices"
    # Folder of account.ring.gz, container.ring.gz and object.ring.gz.
    ring_dir: str = "objectstore/rings"
    # The all-in-one's in-process node: its device and the address rings name.
    device: str = "sda"
    node_ip: str = "127.0.0.1"
    node_port: int = Field(6200, ge=1, le=65535)
    # "local": the all-in-one's node runs in this process; "http": nodes are
    # `stratus storage-node` processes reached over HTTP.
    nodes: Literal["local", "http"] = "local"
    # Seconds between passes of the in-process node's background workers
    # (replicator, auditor, updater, expirer).
    worker_interval: float = Field(30.0, gt=0)
    # CORS (Swift's proxy options): origins allowed for every container
    # besides each container's X-Container-Meta-Access-Control-Allow-Origin,
    # headers exposed on every CORS answer, and whether an origin not
    # allowed gets no CORS headers at all.
    cors_allow_origin: list[str] = []
    cors_expose_headers: list[str] = []
    strict_cors_mode: bool = True
    # Container sync: seconds between the sync worker's passes over the
    # synced containers; the realms `//realm/cluster/account/container`
    # names (a table per realm, or JSON in the environment variable); the
    # hosts a full-URL X-Container-Sync-To may name, and whether full URLs
    # are allowed at all.
    container_sync_interval: float = Field(60.0, gt=0)
    container_sync_realms: dict[str, SyncRealmConfig] = {}
    container_sync_allowed_hosts: list[str] = ["127.0.0.1"]
    container_sync_allow_full_urls: bool = True

    @field_validator("container_sync_realms", mode="before")
    @classmethod
    def _realms_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class NetworkConfig(_Section):
    # The host whose agent serves every network's DHCP and runs every router
    # (the "network node"); empty means the compute host's name.
    host: str = ""
    # MTU of project networks (VXLAN's 50 bytes of headers under 1500).
    mtu: int = Field(1450, ge=68, le=9000)
    # VXLAN network identifiers given to networks, lowest free first.
    vni_min: int = Field(1, ge=1, le=16777215)
    vni_max: int = Field(16777215, ge=1, le=16777215)
    # The external network made at bootstrap (shared=false, router:external):
    # a range reserved for testing, reachable from this host only.
    external_network: str = "public"
    external_cidr: str = "198.18.0.0/24"
    # Its gateway (the host's own address on it); empty means the first address.
    external_gateway: str = ""
    # The default subnet pool projects' subnets (and "get me a network")
    # are carved from, and the prefix length of each subnet.
    default_subnet_pool: str = "10.0.0.0/8"
    default_prefixlen: int = Field(24, ge=8, le=30)
    # Seconds of silence after which a network agent counts as down.
    agent_down_time: float = Field(75.0, gt=0)
    # Default quotas per project (-1: unlimited).
    quota_network: int = Field(100, ge=-1)
    quota_subnet: int = Field(100, ge=-1)
    quota_port: int = Field(500, ge=-1)
    quota_router: int = Field(10, ge=-1)
    quota_floatingip: int = Field(50, ge=-1)
    quota_security_group: int = Field(10, ge=-1)
    quota_security_group_rule: int = Field(100, ge=-1)
    quota_subnetpool: int = Field(-1, ge=-1)
    # The network agent's data plane: "linux" (bridges, VXLAN, nftables,
    # dnsmasq, namespaces; needs root) or "fake" (tests only).
    driver: Literal["linux", "fake"] = "linux"
    # The agent's folder (dnsmasq's files per host), relative to the data folder.
    state_dir: str = "network"
    # The network namespace holding this host's bridges and taps; empty
    # means the root namespace (the all-in-one).  Several hosts on one
    # machine each take their own, joined by the underlay bridge.
    host_namespace: str = ""
    # This host's VXLAN endpoint ("IP" or "IP/PREFIX"); empty: no tunnels
    # (a single host).  With a host namespace it is the address of the
    # namespace's veth into underlay_bridge.
    tunnel_address: str = ""
    underlay_bridge: str = Field("stratus-under", min_length=1, max_length=15)
    # What the host holds on the external network's bridge: "gateway" (the
    # external subnets' gateway addresses), "" (nothing), or an address
    # with its prefix ("198.18.0.1/24").
    external_bridge_address: str = "gateway"
    # Relay the cloud's API (the public URL's port) to guests on the host's
    # external addresses, so that guests behind a router reach it (wait
    # condition signals): network/drivers/linux/apirelay.py.
    guest_api_relay: bool = True
    # The domain dnsmasq gives guests (Neutron's dns_domain).
    dns_domain: str = "openstacklocal"
    # Where the metadata proxy forwards guests' requests (Nova's metadata
    # API): an http:// URL or unix:/path; empty answers 503.
    metadata_upstream: str = ""
    # The secret of X-Instance-ID-Signature (Nova's
    # metadata_proxy_shared_secret); empty: DATA_DIR/metadata-secret,
    # made once.
    metadata_shared_secret: str = ""
    # Seconds between the agent's full comparisons with the host.
    sync_interval: float = Field(30.0, gt=0)


class VolumeConfig(_Section):
    # "file" (the default: volumes are qcow2 or raw files) or "fake" (tests only).
    driver: Literal["file", "fake"] = "file"
    # The all-in-one's volume host name; empty means the machine's name.
    host: str = ""
    # The backend's name: volumes live on "HOST@BACKEND#POOL" (pool = backend).
    backend_name: str = "file"
    availability_zone: str = "nova"
    # Folder of volume files, per host (relative: in the data folder).
    volumes_dir: str = "volumes"
    # Format of new volume files: "qcow2" (internal snapshots) or "raw".
    file_format: Literal["qcow2", "raw"] = "qcow2"
    # GiB the backend offers; 0 means the size of the filesystem holding it.
    capacity_gb: int = Field(0, ge=0)
    # Thin provisioning: GiB allocated may pass capacity by this ratio.
    max_over_subscription_ratio: float = Field(20.0, gt=0)
    # The volume type used when none is asked for.
    default_volume_type: str = "__DEFAULT__"
    # Backups: the object store container when none is named, the size of
    # their chunks and how chunks are compressed ("zlib" or "none").
    backup_container: str = "volumebackups"
    backup_chunk_size: int = Field(16 << 20, ge=1 << 20, le=1 << 30)
    backup_compression: Literal["zlib", "none"] = "zlib"
    # Seconds between an agent's comparisons of its files with the database.
    sync_interval: float = Field(30.0, gt=0)
    # Network exports: a compute host other than the agent's own (and those
    # of local_hosts; the all-in-one's compute host is one) reaches a volume
    # over NBD served by qemu-storage-daemon with TLS-PSK, bound to
    # export_listen (keep it on the storage network; 127.0.0.1 reaches this
    # machine only) and advertised to the consumer as export_address (empty:
    # export_listen).  export_timeout: seconds an attachment update waits
    # for the agent to start the export.
    local_hosts: list[str] = []
    export_listen: str = "127.0.0.1"
    export_address: str = ""
    export_timeout: float = Field(30.0, gt=0)
    # An agent silent for this long is down.
    service_down_time: float = Field(60.0, gt=0)
    # Default quotas per project (-1: unlimited).
    quota_volumes: int = Field(10, ge=-1)
    quota_gigabytes: int = Field(1000, ge=-1)
    quota_snapshots: int = Field(10, ge=-1)
    quota_backups: int = Field(10, ge=-1)
    quota_backup_gigabytes: int = Field(1000, ge=-1)
    quota_per_volume_gigabytes: int = Field(-1, ge=-1)
    quota_groups: int = Field(10, ge=-1)


class LoadBalancerConfig(_Section):
    # The lb agent's data plane: "haproxy" (one HAProxy per load balancer in
    # a namespace holding its VIP port; needs root) or "fake" (tests only).
    driver: Literal["haproxy", "fake"] = "haproxy"
    # The host whose lb agent runs the load balancers; empty means the
    # network host (it plugs the VIP ports into the load balancers' namespaces).
    host: str = ""
    # The agent's folder (HAProxy's configuration files), relative to the data folder.
    state_dir: str = "loadbalancer"
    # The HAProxy binary (Debian's package).
    haproxy: str = "haproxy"
    # HAProxy's nice value (0: an equal share of the CPU), given to its
    # session's scheduling group too (autogroup: HAProxy daemonizes into a
    # session of its own, where a task's nice alone weighs only against
    # itself).  A negative one favours the one process every request of a
    # load balancer passes through over the guests of a busy host.
    haproxy_nice: int = Field(0, ge=-20, le=19)
    # Run the lb agent in the all-in-one's process; false when
    # `stratus lb-agent` runs the load balancers as a process of its own.
    run_agent: bool = True
    # Seconds between the agent's readings of each HAProxy's health and
    # counters (and its check that every process runs).
    health_interval: float = Field(1.0, gt=0)
    # Seconds of silence after which an lb agent counts as down.
    agent_down_time: float = Field(60.0, gt=0)
    # Default quotas per project (-1: unlimited).
    quota_loadbalancer: int = Field(-1, ge=-1)
    quota_listener: int = Field(-1, ge=-1)
    quota_pool: int = Field(-1, ge=-1)
    quota_member: int = Field(-1, ge=-1)
    quota_healthmonitor: int = Field(-1, ge=-1)
    quota_l7policy: int = Field(-1, ge=-1)
    quota_l7rule: int = Field(-1, ge=-1)


class DbaasConfig(_Section):
    """The database service (Trove): ``[dbaas]`` (``[database]`` is Stratus's own)."""

    # "local" (the agent runs Debian's postgres and mariadbd itself; needs
    # root) or "fake" (tests only).
    driver: Literal["local", "fake"] = "local"
    # The all-in-one's database host name; empty means the machine's name.
    host: str = ""
    availability_zone: str = "nova"
    # The agent's folder (mount points, sockets, logs), relative to the data folder.
    state_dir: str = "dbaas"
    # Data on a block-storage volume of the requested size (a filesystem on
    # it, mounted through a loop device); false: a plain folder under
    # /run/stratus-database, size unenforced and lost at reboot (tests only).
    use_volumes: bool = True
    # Instance volumes as raw files (a private volume type asking the file
    # backend for them), looped with direct I/O; false: the volume service's
    # own format (qcow2 goes through qemu-storage-daemon's FUSE export, about
    # half the pgbench TPS measured here).
    raw_volumes: bool = True
    # Whether the all-in-one runs this host's database agent in its own
    # process; false when a ``stratus database-agent`` process runs it (two
    # agents of one host would act on the same servers).
    run_agent: bool = True
    # The object store container of backups.
    backup_container: str = "database_backups"
    # The object store container that instance logs are published to (in
    # the instance's project's account, as Trove's guest_log_container_name).
    log_container: str = "database_logs"
    # Seconds a log action (publish, discard, enable, show) waits for the
    # agent before it answers with the log as it stands.
    log_action_timeout: float = Field(30.0, gt=0)
    # Seconds between the agent's comparisons of its servers with the database
    # (a dead server is started again at the next one).
    sync_interval: float = Field(5.0, gt=0)
    # An agent silent for this long is down.
    service_down_time: float = Field(60.0, gt=0)
    # Default quotas per project (-1: unlimited).
    quota_instances: int = Field(10, ge=-1)
    quota_volumes: int = Field(100, ge=-1)  # GiB of instance volumes
    quota_backups: int = Field(50, ge=-1)
    # Largest volume one instance may ask for (GiB).
    max_volume_size: int = Field(100, ge=1)


class OrchestrationConfig(_Section):
    """The orchestration service (Heat): ``[orchestration]``."""

    # Stacks whose tasks the engine runs at once (their resources run in
    # parallel within each stack).
    max_parallel_stacks: int = Field(8, ge=1, le=256)
    # Stacks a project may have (-1: unlimited).
    max_stacks_per_project: int = Field(-1, ge=-1)
    # The cloud's URL as guests reach it (as [server] public_url; Heat's
    # heat_waitcondition_server_url): wait condition handles' signal URLs
    # start with it.  Empty: the network agent's API relay on the host's
    # external address ([network] guest_api_relay), else the public URL.
    waitcondition_server_url: str = ""


class PolicyConfig(_Section):
    # A TOML file of rule overrides (relative paths are in the data folder).
    file: str = "policy.toml"


class ServicesConfig(_Section):
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


class LoggingConfig(_Section):
    level: str = "INFO"
    # One line per request (method, path, status, bytes, duration, request
    # id, project, user) on the logger "stratus.access".
    access_log: bool = True


class MetricsConfig(_Section):
    # Serve Prometheus metrics at /metrics on the API port.
    enabled: bool = True
    # Who may read them: "loopback" (no token from 127.0.0.0/8 and ::1, an
    # admin token from elsewhere) or "token" (an admin token always).
    access: Literal["loopback", "token"] = "loopback"


class Config(_Section):
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


DEFAULT_FILE = """\
# Stratus configuration.  Every option is shown with its default value.
# An environment variable STRATUS_<SECTION>__<OPTION> overrides this file,
# e.g. STRATUS_DATABASE__URL or STRATUS_SERVER__PORT.  See docs/configuration.md.

# Region of the service catalog.
region = "RegionOne"

[server]
# Address and port `stratus up` listens on (the command-line flags win).
host = "127.0.0.1"
port = 8080
# Address clients reach, used in the catalog and clouds.yaml.
# Empty means http://HOST:PORT.
public_url = ""
# Processes serving the port: "auto" (one per core), 1 (this process only) or N.
workers = "auto"
# Pin each process to its own CPU (see docs/configuration.md).
cpu_affinity = false
# Seconds a client may take to send a request's headers, and the longest
# silence while it sends a body, before its connection is closed.
header_timeout = 20.0
body_timeout = 60.0
# Connections one process holds at most; more are closed at once.
max_connections = 4096

[database]
# SQLAlchemy URL.  Empty means SQLite in the data folder.  For PostgreSQL:
# "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DBNAME".
url = ""
echo = false

[identity]
# Token lifetime in seconds.
token_expiration = 3600
# Token keys kept in DATA_DIR/fernet-keys (staged, primary and older ones).
max_active_keys = 3
# argon2id password hashing; the defaults are OWASP's recommended minimum.
argon2_time_cost = 2
argon2_memory_cost_kib = 19456
argon2_parallelism = 1
# Largest page a list returns; 0 means unlimited.
list_limit = 0
# Seconds between checks for changes made by other API processes
# sharing the database (revocations, role changes).
sync_interval = 1.0

[auth]
# How API processes validate tokens: "local" (with the token keys) or
# "remote" (ask identity_url, caching answers for cache_ttl seconds).
mode = "local"
identity_url = ""
service_username = ""
service_password = ""
service_project = ""
service_domain = "Default"
cache_ttl = 30.0

[image]
# Where image data is kept: "file" (a folder) or "swift" (the object store:
# segments of swift_segment_size bytes in the service project's account).
store = "file"
swift_container = "images"
swift_segment_size = 209715200
file_dir = "images"
# Largest image, in bytes (1 TiB).
max_image_size = 1099511627776
# Per-project quotas (0 = unlimited); identity's unified limits
# image_count_total and image_size_total (MiB) override them per project.
quota_images = 0
quota_bytes = 0
# Interoperable import methods offered.
import_methods = ["glance-direct", "web-download"]
# Hosts (name or name:port) web-download may fetch from; none by default.
web_download_allowed_hosts = []
# Convert imported images to this disk format with qemu-img ("" = keep).
import_convert_to = ""

[compute]
# Hypervisor driver: "qemu" (QEMU through QMP, no daemon) or "libvirt"
# (libvirt-python: pip install 'stratus[libvirt]').  "fake" is for tests only.
driver = "qemu"
# The libvirt driver's connection URI: qemu:///system, xen:///system,
# lxc:///system, esx://HOST, hyperv://HOST, ...
libvirt_uri = "qemu:///system"
# Domain type of the libvirt driver's guests: "" means the URI's own
# ("qemu" for qemu:// URIs, software emulation); "kvm", "xen", "lxc",
# "vmware" or "hyperv" to choose.
libvirt_virt_type = ""
# This machine's compute host name; empty means the machine's name.
host = ""
# Folder of instance disks and the image cache, relative to the data folder.
instances_dir = "compute"
# Accelerator: "auto" probes KVM and falls back to TCG (software emulation).
accel = "auto"
cpu_allocation_ratio = 16.0
ram_allocation_ratio = 1.0
disk_allocation_ratio = 1.0
reserved_host_memory_mb = 512
# Seconds between checks of the guests' power states.
sync_interval = 10.0
# Seconds a clean shutdown may take before the guest is powered off.
shutdown_timeout = 60.0
# Seconds a boot or hot-plug waits for network-vif-plugged of each port not yet
# ACTIVE (0: no wait), and whether one that did not come fails it.
vif_plugging_timeout = 300.0
vif_plugging_is_fatal = true
# How compute reaches the network service: "auto" (in-process when enabled
# here, else none), "local", "http" (its API, from another process), "none".
network_client = "auto"
# Seconds of silence after which a compute agent counts as down.
service_down_time = 60.0
# Register the built-in tiny guest image and the m1 flavors at first start.
tiny_image = true
# Default quotas per project (os-quota-sets overrides them per project).
quota_instances = 10
quota_cores = 20
quota_ram = 51200
quota_key_pairs = 100
quota_metadata_items = 128
quota_server_groups = 10
quota_server_group_members = 10
# The agent channel: every compute agent serves disks and console output to
# the others over HTTP, authenticated with the service user's token.
agent_listen = "127.0.0.1"
agent_port = 0
agent_url = ""
# Whether a resize may keep the server on its own host (Nova's option).
# Unset: yes while the cloud has one compute host (the all-in-one), no once
# it has more, as Nova.
# allow_resize_to_same_host = false

[objectstore]
# Folder of the storage devices, and of the rings (relative: in the data folder).
devices_dir = "objectstore/devices"
ring_dir = "objectstore/rings"
# The all-in-one's in-process storage node: its device and the address the
# rings name for it.
device = "sda"
node_ip = "127.0.0.1"
node_port = 6200
# "local" (the node runs in this process) or "http" (storage-node processes).
nodes = "local"
# Seconds between passes of the node's replicator, auditor, updater and expirer.
worker_interval = 30.0
# CORS: origins allowed for every container (besides each container's
# X-Container-Meta-Access-Control-Allow-Origin), headers exposed on every
# CORS answer, and whether an origin not allowed gets no CORS headers.
cors_allow_origin = []
cors_expose_headers = []
strict_cors_mode = true
# Container sync: seconds between passes of the sync worker; the hosts a
# full-URL X-Container-Sync-To may name, and whether full URLs are allowed.
container_sync_interval = 60.0
container_sync_allowed_hosts = ["127.0.0.1"]
container_sync_allow_full_urls = true
# Realms for X-Container-Sync-To: //REALM/CLUSTER/ACCOUNT/CONTAINER, e.g.
# [objectstore.container_sync_realms.US]
# key = "a secret shared by the realm's clusters"
# key2 = ""
# clusters = { DFW1 = "http://127.0.0.1:8080/v1/" }

[network]
# The host whose agent serves every network's DHCP and runs every router;
# empty means the compute host's name.
host = ""
# MTU of project networks (VXLAN between hosts takes 50 bytes of 1500).
mtu = 1450
# VXLAN network identifiers given to networks, lowest free first.
vni_min = 1
vni_max = 16777215
# The external network made at start: router:external, owned by the admin
# project, on a range reserved for testing that only this host reaches.
external_network = "public"
external_cidr = "198.18.0.0/24"
# Its gateway, which the host holds; empty means the first address.
external_gateway = ""
# The default subnet pool ("get me a network" carves project subnets of
# default_prefixlen from it).
default_subnet_pool = "10.0.0.0/8"
default_prefixlen = 24
# Seconds of silence after which a network agent counts as down.
agent_down_time = 75.0
# Default quotas per project (-1 = unlimited); /v2.0/quotas overrides them.
quota_network = 100
quota_subnet = 100
quota_port = 500
quota_router = 10
quota_floatingip = 50
quota_security_group = 10
quota_security_group_rule = 100
quota_subnetpool = -1
# The network agent's data plane: "linux" (needs root) or "fake" (tests only).
driver = "linux"
# The agent's folder (dnsmasq's files), relative to the data folder.
state_dir = "network"
# Network namespace of this host's bridges and taps ("" = the root one).
host_namespace = ""
# This host's VXLAN endpoint, "IP" or "IP/PREFIX" ("" = no tunnels).
tunnel_address = ""
# With a host namespace: the root namespace's bridge joining the hosts.
underlay_bridge = "stratus-under"
# The host's address on the external network's bridge: "gateway" (the
# external subnets' gateways), "" (none) or "ADDRESS/PREFIX".
external_bridge_address = "gateway"
# Relay the API (the public URL's port) to guests on the host's external
# addresses (the default wait condition signal URL goes there).
guest_api_relay = true
# The domain guests get by DHCP.
dns_domain = "openstacklocal"
# Nova's metadata API the metadata proxy forwards to (http://... or
# unix:/path); empty answers 503.
metadata_upstream = ""
# Secret of X-Instance-ID-Signature; empty: DATA_DIR/metadata-secret.
metadata_shared_secret = ""
# Seconds between the agent's full comparisons with the host.
sync_interval = 30.0

[volume]
# Volume backend: "file" (volumes are qcow2 or raw files on the agent's host).
# "fake" is for tests only.
driver = "file"
# This machine's volume host name; empty means the machine's name.
host = ""
backend_name = "file"
availability_zone = "nova"
# Folder of volume files, relative to the data folder.
volumes_dir = "volumes"
# Format of new volume files: "qcow2" or "raw".
file_format = "qcow2"
# GiB the backend offers (0: the size of its filesystem) and how far thin
# provisioning may pass it.
capacity_gb = 0
max_over_subscription_ratio = 20.0
# The volume type used when a request names none.
default_volume_type = "__DEFAULT__"
# Backups go to the object store: the default container, chunk size (bytes)
# and compression of the chunks ("zlib" or "none").
backup_container = "volumebackups"
backup_chunk_size = 16777216
backup_compression = "zlib"
# Seconds between checks of the agent's files against the database.
sync_interval = 30.0
# Compute hosts that reach this agent's volume files directly (the agent's
# own host, and in the all-in-one its compute host, always do); any other
# host gets an NBD export (qemu-storage-daemon, TLS with a pre-shared key
# fresh per attachment) bound to export_listen, advertised as export_address
# (empty: export_listen).  127.0.0.1 keeps exports on this machine.
local_hosts = []
export_listen = "127.0.0.1"
export_address = ""
# Seconds an attachment update waits for the agent to start an export.
export_timeout = 30.0
# Seconds of silence after which a volume agent counts as down.
service_down_time = 60.0
# Default quotas per project (-1: unlimited); `openstack quota set` overrides.
quota_volumes = 10
quota_gigabytes = 1000
quota_snapshots = 10
quota_backups = 10
quota_backup_gigabytes = 1000
quota_per_volume_gigabytes = -1
quota_groups = 10

[loadbalancer]
# The lb agent's data plane: "haproxy" (one HAProxy per load balancer, in a
# namespace holding its VIP port; needs root) or "fake" (tests only).
driver = "haproxy"
# The host whose lb agent runs the load balancers; empty means the network host.
host = ""
# The agent's folder (HAProxy's configuration), relative to the data folder.
state_dir = "loadbalancer"
# The HAProxy binary.
haproxy = "haproxy"
# HAProxy's nice value (0: an equal share of the CPU; negative favours it).
haproxy_nice = 0
# Run the lb agent in the all-in-one's process; false when `stratus lb-agent`
# runs the load balancers as a process of its own.
run_agent = true
# Seconds between readings of each HAProxy's health and counters.
health_interval = 1.0
# Seconds of silence after which an lb agent counts as down.
agent_down_time = 60.0
# Default quotas per project (-1: unlimited); `openstack loadbalancer quota set` overrides.
quota_loadbalancer = -1
quota_listener = -1
quota_pool = -1
quota_member = -1
quota_healthmonitor = -1
quota_l7policy = -1
quota_l7rule = -1

[dbaas]
# The database service (Trove).  driver = "local": the agent runs Debian's
# postgres and mariadbd itself (as root), each in its own namespace, cgroup
# and system user; "fake" is for tests only.
driver = "local"
# This machine's database host name; empty means the machine's name.
host = ""
availability_zone = "nova"
# The agent's folder (mount points, sockets, logs), relative to the data folder.
state_dir = "dbaas"
# Data on a block-storage volume (ext4 on a loop device); false: a plain
# folder under /run/stratus-database, size unenforced (tests only).
use_volumes = true
# Instance volumes as raw files looped with direct I/O (false: the volume
# service's own format; qcow2 goes through a FUSE export, slower).
raw_volumes = true
# false: this process runs no database agent (`stratus database-agent` does).
run_agent = true
# Object store container of backups.
backup_container = "database_backups"
# Seconds between the agent's checks of its servers (a dead one is restarted).
sync_interval = 5.0
service_down_time = 60.0
# Default quotas per project (-1: unlimited).
quota_instances = 10
quota_volumes = 100
quota_backups = 50
# Largest volume one instance may ask for (GiB).
max_volume_size = 100

[orchestration]
# The orchestration service (Heat).  Stacks whose tasks the engine runs at
# once (each stack's independent resources are made in parallel).
max_parallel_stacks = 8
# Stacks a project may have (-1: unlimited).
max_stacks_per_project = -1
# The cloud's URL as guests reach it, e.g. "http://198.18.0.1:8080" (Heat's
# heat_waitcondition_server_url): wait condition handles' signal URLs start
# with it.  Empty: the API relay on the host's external address
# ([network] guest_api_relay), else the public URL.
waitcondition_server_url = ""

[policy]
# TOML file of policy rule overrides, relative to the data folder.
file = "policy.toml"

[services]
# Services started by `stratus up`.
enabled = [
    "identity", "image", "compute", "object-store", "volume", "network", "load-balancer",
    "database", "orchestration",
]

[logging]
level = "INFO"
# One access-log line per request (logger "stratus.access"): client, method,
# path, status, bytes, seconds, project and user, with the request id.
access_log = true

[metrics]
# Prometheus metrics at /metrics on the API port (all API processes in one
# scrape).  access = "loopback": readable without a token from the machine
# itself (127.0.0.0/8, ::1), with an admin token from elsewhere; "token": an
# admin token always (X-Auth-Token).
enabled = true
access = "loopback"
"""


def write_default(data_dir: Path) -> Path:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        path.write_text(DEFAULT_FILE)
    return path
