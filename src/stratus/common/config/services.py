"""The sections of the services that run guests and data: compute, the object
store, network, volume, load balancer, database (dbaas) and orchestration."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from stratus.common.config.section import Section


class ComputeConfig(Section):
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


class SyncRealmConfig(Section):
    """A container-sync realm (Swift's container-sync-realms.conf section)."""

    # The realm's key, and a second one accepted while keys are rotated.
    key: str = Field(min_length=1)
    key2: str = ""
    # Cluster name -> its Swift endpoint (``http://host:port/v1/``).
    clusters: dict[str, str] = {}


class ObjectStoreConfig(Section):
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


class NetworkConfig(Section):
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


class VolumeConfig(Section):
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
    # The export protocol, as Cinder's target_protocol: "nbd" or "iscsi"
    # (tgt's userspace target, CHAP per attachment, raw volume files only);
    # target_port is the iSCSI portal's port.
    target_protocol: Literal["nbd", "iscsi"] = "nbd"
    target_port: int = Field(3260, ge=1, le=65535)
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


class LoadBalancerConfig(Section):
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


class DbaasConfig(Section):
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
    # Removed: backups always go to the object store. Still accepted (and
    # ignored) because default files written before its removal name it.
    fake_backup_store: bool | None = None
    # Bytes per segment of a backup (Trove's backup_segment_max_size): a
    # backup is streamed as segments into "<backup_container>_segments" and
    # stored as a static large object manifest, since the object store
    # refuses one object over its max_file_size (5 GiB by default).
    backup_segment_size: int = Field(2 * 1024**3, ge=64 * 1024, le=5 * 1024**3)
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


class OrchestrationConfig(Section):
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
