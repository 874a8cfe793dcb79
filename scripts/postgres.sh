#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster (creating it if needed) and give the tests
# an empty database (STRATUS_TEST_PG_DB names it; default stratus_test, so that
# several checkouts can test at once).  Prints the SQLAlchemy URL to use, and nothing else on
# stdout: what the PostgreSQL tools say (for example "Removed stale pid file."
# after an unclean stop) goes to stderr.
set -euo pipefail

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx main; then
    pg_createcluster "$version" main >&2
fi
port=$(pg_lsclusters -h | awk '$2 == "main" {print $3}')
if ! pg_lsclusters -h | awk '$2 == "main" {print $4}' | grep -qx online; then
    if ! pg_ctlcluster "$version" main start >&2; then
        # A server killed without a clean stop leaves its socket lock behind;
        # remove it when the process it names is gone, and try once more.
        lock="/var/run/postgresql/.s.PGSQL.${port}.lock"
        owner=$(head -n 1 "$lock" 2>/dev/null || true)
        if [ -n "$owner" ] && ! ps -o stat= -p "$owner" 2>/dev/null | grep -qv '^Z'; then
            echo "Removing stale $lock" >&2
            rm -f "$lock"
        fi
        pg_ctlcluster "$version" main start >&2
    fi
fi

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qAt "$@"; }
for _ in $(seq 1 50); do psql_admin -c 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$(psql_admin -c "select 1 from pg_roles where rolname = 'stratus'")" != 1 ]; then
    psql_admin -c "create role stratus login password 'stratus' createdb"
fi
db=${STRATUS_TEST_PG_DB:-stratus_test}
psql_admin -c "drop database if exists $db with (force)"
psql_admin -c "create database $db owner stratus"
echo "postgresql+asyncpg://stratus:stratus@127.0.0.1:${port}/$db"
