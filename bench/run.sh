#!/usr/bin/env bash
# Print the performance figures of the identity service (see bench/README.md).
#   bench/run.sh [--duration 10] [--connections 32] [--starts 5] [--keep]
# Needs the virtual environment (scripts/setup.sh) and wrk, which it installs
# from Debian when missing (as root). All traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: installing wrk from Debian"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    fi
fi

python=.venv/bin/python
if [ ! -x "$python" ]; then
    echo "bench: no .venv; run scripts/setup.sh first" >&2
    exit 2
fi
exec "$python" bench/identity.py "$@"
