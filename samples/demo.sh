#!/bin/sh
# demo.sh — `make demo`: the whole path on this machine, narrated.
#
# A throw-away PostgreSQL cluster on a free loopback port, the cloud API on
# it, a practice and its token, the agent watching a fresh inbox; the sample
# exports are dropped in, and once every row is acknowledged the summary is
# counted from the agent's queue and from PostgreSQL with psql. Everything it
# started is stopped at the end, whatever happens.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
. "$top/tests/lib/pg.sh"

work=$(mktemp -d /tmp/dentsync-demo.XXXXXX)
agent_pid=
finish() {
    echo "== stopping everything the demo started"
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    cloud_stop >/dev/null 2>&1
    pg_stop >/dev/null 2>&1
    echo "   logs kept in $work (agent.log, cloud.log)"
}
trap finish EXIT
trap 'exit 1' INT TERM

step() { printf '\n[%s] %s\n' "$1" "$2"; }

step 1/7 "PostgreSQL: a throw-away cluster under /tmp, run by the postgres user"
pg_start >/dev/null || { echo "   PostgreSQL did not start"; exit 1; }
echo "   listening on 127.0.0.1:$PG_PORT, data in $PG_DIR"

step 2/7 "cloud database: migrations, a practice, an agent token"
"$BUILD/dentsync-cloud" migrate --db "$DS_OWNER_DB" >"$work/cloud.log" 2>&1 ||
    { cat "$work/cloud.log"; exit 1; }
"$BUILD/dentsync-cloud" practice create "Demo Dental" --db "$DS_OWNER_DB" >/dev/null
umask 077
"$BUILD/dentsync-cloud" token create --practice "Demo Dental" --db "$DS_OWNER_DB" |
    tail -n 1 >"$work/demo.token"
umask 022
echo "   schema migrated; practice 'Demo Dental'; token saved 0600 in $work/demo.token"

step 3/7 "cloud API: dentsync-cloud serve, connected as the row-level-security role"
cloud_start "$BUILD" >/dev/null || { echo "   the cloud API did not start"; exit 1; }
echo "   $CLOUD_URL (pid $CLOUD_PID)"

step 4/7 "agent: a config and an inbox to watch"
mkdir -p "$work/inbox" "$work/state"
cat >"$work/dentsync.conf" <<CONF
[agent]
state_dir = $work/state
settle_seconds = 0.5
rescan_seconds = 1

[cloud]
url = $CLOUD_URL
batch_rows = 10

[practice demo]
token_file = $work/demo.token
timezone = America/Chicago

[folder patients]
path = $work/inbox
practice = demo
import_type = patients
template = generic-patients
CONF
"$BUILD/dentsync" check-config -c "$work/dentsync.conf" | sed 's/^/   /'
"$BUILD/dentsync" run -c "$work/dentsync.conf" >"$work/agent.log" 2>&1 &
agent_pid=$!
echo "   dentsync run (pid $agent_pid), watching $work/inbox"

step 5/7 "exports: the sample files land in the inbox"
n=0
for f in "$top"/samples/*.csv; do
    cp "$f" "$work/inbox/"
    echo "   $(basename "$f") ($(wc -c <"$f") bytes)"
    n=$((n + 1))
done

step 6/7 "waiting until every file is settled, staged and every row acknowledged"
q() { sqlite3 -readonly "$work/state/queue.db" "$1" 2>/dev/null; }
i=0
while :; do
    seen=$(q "SELECT count(*) FROM files")
    open=$(q "SELECT count(*) FROM files WHERE state NOT IN ('done', 'duplicate', 'quarantined')")
    [ "${seen:-0}" -ge "$n" ] && [ "${open:-1}" -eq 0 ] && break
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then
        echo "   timed out; the agent log says:"
        tail -n 20 "$work/agent.log" | sed 's/^/   /'
        exit 1
    fi
    sleep 0.1
done
grep -E 'settled|staged|acknowledged|completed' "$work/agent.log" | cut -c26- | sed 's/^/   agent: /'

step 7/7 "summary"
echo "   files:            $(q "SELECT group_concat(state || ' ' || c, ', ') FROM (SELECT state, count(*) c FROM files GROUP BY state)")"
echo "   rows staged:      $(q "SELECT count(*) FROM items") ($(q "SELECT group_concat(status || ' ' || c, ', ') FROM (SELECT status, count(*) c FROM items GROUP BY status)"))"
echo "   in PostgreSQL:    $(pg_psql "SELECT count(*) FROM patients") patients, $(pg_psql "SELECT count(*) FROM import_jobs WHERE status LIKE 'completed%'") completed import job(s) (counted with psql)"
