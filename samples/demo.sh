#!/bin/sh
# demo.sh — `make demo`: the whole path on this machine, narrated.
#
# A throw-away PostgreSQL cluster on a free loopback port, the cloud API on
# it, a practice and its token, the agent watching one inbox per practice
# program. The sample exports are dropped in: the 30 generic patients and
# SoftDent's patient file first, then an Open Dental appointments export and
# a SoftDent transaction ledger (routed into treatments and payments). Once
# every row is acknowledged, a table counted in PostgreSQL shows what each
# import did, the summary is counted from the agent's queue and with psql,
# and the agent's status page gets a one-time link. Everything it started
# is stopped at the end, whatever happens (in a terminal, after Enter, so
# that the link can be opened first).
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

step 1/8 "PostgreSQL: a throw-away cluster under /tmp, run by the postgres user"
pg_start >/dev/null || { echo "   PostgreSQL did not start"; exit 1; }
echo "   listening on 127.0.0.1:$PG_PORT, data in $PG_DIR"

step 2/8 "cloud database: migrations, a practice, an agent token"
"$BUILD/dentsync-cloud" migrate --db "$DS_OWNER_DB" >"$work/cloud.log" 2>&1 ||
    { cat "$work/cloud.log"; exit 1; }
"$BUILD/dentsync-cloud" practice create "Demo Dental" --db "$DS_OWNER_DB" >/dev/null
umask 077
"$BUILD/dentsync-cloud" token create --practice "Demo Dental" --db "$DS_OWNER_DB" |
    tail -n 1 >"$work/demo.token"
umask 022
echo "   schema migrated; practice 'Demo Dental'; token saved 0600 in $work/demo.token"

step 3/8 "cloud API: dentsync-cloud serve, connected as the row-level-security role"
cloud_start "$BUILD" >/dev/null || { echo "   the cloud API did not start"; exit 1; }
echo "   $CLOUD_URL (pid $CLOUD_PID)"

step 4/8 "agent: a config, one inbox per export, its status page on a free port"
inbox=$work/inbox
mkdir -p "$inbox/patients" "$inbox/opendental" "$inbox/softdent" "$work/state"
web_port=$(free_port) || exit 1
cat >"$work/dentsync.conf" <<CONF
[agent]
state_dir = $work/state
settle_seconds = 0.5
rescan_seconds = 1

[cloud]
url = $CLOUD_URL
batch_rows = 10

[web]
port = $web_port

[practice demo]
token_file = $work/demo.token
timezone = America/Chicago

; Patient lists, whichever program wrote them: the template is detected.
[folder patients]
path = $inbox/patients
practice = demo
import_type = patients
template = auto

; Open Dental's appointments (the raw query export).
[folder opendental]
path = $inbox/opendental
practice = demo
import_type = appointments
template = opendental-appointments

; SoftDent's transaction file: procedures go to treatments, and its
; template routes payments and adjustments to a financial job.
[folder softdent]
path = $inbox/softdent
practice = demo
import_type = treatments
template = auto
CONF
"$BUILD/dentsync" check-config -c "$work/dentsync.conf" | sed 's/^/   /'
"$BUILD/dentsync" run -c "$work/dentsync.conf" >"$work/agent.log" 2>&1 &
agent_pid=$!
echo "   dentsync run (pid $agent_pid), watching $inbox/{patients,opendental,softdent}"

q() { sqlite3 -readonly "$work/state/queue.db" "$1" 2>/dev/null; }

# drop SAMPLE DIR NAME: the export lands the way a program writes one, under
# a temporary name first, then renamed.
dropped=0
drop() {
    cp "$top/samples/$1" "$inbox/$2/.$3.tmp" && mv "$inbox/$2/.$3.tmp" "$inbox/$2/$3" || exit 1
    printf '   %-28s <- samples/%s (%s bytes)\n' "$2/$3" "$1" "$(wc -c <"$top/samples/$1")"
    dropped=$((dropped + 1))
}

