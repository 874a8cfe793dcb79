#!/usr/bin/env bash
# Run the OpenStack Powered interop guideline's required tests (Tempest)
# against a fresh all-in-one cloud, and print the counts per service.
#   scripts/conformance.sh [--keep] [--list FILE] [--services LIST] [--regex RE]
# --services keeps only the list's tests of those services (Tempest's names,
# comma-separated: identity,image,object_storage,compute,network,volume).
# The cloud runs with image.require_format_match off, as Glance ran before
# 2024.2 and as the guideline's image listing tests need (they upload bytes
# that are not the disk format they declare), and Tempest is told so
# (image_format_enforcement = false); --strict-images keeps the default
# (those 10 tests then skip). Unsafe image data is refused either way.
# Tempest boots the cloud's tiny guest image (image_ref) and a copy of it
# (image_ref_alt): guests that boot, as devstack's cirros (IMAGE_REF and
# IMAGE_REF_ALT name others).
# --keep leaves the cloud running afterwards (its data folder is printed).
# --validation turns Tempest's validation on (scripts/conformance-validation.conf,
# merged over run-tempest.sh's tempest.conf): Tempest logs into its guests over
# SSH through floating IPs. It runs the list's tests that do (the two of
# test_create_server that SSH into the guest) unless --list/--services/--regex
# name others. The cloud, its data plane (network.host_namespace) and Tempest
# then run in a network namespace of their own (sconfPID, with the cloud's
# router and DHCP namespaces prefixed by its name): the external network's
# bridge (198.18.0.1) is there, not in the machine's own namespace, so it
# never meets another cloud's; all of them are removed at the end.
# The guideline's list and run-tempest.sh come from STRATUS_CONFORMANCE_DIR
# (default ../shared/conformance beside this checkout, or beside the main
# checkout from a worktree); Tempest installs into a
# virtual environment of its own (~/.cache/stratus-conformance/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

conformance=${STRATUS_CONFORMANCE_DIR:-$root/../shared/conformance}
if [ -z "${STRATUS_CONFORMANCE_DIR:-}" ] && [ ! -d "$conformance" ]; then
    # a worktree: ../shared beside the main checkout
    main=$(cd "$(git rev-parse --git-common-dir)/.." && pwd)
    conformance=$main/../shared/conformance
fi
list=$conformance/interop-platform-2020.06.txt
regex=""
services=""
strict_images=0
keep=0
validation=0
chosen=0
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --list) list=$(realpath -e -- "$2") || exit 2; chosen=1; shift ;;  # the shared script runs elsewhere
        --services) services=$2; chosen=1; shift ;;
        --validation) validation=1 ;;
        --strict-images) strict_images=1 ;;
        --regex) regex=$2; list=""; chosen=1; shift ;;
        *) echo "usage: scripts/conformance.sh [--keep] [--list FILE] [--services LIST] [--strict-images] [--regex RE] [--validation]" >&2
           exit 2 ;;
    esac
    shift
done
[ -x "$conformance/run-tempest.sh" ] || {
    echo "conformance: no run-tempest.sh in $conformance (set STRATUS_CONFORMANCE_DIR)" >&2; exit 2; }

if [ "$validation" = 1 ] && [ -z "${STRATUS_CONFORMANCE_NETNS:-}" ]; then
    # Run again inside a network namespace of our own (see the header).
    ns=sconf$$
    drop_netns() {
        # After the inner run stopped its cloud and guests (also on ^C or an error).
        if [ "$keep" = 0 ]; then
            for other in $(ip netns list | awk '{print $1}' | grep -E "^$ns-" || true); do
                ip netns delete "$other" || true
            done
            ip netns delete "$ns" 2>/dev/null || true
        else
            echo "conformance: the cloud runs in the network namespace $ns (ip netns exec $ns ...)"
        fi
    }
    trap drop_netns EXIT
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    set +e
    STRATUS_CONFORMANCE_NETNS=$ns STRATUS_NETWORK__HOST_NAMESPACE=$ns \
        ip netns exec "$ns" "$0" "${args[@]}"
    rc=$?
    set -e
    exit "$rc"
