"""The configuration file written the first time the cloud starts: every
option with its default and what it means (docs/configuration.md holds the
same text)."""

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
# The export protocol, as Cinder's target_protocol: "nbd" (the above) or
# "iscsi": the userspace target tgt (one tgtd per agent, its control socket
# under the data folder; a target per exported volume, CHAP credentials
# fresh per attachment) on a portal at export_listen:target_port, opened by
# QEMU's own iSCSI client.  iSCSI serves raw files only: set
# file_format = "raw" with it.
target_protocol = "nbd"
target_port = 3260
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
# Bytes per segment of a backup: each backup is stored as segments in
# "<backup_container>_segments" and a static large object manifest (the
# object store refuses single objects over 5 GiB); at least 64 KiB.
backup_segment_size = 2147483648
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
