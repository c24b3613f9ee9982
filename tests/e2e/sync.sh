#!/bin/bash
# sync.sh — the sync engine against the real cloud and PostgreSQL: folder
# patterns, files arriving under temporary names or written slowly, the
# after-delivery move and the quarantine, a network share served by rescans
# alone, two practices of which one has a revoked token, a 503 with
# Retry-After, a 30-second outage in the middle of an upload, and SIGHUP.
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work sync
writer_pid=
e2e_on_exit() {
    [ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
}

e2e_pg
e2e_cloud
agent=$BUILD/dentsync

# Two practices of our own, each with its token.
pa="e2e-sync-a-$$"
pb="e2e-sync-b-$$"
umask 077
cloud_token "$pa" >"$work/a.token"
"$CLOUD_BIN" practice create "$pb" --db "$DS_OWNER_DB" >/dev/null 2>&1
"$CLOUD_BIN" token create --practice "$pb" --name sync-test --db "$DS_OWNER_DB" \
    >"$work/b.out" 2>"$work/b.err"
tail -n 1 "$work/b.out" >"$work/b.token"
umask 022
b_token_id=$(grep -oE '[0-9a-f]{8}-[0-9a-f-]{27}' "$work/b.err" | head -n 1)
a_id=$(pg_psql "SELECT id FROM practices WHERE name = '$pa'")
b_id=$(pg_psql "SELECT id FROM practices WHERE name = '$pb'")

mkdir -p "$work/inbox" "$work/share" "$work/saved" "$work/binbox" "$work/late" "$work/state"
write_config() {
    cat >"$work/dentsync.conf" <<EOF
[agent]
state_dir = $work/state
log_level = debug
settle_seconds = 1
rescan_seconds = 0.5

[cloud]
url = $CLOUD_URL
batch_rows = 20
max_in_flight = 1
timeout_seconds = 5
retry_min_seconds = 0.2
retry_max_seconds = 2
pause_probe_seconds = 1
heartbeat_seconds = 1

[practice a]
token_file = $work/a.token

[practice b]
token_file = $work/b.token

[folder inbox]
path = $work/inbox
practice = a
import_type = patients
template = generic-patients
include = *.csv
exclude = *skip*
after = move

[folder share]
path = $work/share
practice = a
import_type = patients
template = generic-patients
network = yes

[folder saved]
path = $work/saved
practice = a
import_type = patients
template = cloud-patients

[folder binbox]
path = $work/binbox
practice = b
import_type = patients
template = generic-patients
EOF
}
write_config

# A patients CSV of $2 rows with external ids starting with $1.
make_csv() {
    awk -v p="$1" -v n="$2" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++)
            printf "%s%05d,Testfirst%d,Testlast%d,1975-%02d-%02d,%s%d@example.com\n", p, i, i, i, i % 12 + 1, i % 28 + 1, tolower(p), i;
    }'
}

job_done() { # job_done PRACTICE_ID FILENAME
    [ "$(pq "SELECT count(*) FROM import_jobs WHERE practice_id = '$1' AND filename = '$2' AND status = 'completed'")" = 1 ]
}
rows_of() { # rows_of PRACTICE_ID FILENAME: items the cloud holds for that file
    pq "SELECT count(*) || '/' || count(DISTINCT i.row_number) FROM import_job_items i
        JOIN import_jobs j ON j.id = i.job_id WHERE j.practice_id = '$1' AND j.filename = '$2'"
}

# A template saved in the cloud for practice a, before the agent starts.
python3 - "$top/config/templates/generic-patients.json" >"$work/saved.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["id"] = "cloud-patients"
print(json.dumps({"name": "Saved patients", "import_type": "patients", "mapping_config": t,
                  "validation_rules": None}))
PY
saved_status=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $(cat "$work/a.token")" \
    -H 'Content-Type: application/json' --data-binary @"$work/saved.json" "$CLOUD_URL/v1/templates/cloud-patients")

"$agent" run -c "$work/dentsync.conf" >>"$work/agent.log" 2>&1 &
agent_pid=$!
# The first agent holds the lock once it says it runs; only then the second.
wait_until 10 grep -q 'dentsync running' "$work/agent.log"
timeout 10 "$agent" run -c "$work/dentsync.conf" >"$work/second.log" 2>&1
second=$?
check "a second agent on the same state directory refuses to run (exit $second)" \
    test "$second" -eq 1 -a -n "$(grep 'already running on the state directory' "$work/second.log")"
