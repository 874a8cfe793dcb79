#!/usr/bin/env bash
# Set up everything and run the whole test suite (what `make test` and CI run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
STRATUS_TEST_POSTGRES_URL=$(scripts/postgres.sh)
export STRATUS_TEST_POSTGRES_URL

echo "== lint"
.venv/bin/ruff check src tests bench
echo "== types"
.venv/bin/mypy
echo "== tests"
.venv/bin/pytest -q -p no:cacheprovider "$@"
