#!/bin/bash
# sql.sh — the pgTAP tests of the cloud's SQL (tests/sql/*.sql): matching,
# duplicates, conflicts, deletions, progress, row-level security and the
# catalog. Run by tests/e2e/run.sh, which starts the cluster; run alone
# (`bash tests/e2e/sql.sh` after `make build/dentsync-cloud`) it starts its
# own. Each file runs in a fresh database migrated by `dentsync-cloud
# migrate`, as the owner, inside one transaction that it rolls back; the
# files switch to the application role (SET ROLE dentsync_app) for what
# row-level security must restrict. Prints every TAP line and ends with
# `N passed, N failed`. Needs postgresql-15-pgtap (installer/deps.sh).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

out=$(mktemp /tmp/dentsync-e2e-sql.XXXXXX)
cleanup() {
    rm -f "$out"
    [ "$own_cluster" = 1 ] && pg_stop >/dev/null 2>&1
}
trap cleanup EXIT

e2e_pg
base=${DS_OWNER_DB%/*}

for f in "$top"/tests/sql/*.sql; do
    name=$(basename "$f" .sql)
    db="dentsync_sql_$name"
    url="$base/$db"
    echo "# $name"
    psql "$base/postgres" -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 &&
        "$BUILD/dentsync-cloud" migrate --db "$url" >/dev/null 2>&1 &&
        psql "$url" -X -q -c 'CREATE EXTENSION IF NOT EXISTS pgtap' >/dev/null 2>&1
    if [ $? -ne 0 ]; then
        echo "not ok - $name: cannot prepare its database (pgtap installed?)"
        failed=$((failed + 1))
        continue
    fi
    psql "$url" -X -At -q -v ON_ERROR_STOP=1 -f "$f" >"$out" 2>&1
    rc=$?
    grep -E "^(ok|not ok|#|1\.\.|psql:)" "$out"
    p=$(grep -c '^ok ' "$out")
    n=$(grep -c '^not ok ' "$out")
    passed=$((passed + p))
    failed=$((failed + n))
    if [ $rc -ne 0 ] || grep -q '^# Looks like' "$out"; then
        echo "not ok - $name: psql exit $rc or a plan mismatch"
        failed=$((failed + 1))
    fi
    psql "$base/postgres" -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
done

e2e_summary