# settle: waits until the agent has seen every file dropped so far and each
# is done (every row acknowledged by the cloud), at most 60 seconds.
settle() {
    _i=0
    while :; do
        _seen=$(q "SELECT count(*) FROM files")
        _open=$(q "SELECT count(*) FROM files WHERE state NOT IN ('done', 'duplicate', 'quarantined')")
        [ "${_seen:-0}" -ge "$dropped" ] && [ "${_open:-1}" -eq 0 ] && return 0
        _i=$((_i + 1))
        if [ "$_i" -gt 600 ]; then
            echo "   timed out; the agent log says:"
            tail -n 20 "$work/agent.log" | sed 's/^/   /'
            exit 1
        fi
        sleep 0.1
    done
}

step 5/8 "exports, patients first: the lists the other files refer to"
drop patients.csv patients patients.csv
drop pms/softdent-patients.txt patients softdent-patients.txt
settle
echo "   in PostgreSQL: $(pg_psql "SELECT count(*) FROM patients") patients"

step 6/8 "exports from two practice programs: Open Dental's appointments, SoftDent's ledger"
drop pms/opendental-appointments-raw.csv opendental appointments.csv
drop pms/softdent-transactions.txt softdent transactions.txt
settle
grep -E 'settled|staged|acknowledged|completed' "$work/agent.log" | cut -c26- | sed 's/^/   agent: /'

step 7/8 "what arrived, per import (counted in PostgreSQL)"
printf '   %-12s %-22s %7s %7s %12s %8s %7s\n' "import type" file created matched "needs review" rejected skipped
pg_psql "SELECT j.import_type, j.filename,
                count(i.id) FILTER (WHERE i.status = 'created'),
                count(i.id) FILTER (WHERE i.status IN ('updated', 'unchanged')),
                count(i.id) FILTER (WHERE i.status = 'needs_review'),
                count(i.id) FILTER (WHERE i.status IN ('rejected', 'conflict')),
                j.total_rows - count(i.id)
           FROM import_jobs j LEFT JOIN import_job_items i ON i.job_id = j.id
          GROUP BY j.id ORDER BY j.created_at, j.import_type" |
    awk -F'|' '{ printf "   %-12s %-22s %7d %7d %12d %8d %7d\n", $1, $2, $3, $4, $5, $6, $7 }'
echo "   records: $(pg_psql "SELECT (SELECT count(*) FROM appointments) || ' appointments, '
                                 || (SELECT count(*) FROM treatments) || ' treatments, '
                                 || (SELECT count(*) FROM payments) || ' payments'")"
cat <<'EOF'
   created: a new record; matched: the cloud held the record already (updated
   or unchanged); needs review: no patient, or more than one, matches the row's
   patient reference (here Open Dental PatNums whose patient has no Patient ID
   in patients.csv); rejected: refused by the cloud; skipped: rows the template
   says are not of this type (notes, appointments without a status, the other
   type's rows of a ledger), never sent. `dentsync job ID` and the status page
   list each row that did not go through, with what to do.
EOF

step 8/8 "summary"
echo "   files:            $(q "SELECT group_concat(state || ' ' || c, ', ') FROM (SELECT state, count(*) c FROM files GROUP BY state)")"
echo "   rows staged:      $(q "SELECT count(*) FROM items") ($(q "SELECT group_concat(status || ' ' || c, ', ') FROM (SELECT status, count(*) c FROM items GROUP BY status)"))"
echo "   in PostgreSQL:    $(pg_psql "SELECT count(*) FROM patients") patients, $(pg_psql "SELECT count(*) FROM import_jobs WHERE status LIKE 'completed%'") completed import job(s) (counted with psql)"

url=$("$BUILD/dentsync" web-url -c "$work/dentsync.conf" 2>/dev/null)
echo
if [ -z "$url" ]; then
    echo "   status page: the agent gave no link (see $work/agent.log)"
elif [ -t 0 ] && [ -t 1 ]; then
    echo "   status page (the agent keeps running; the link works once, on this machine):"
    echo "   $url"
    echo "   (from another machine: ssh -L $web_port:127.0.0.1:$web_port THIS-HOST, then open it there)"
    printf '   press Enter to stop the demo '
    read -r _
else
    echo "   status page (a one-time link, valid while the demo runs):"
    echo "   $url"
    echo "   run \`make demo\` in a terminal to keep the agent running until you press Enter."
fi