fi
if [ "$validation" = 1 ]; then
    export TEMPEST_EXTRA_CONF=$root/scripts/conformance-validation.conf
    echo "conformance: validation on (Tempest SSHes into its guests), network namespace $STRATUS_CONFORMANCE_NETNS"
fi

scripts/setup.sh run
data=$(mktemp -d /tmp/stratus-conformance.XXXXXX)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "conformance: starting a cloud in $data on port $port"
if [ "$validation" = 1 ] && [ "$chosen" = 0 ]; then
    # The guideline's tests that log into a guest (skipped without validation).
    grep -E '\.(test_host_name_is_same_as_server_name|test_verify_created_server_vcpus)$' \
        "$list" >"$data/validation.txt"
    list=$data/validation.txt
fi
if [ "$strict_images" = 0 ]; then
    echo "conformance: image.require_format_match = false (see the header of this script)"
    export STRATUS_IMAGE__REQUIRE_FORMAT_MATCH=false
    export TEMPEST_CONF_OVERRIDES="image-feature-enabled.image_format_enforcement=false${TEMPEST_CONF_OVERRIDES:+;$TEMPEST_CONF_OVERRIDES}"
fi
.venv/bin/stratus up --data-dir "$data" --port "$port" >"$data/server.log" 2>&1 &
cloud=$!
stop_cloud() {
    if [ "$keep" = 0 ] && kill -0 "$cloud" 2>/dev/null; then
        kill -TERM "$cloud"; wait "$cloud" || true
    fi
    # Guests outlive their agent by design; this throwaway cloud's must not
    # (a server a failed test left behind): end the QEMU of each of its pidfiles.
    if [ "$keep" = 0 ]; then
        for pidfile in "$data"/compute/*/instances/*/qemu.pid; do
            [ -f "$pidfile" ] || continue
            pid=$(cat "$pidfile" 2>/dev/null) || continue
            if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$pidfile"; then
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done
    fi
}
trap stop_cloud EXIT
for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/identity/v3" >/dev/null 2>&1 && break
    kill -0 "$cloud" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
    sleep 0.1
done
# The tiny image is registered in the background at the first start.
for _ in $(seq 1 600); do
    grep -q "tiny image" "$data/server.log" 2>/dev/null && break
    sleep 0.1
done

export OS_AUTH_URL="http://127.0.0.1:$port/identity/v3" OS_USERNAME=admin \
    OS_PASSWORD="$(cat "$data/admin-password")" OS_PROJECT_NAME=admin
work="$data/tempest"
export TEMPEST_WORKDIR=$work
# The external network the all-in-one made (public): Tempest's router gateway
# and external network tests need its id (they skip without it).
public=$("$root/.venv/bin/openstack" --os-user-domain-name Default \
    --os-project-domain-name Default network show public -f value -c id 2>/dev/null || true)
if [ -n "$public" ]; then
    export TEMPEST_CONF_OVERRIDES="network.public_network_id=$public;network.floating_network_name=public${TEMPEST_CONF_OVERRIDES:+;$TEMPEST_CONF_OVERRIDES}"
fi
# Tempest's images are the cloud's tiny guest image and a copy of it (unless
# the caller names IMAGE_REF/IMAGE_REF_ALT): guests that boot, so that they
# answer an ACPI shutdown and release a hot-unplugged disk, as devstack's
# cirros does; and two distinct images, which the list filters by image need.
osc() { OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default .venv/bin/openstack "$@"; }
if [ -z "${IMAGE_REF:-}" ]; then
    IMAGE_REF=$(osc image show tiny -f value -c id 2>>"$data/server.log") || IMAGE_REF=""
fi
if [ -n "${IMAGE_REF:-}" ] && [ -z "${IMAGE_REF_ALT:-}" ]; then
    osc image save "$IMAGE_REF" --file "$data/tempest-alt.img" 2>>"$data/server.log" || true
    IMAGE_REF_ALT=$(osc image create --file "$data/tempest-alt.img" --disk-format \
        "$(osc image show "$IMAGE_REF" -f value -c disk_format)" --container-format bare \
        --min-ram 128 --public "tempest-img-alt-$$" -f value -c id 2>>"$data/server.log") \
        || IMAGE_REF_ALT=""
