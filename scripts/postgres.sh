#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster (creating it if needed) and give the tests
# an empty database.  Prints the SQLAlchemy URL to use.
set -euo pipefail

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $2}' | grep -qx main; then
    pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk '$2 == "main" {print $4}' | grep -qx online; then
    pg_ctlcluster "$version" main start
fi
port=$(pg_lsclusters -h | awk '$2 == "main" {print $3}')

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qAt "$@"; }
for _ in $(seq 1 50); do psql_admin -c 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$(psql_admin -c "select 1 from pg_roles where rolname = 'stratus'")" != 1 ]; then
    psql_admin -c "create role stratus login password 'stratus' createdb"
fi
psql_admin -c "drop database if exists stratus_test with (force)"
psql_admin -c "create database stratus_test owner stratus"
echo "postgresql+asyncpg://stratus:stratus@127.0.0.1:${port}/stratus_test"