check "the practice's saved template is in the cloud (HTTP $saved_status)" test "$saved_status" = 201
check "the agent pulls it into its cache, 0600" \
    wait_until 10 test -f "$work/state/cloud-templates/a/cloud-patients.json"
check "the cached template is private" \
    test "$(stat -c %a "$work/state/cloud-templates/a/cloud-patients.json")" = 600
make_csv T 9 >"$work/saved/saved.csv"
check "a folder pinned to the saved template imports with it" wait_until 20 job_done "$a_id" saved.csv
check "the cloud counts the template's use" \
    test "$(pq "SELECT usage_count || ',' || (SELECT template_id FROM import_jobs WHERE filename = 'saved.csv' AND practice_id = '$a_id') FROM import_templates WHERE practice_id = '$a_id' AND id = 'cloud-patients'")" = "1,cloud-patients"
agent_seen() {
    curl -s -H "Authorization: Bearer $(cat "$work/a.token")" "$CLOUD_URL/v1/agents" |
        grep -q "\"agent_id\":\"$(cat "$work/state/agent-id")\""
}
check "the agent's heartbeat reaches the cloud (GET /v1/agents lists it)" wait_until 10 agent_seen

# --- patterns, temporary names, after-delivery ---------------------------------
make_csv P 30 >"$work/inbox/good.csv"
make_csv N 5 >"$work/inbox/notes.txt"
make_csv S 5 >"$work/inbox/skip-this.csv"
make_csv R 25 >"$work/inbox/renamed.csv.part"
check "a matching file is delivered" wait_until 20 job_done "$a_id" good.csv
check "the delivered file moved to processed/" \
    wait_until 5 test -f "$work/inbox/processed/good.csv" -a ! -e "$work/inbox/good.csv"
mv "$work/inbox/renamed.csv.part" "$work/inbox/renamed.csv"
check "a file renamed into place after a temporary name is delivered" \
    wait_until 20 job_done "$a_id" renamed.csv
check "it arrived once, every row once" test "$(rows_of "$a_id" renamed.csv)" = "25/25"
check "names outside include or inside exclude, and temporary names, are never taken" \
    test "$(queue_sql "SELECT count(*) FROM files WHERE path LIKE '%notes.txt' OR path LIKE '%skip-this.csv' OR path LIKE '%.part'")" = 0 \
    -a "$(pq "SELECT count(*) FROM import_jobs WHERE filename IN ('notes.txt', 'skip-this.csv', 'renamed.csv.part')")" = 0

# --- a file written slowly over 20 seconds, in the background ---------------------
(
    make_csv W 40 | head -n 1 >"$work/inbox/slow.csv"
    make_csv W 40 | tail -n +2 | while IFS= read -r line; do
        printf '%s\n' "$line" >>"$work/inbox/slow.csv"
        sleep 0.5
    done
) &
writer_pid=$!

# --- quarantine -------------------------------------------------------------------
printf 'Patient ID,First Name\n\000\001\002garbage\000\n' >"$work/inbox/bad.csv"
check "an unreadable file is moved to quarantine/" \
    wait_until 20 test -f "$work/inbox/quarantine/bad.csv" -a ! -e "$work/inbox/bad.csv"
# The reason is written just after the move: give it a moment.
check "its reason stands beside it, with a code" \
    wait_until 5 grep -q '^code: ' "$work/inbox/quarantine/bad.csv.error.txt"
check "the queue records it quarantined with its reason" \
    test -n "$(queue_sql "SELECT reason_code FROM files WHERE path LIKE '%/bad.csv' AND state = 'quarantined'")"

# --- a network share by rescans alone ----------------------------------------------
make_csv H 12 >"$work/share/share.csv"
check "a folder flagged as a network share gets no event watch" \
    grep -q 'folder share: network share' "$work/agent.log"
check "and its file arrives by rescans" wait_until 20 job_done "$a_id" share.csv

# --- two practices, one with a revoked token ----------------------------------------
"$CLOUD_BIN" token revoke "$b_token_id" --db "$DS_OWNER_DB" >/dev/null 2>&1
make_csv B 10 >"$work/binbox/b.csv"
make_csv A 10 >"$work/inbox/a-while-b-paused.csv"
check "the revoked practice is paused, and the log says so" \
    wait_until 20 grep -q "practice b: the cloud refused its token" "$work/agent.log"