fi
if [ -n "${IMAGE_REF:-}" ]; then export IMAGE_REF; fi
if [ -n "${IMAGE_REF_ALT:-}" ]; then export IMAGE_REF_ALT; fi
echo "conformance: image_ref ${IMAGE_REF:-?}, image_ref_alt ${IMAGE_REF_ALT:-?}"
if [ -n "$services" ] && [ -n "$list" ]; then
    mkdir -p "$work"
    pattern="^tempest\\.api\\.($(echo "$services" | tr ',' '|'))\\."
    grep -E "$pattern" "$list" >"$work/subset.txt" || true
    list=$work/subset.txt
    echo "conformance: $(wc -l <"$list") tests of $services"
fi
[ -n "$list" ] && export TEMPEST_LIST_FILE=$list
[ -n "$regex" ] && export TEMPEST_REGEX=$regex
set +e
"$conformance/run-tempest.sh" >"$data/run-tempest.out" 2>&1
set -e
tail -n 1 "$data/run-tempest.out"
.venv/bin/python - "$work/tempest-run.log" "${list:-}" "$data/server.log" <<'PYEOF'
import re, sys
from collections import Counter
log, wanted_file, server_log = sys.argv[1], sys.argv[2], sys.argv[3]
wanted = set()
if wanted_file:
    wanted = {line.strip() for line in open(wanted_file) if line.strip().startswith("tempest.")}
line_re = re.compile(r"(tempest\.api\.[\w.]+?)(?:\[[^\]]*\])?\s.*\.\.\. (ok|FAILED|SKIPPED)")
result: dict[str, str] = {}
try:
    text = open(log, errors="replace").read()
except OSError:
    text = ""
for m in line_re.finditer(text):
    result[m.group(1)] = {"ok": "passed", "FAILED": "failed", "SKIPPED": "skipped"}[m.group(2)]
# A class skipped (or failed) in setUpClass: its tests did not run.
class_re = re.compile(r"setUpClass \((tempest\.api\.[\w.]+)\) \.\.\. (SKIPPED|FAILED)")
class_results = {m.group(1): m.group(2) for m in class_re.finditer(text)}
for test in wanted:
    outcome = class_results.get(test.rsplit(".", 1)[0])
    if outcome and test not in result:
        result[test] = "skipped" if outcome == "SKIPPED" else "failed"
names = {"compute": "compute", "identity": "identity", "image": "image",
         "object_storage": "object storage", "network": "network", "volume": "block storage"}
counts: dict[str, Counter[str]] = {}
for test in sorted(wanted or result):
    service = names.get(test.split(".")[2], test.split(".")[2])
    counts.setdefault(service, Counter())[result.get(test, "not run")] += 1
total: Counter[str] = Counter()
print(f"{'service':<16}{'passed':>8}{'failed':>8}{'skipped':>9}{'not run':>9}{'of':>6}")
for service, c in counts.items():
    total.update(c)
    print(f"{service:<16}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}{c['not run']:>9}"
          f"{sum(c.values()):>6}")
print(f"{'all':<16}{total['passed']:>8}{total['failed']:>8}{total['skipped']:>9}"
      f"{total['not run']:>9}{sum(total.values()):>6}")
failed = sorted(t for t, r in result.items() if r == "failed")
if failed:
    print("\nfailed:")
    print("\n".join(f"  {t}" for t in failed))
try:
    access = open(server_log, errors="replace").read()
except OSError:
    access = ""
errors = re.findall(r'"[A-Z]+ [^"]*" 5\d\d ', access)
print(f"\nserver: {len(errors)} answers 5xx, {access.count('Traceback')} tracebacks in its log")
PYEOF
echo "conformance: the cloud's log is $data/server.log; Tempest's workspace is $work"
[ "$keep" = 1 ] && echo "conformance: the cloud keeps running (pid $cloud, port $port)"
exit 0
