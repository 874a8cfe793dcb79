#!/usr/bin/env bash
# Print the performance figures of Stratus (see bench/README.md).
#   bench/run.sh [--duration 10] [--connections 32] [--starts 5] [--keep]   identity, as before
#   bench/run.sh identity|image|compute|objectstore|network [options]      one benchmark
#   bench/run.sh compute-live [--repeat 5] [--quiet-wait 20] [--keep]      live migration
#   bench/run.sh network-dataplane [--repeat 10] [--seconds 5]             the network data plane (root)
#   bench/run.sh compute-network [--repeat 20] [--real] [--commit REV]     interface hot-plug
#   bench/run.sh network-guests [--mib 32] [--runs 3]     guests' TCP throughput beside user-mode (root)
#   bench/run.sh volume [--creates 20] [--from-image 5] [--keep]            block storage
#   bench/run.sh database [--creates 5] [--datastore postgresql]            database service (root)
#   bench/run.sh orchestration [--stacks 500] [--lists 30]                 orchestration (Heat)
#   bench/run.sh orchestration --app [--count 2]        the app template on a real cloud (root)
#   bench/run.sh loadbalancer [options]      load balancing through HAProxy (root; needs nginx, wrk)
#   bench/run.sh aio [--repeat 3]            the default cloud beside Swift 2.38; logs and metrics on/off
#   bench/run.sh footprint [--commit REV]    start time and idle memory of the default cloud
#   bench/run.sh all [--repeat N] [--commit REV] [--quiet-wait S] [--keep]  the four in turn
# Each benchmark's --help lists its options. Needs the virtual environment
# (scripts/setup.sh); identity and objectstore need wrk, which it installs from Debian when
# missing (as root); compute needs qemu-system-x86_64 and qemu-img. All traffic
# stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
if [ ! -x "$python" ]; then
    echo "bench: no .venv; run scripts/setup.sh first" >&2
    exit 2
fi

need_wrk() {
    if ! command -v wrk >/dev/null 2>&1; then
        echo "bench: installing wrk from Debian"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
        fi
    fi
}

need_nginx() {
    if ! command -v nginx >/dev/null 2>&1; then
        echo "bench: installing nginx from Debian (the load balancer's backends)"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null 2>&1; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
        fi
    fi
}

which=identity
case "${1:-}" in
    identity|image|compute|objectstore|volume|network|database|orchestration|loadbalancer|aio|footprint|all) which=$1; shift ;;
    compute-live) which=compute_live; shift ;;
    network-dataplane) which=network_dataplane; shift ;;
    compute-network) which=compute_network; shift ;;
    network-guests) which=network_guests; shift ;;
esac

case "$which" in
    identity|objectstore|aio)
        need_wrk
        exec "$python" "bench/$which.py" "$@" ;;
    loadbalancer)
        need_wrk
        need_nginx
        exec "$python" "bench/$which.py" "$@" ;;
    image|compute|compute_live|network_dataplane|compute_network|network_guests|volume|network|database|orchestration|footprint)
        exec "$python" "bench/$which.py" "$@" ;;
    all)
        # Only the options every benchmark knows are passed on.
        need_wrk
        status=0
        for b in identity image compute objectstore; do
            echo "=== bench/$b.py"
            "$python" "bench/$b.py" "$@" || status=$?
            echo
        done
        exit "$status" ;;
esac