check "the other practice's data still arrives" \
    wait_until 20 job_done "$a_id" a-while-b-paused.csv
check "nothing of the paused practice reached the cloud" \
    test "$(pq "SELECT count(*) FROM import_jobs WHERE practice_id = '$b_id'")" = 0
check "the paused practice's job waits in the queue" \
    test "$(queue_sql "SELECT state FROM jobs WHERE filename = 'b.csv'")" = uploading
control() { # control COMMAND: the running agent's one-line answer
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); print(s.makefile().readline().strip())' \
        "$work/state/control.sock" "$1"
}
check "the running agent reports the pause through its control socket" \
    sh -c "echo '$(control status)' | grep -q '\"name\":\"b\",\"paused\":true'"
check "the pause is in the audit trail" \
    test "$(queue_sql "SELECT count(*) > 0 FROM events WHERE kind = 'practice_paused'")" = 1

# --- the slow file, complete and once --------------------------------------------------
wait "$writer_pid"
writer_pid=
check "a file written over 20 seconds is delivered once" wait_until 30 job_done "$a_id" slow.csv
check "complete: every one of its 40 rows, once" test "$(rows_of "$a_id" slow.csv)" = "40/40"
check "and was never taken half-written" \
    test "$(queue_sql "SELECT count(*) FROM files WHERE path LIKE '%/slow.csv'")" = 1

# --- a 503 with Retry-After ---------------------------------------------------------------
pg_pause >/dev/null 2>&1
make_csv U 10 >"$work/inbox/during-503.csv"
check "the cloud answers 503 while its database is down, and the agent waits" \
    wait_until 20 grep -q 'failed (HTTP_503), retry in' "$work/agent.log"
sleep 1.5
pg_resume >/dev/null 2>&1
check "after the 503s the file is delivered" wait_until 30 job_done "$a_id" during-503.csv
short=$(grep -oE 'failed \(HTTP_503\), retry in [0-9.]+s' "$work/agent.log" |
    grep -oE '[0-9.]+s$' | tr -d s | awk '$1 < 1.0' | wc -l)
check "no retry after a 503 came sooner than its Retry-After (1 s)" test "$short" -eq 0

# --- a 30-second outage in the middle of an upload -------------------------------------------
make_csv O 3000 >"$work/big.csv"
mv "$work/big.csv" "$work/inbox/big.csv"
batches="SELECT count(*) FROM import_batches b JOIN import_jobs j ON j.id = b.job_id
         WHERE j.practice_id = '$a_id' AND j.filename = 'big.csv'"
batches_at_least() { [ "$(pq "$batches")" -ge "$1" ]; }
wait_until 30 batches_at_least 3
port=$CLOUD_PORT
cloud_stop >/dev/null 2>&1
at_outage=$(pq "$batches")
check "dentsync sync-now reaches the running agent" \
    "$agent" sync-now -c "$work/dentsync.conf"
check "which ends its backoff and says so" wait_until 5 grep -q 'sync now: ' "$work/agent.log"
check "the outage began mid-upload ($at_outage of 150 batches)" test "$at_outage" -gt 0 -a "$at_outage" -lt 150
sleep 30
check "the cloud comes back after 30 s" cloud_start "$BUILD" "$port"
check "after the outage the file is delivered" wait_until 60 job_done "$a_id" big.csv
check "every row once" test "$(rows_of "$a_id" big.csv)" = "3000/3000" \
    -a "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id' AND external_id LIKE 'O%'")" = 3000

# --- SIGHUP: a bad config is refused, a good one takes effect --------------------------------
cp "$work/dentsync.conf" "$work/good.conf"
printf '\n[folder late]\npath = %s/late\npractice = nobody\n' "$work" >>"$work/dentsync.conf"
kill -HUP "$agent_pid"
check "a bad configuration on SIGHUP is reported and the agent runs on" \
    wait_until 10 grep -q 'SIGHUP: .* has errors' "$work/agent.log"
check "the agent is still running" kill -0 "$agent_pid"
cp "$work/good.conf" "$work/dentsync.conf"
printf '\n[folder late]\npath = %s/late\npractice = a\nimport_type = patients\ntemplate = generic-patients\n' \
    "$work" >>"$work/dentsync.conf"
kill -HUP "$agent_pid"
make_csv L 7 >"$work/late/late.csv"
check "a folder added by SIGHUP is watched" wait_until 20 job_done "$a_id" late.csv
check "the reload is in the audit trail" \
    test "$(queue_sql "SELECT count(*) FROM events WHERE kind = 'config_reloaded'")" = 1

