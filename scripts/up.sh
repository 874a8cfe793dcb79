#!/usr/bin/env bash
# Set up everything and start the cloud in the foreground (Ctrl-C stops it).
# Arguments go to `stratus up`, e.g. scripts/up.sh --port 9000 --data-dir /srv/stratus
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/stratus up "$@"
