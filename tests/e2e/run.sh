#!/bin/sh
# run.sh — every end-to-end suite, on one PostgreSQL cluster started here.
# Each suite prints its own `N passed, N failed[, N skipped]`; this prints
# the seconds each suite took (the suite's share of the test budget), then
# the sums last, skips included.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD="${BUILD:-build}"
. "$top/tests/lib/pg.sh"

pg_start >/dev/null || { echo "PostgreSQL did not start"; echo "0 passed, 1 failed"; exit 1; }
trap 'pg_stop >/dev/null 2>&1' EXIT INT TERM
export PG_PORT PG_DIR DS_OWNER_DB DS_APP_DB

total_passed=0
total_failed=0
total_skipped=0
times=
# One suite per line, so a new suite is a one-line change.
suites="
sql
cloud
agent
crash
sync
scale
metrics
delta
route
ops
faults
security
edge
hostile
read
preview
logscan
web
state
agree
setup
"
# Arguments name a subset to run: tests/e2e/run.sh route read
[ $# -gt 0 ] && suites="$*"
for suite in $suites; do
    echo "== tests/e2e/$suite.sh"
    out=$(mktemp)
    t0=$(date +%s)
    bash "$top/tests/e2e/$suite.sh" 2>&1 | tee "$out"
    times="$times $suite $(($(date +%s) - t0))s"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        echo "not ok - $suite.sh ended without its summary"
        total_failed=$((total_failed + 1))
        continue
    fi
    total_passed=$((total_passed + ${line%% passed*}))
    f=${line#*passed, }
    total_failed=$((total_failed + ${f%% failed*}))
    case $line in
    *skipped*)
        s=${line#*failed, }
        total_skipped=$((total_skipped + ${s%% skipped*}))
        ;;
    esac
done
echo "# seconds per suite:$times"
echo "e2e: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" -eq 0 ]