# --- dentsync reload: the same over the control socket (Windows has no SIGHUP) --------------
mkdir -p "$work/late2"
cp "$work/dentsync.conf" "$work/good.conf"
printf '\n[folder late2]\npath = %s/late2\npractice = nobody\n' "$work" >>"$work/dentsync.conf"
"$agent" reload -c "$work/dentsync.conf" >"$work/reload.out" 2>&1
check "reload with a bad configuration: refused before asking (exit 3), the agent runs on" \
    test $? -eq 3 -a -n "$(grep 'nobody' "$work/reload.out")"
check "the agent is still running" kill -0 "$agent_pid"
cp "$work/good.conf" "$work/dentsync.conf"
printf '\n[folder late2]\npath = %s/late2\npractice = a\nimport_type = patients\ntemplate = generic-patients\n' \
    "$work" >>"$work/dentsync.conf"
"$agent" reload -c "$work/dentsync.conf" >"$work/reload.out" 2>&1
check "reload with a good configuration: exit 0" test $? -eq 0
make_csv M 5 >"$work/late2/late2.csv"
check "a folder added by reload is watched" wait_until 20 job_done "$a_id" late2.csv
check "the second reload is in the audit trail" \
    test "$(queue_sql "SELECT count(*) FROM events WHERE kind = 'config_reloaded'")" = 2
check "the log says the reload came from the control socket" grep -q 'reload: reloading' "$work/agent.log"

# --- clean stop --------------------------------------------------------------------------------
kill -TERM "$agent_pid"
status=0
wait "$agent_pid" || status=$?
agent_pid=
check "the agent stops cleanly on SIGTERM (exit 0)" test "$status" -eq 0
"$agent" sync-now -c "$work/dentsync.conf" 2>"$work/sync-now.err"
check "sync-now without a running agent fails and says why" \
    test $? -eq 1 -a -n "$(grep 'not running' "$work/sync-now.err")"
check "the control socket is gone with the agent" test ! -e "$work/state/control.sock"

# --- a read-only export folder, the agent as an unprivileged user ----------------------------
# Root reads and writes everything; the practice PC's service user does not.
ro=$(mktemp -d /tmp/dentsync-e2e-ro.XXXXXX)
chmod 755 "$ro"
mkdir -p "$ro/inbox" "$ro/state"
cp "$BUILD/dentsync" "$ro/dentsync"
cp "$work/a.token" "$ro/a.token"
chown nobody "$ro/state" "$ro/a.token"
chmod 600 "$ro/a.token"
cat >"$ro/dentsync.conf" <<EOF
[agent]
state_dir = $ro/state
settle_seconds = 0.3
rescan_seconds = 0.3
[cloud]
url = $CLOUD_URL
heartbeat_seconds = 0
[practice a]
token_file = $ro/a.token
[folder inbox]
path = $ro/inbox
practice = a
import_type = patients
template = generic-patients
after = move
EOF
chmod 644 "$ro/dentsync.conf"
make_csv Q 6 >"$ro/inbox/ro-good.csv"
printf 'Patient ID\n\000\000\n' >"$ro/inbox/ro-bad.csv"
chmod 644 "$ro/inbox/"*.csv
runuser -u nobody -- "$ro/dentsync" run -c "$ro/dentsync.conf" >"$ro/agent.log" 2>&1 &
agent_pid=$!
check "as an unprivileged user, a file in a read-only folder is still delivered" \
    wait_until 20 job_done "$a_id" ro-good.csv
check "it stays in place, and the log says why" \
    wait_until 5 grep -q 'ro-good.csv: delivered, but cannot move it' "$ro/agent.log"
check "an unreadable file there is quarantined in place, and the log says so" \
    wait_until 10 grep -q 'ro-bad.csv: quarantined but left in place' "$ro/agent.log"
sleep 1
check "neither is taken again by later rescans" \
    test "$(sqlite3 -readonly "$ro/state/queue.db" "SELECT count(*) FROM files")" = 2 \
    -a -e "$ro/inbox/ro-good.csv" -a -e "$ro/inbox/ro-bad.csv"
check "the queue is the service user's and closed to others" \
    test "$(stat -c '%U %a' "$ro/state/queue.db")" = "nobody 640"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
[ "$failed" -eq 0 ] && rm -rf "$ro"

e2e_summary
