#!/bin/bash
# crash.sh — kill -9 of the agent anywhere loses and duplicates nothing.
# Run by tests/e2e/run.sh, which starts the PostgreSQL cluster; run alone it
# starts its own.
#
#   1. every named crash point (docs/reliability.md): the agent runs with
#      DENTSYNC_CRASH_AT=NAME[:N] on a many-batch file, must die there (the
#      crash log names the point), is started again without the switch and
#      must finish the file;
#   2. random kills: files dropped into a running agent, kill -9 after a
#      random fraction of a second (seeded: CRASH_SEED, CRASH_KILLS), restart,
#      finish — at least 20 times on one queue that keeps its history;
#   3. a damaged queue file: `dentsync run` refuses to start, says why, and
#      leaves the file as it was.
#
# After each crash and restart: PostgreSQL holds every row of the file
# exactly once (count and distinct external_id), every import_job_items row
# once, one completed cloud job per file whose counters agree with its
# items, and the agent's queue has no file,
# job, batch or item left in a non-final state.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work crash

e2e_pg

agent=$BUILD/dentsync

e2e_practice_migrated "e2e-crash-$$"
e2e_cloud
in_practice="practice_id = '$practice_id'"

# --- helpers -------------------------------------------------------------------

# setup_dir DIR BATCH_ROWS: a state dir, an inbox and a config for one agent.
setup_dir() {
    mkdir -p "$1/inbox" "$1/state"
    cat >"$1/dentsync.conf" <<EOF
[agent]
state_dir = $1/state
log_level = info
settle_seconds = 0.1
rescan_seconds = 0.3

[cloud]
url = $CLOUD_URL
batch_rows = $2
max_in_flight = 2
timeout_seconds = 5
retry_min_seconds = 0.05
retry_max_seconds = 0.3

[practice main]
token_file = $work/token

[folder patients]
path = $1/inbox
practice = main
import_type = patients
template = generic-patients
EOF
}

# make_csv PREFIX ROWS > FILE: synthetic patients with ids PREFIX-0001...
make_csv() {
    awk -v p="$1" -v n="$2" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++)
            printf "%s-%04d,Crashfirst%d,Crashlast%d,1975-%02d-%02d,%s-%d@example.com\n",
                p, i, i, i, i % 12 + 1, i % 28 + 1, tolower(p), i;
    }'
}

# start_agent DIR [VAR=VALUE...]: the agent in the background, $agent_pid.
# A wrapper subshell waits for it and keeps its exit status, so bash does not
# report every kill -9 on the terminal.
start_agent() {
    _dir=$1
    shift
    rm -f "$_dir/agent.pid" "$_dir/agent.status"
    (
        env "$@" "$agent" run -c "$_dir/dentsync.conf" >>"$_dir/agent.log" 2>&1 &
        echo $! >"$_dir/agent.pid"
        wait $!
        echo $? >"$_dir/agent.status"
    ) 2>/dev/null &
    wrapper_pid=$!
    agent_dir=$_dir
    while [ ! -s "$_dir/agent.pid" ]; do
        sleep 0.01
    done
    agent_pid=$(cat "$_dir/agent.pid")
}

# wait_exit SECONDS: waits for the agent to end by itself; its status in
# $exit_status (124 when it had to be killed).
wait_exit() {
    _deadline=$(($(date +%s) + $1))
    while kill -0 "$agent_pid" 2>/dev/null && [ "$(date +%s)" -le "$_deadline" ]; do
        sleep 0.02
    done
    if kill -0 "$agent_pid" 2>/dev/null; then
        kill_agent
        exit_status=124
        return
    fi
    wait "$wrapper_pid" 2>/dev/null
    exit_status=$(cat "$agent_dir/agent.status" 2>/dev/null)
    agent_pid=
}

kill_agent() {
    [ -n "$agent_pid" ] || return 0
    kill -9 "$agent_pid" 2>/dev/null
    wait "$wrapper_pid" 2>/dev/null
    agent_pid=
}

poll=0.05 # wait_done

# verify WHAT ID_LIKE FILE_LIKE ROWS FILES: PostgreSQL holds ROWS patients
# with ids LIKE ID_LIKE, all distinct, ROWS items once each for the jobs of
# files LIKE FILE_LIKE, and FILES such jobs, all completed.
verify() {
    _got=$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients
               WHERE $in_practice AND external_id LIKE '$2'")
    check "$1: every row exactly once in PostgreSQL ($_got of $4)" test "$_got" = "$4/$4"
    _got=$(pq "SELECT count(*) || '/' || count(DISTINCT (i.job_id, i.row_number))
               FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
               WHERE j.$in_practice AND j.filename LIKE '$3'")
    check "$1: every import_job_items row once ($_got of $4)" test "$_got" = "$4/$4"
    _got=$(pq "SELECT count(*) || '/' || count(*) FILTER (WHERE status = 'completed')
               FROM import_jobs WHERE $in_practice AND filename LIKE '$3'")
    check "$1: one completed cloud job per file ($_got of $5)" test "$_got" = "$5/$5"
    _got=$(pq "SELECT count(*) FILTER (WHERE NOT (j.processed_rows = c.n AND j.successful_rows = c.ok
                   AND j.failed_rows = c.n - c.ok AND j.total_rows = c.n))
               FROM import_jobs j,
                    LATERAL (SELECT count(*) AS n,
                                    count(*) FILTER (WHERE status IN
                                        ('created', 'updated', 'unchanged', 'deleted')) AS ok
                               FROM import_job_items WHERE job_id = j.id) c
               WHERE j.$in_practice AND j.filename LIKE '$3'")
    check "$1: every job's counters (processed, successful, failed, total) agree with its items ($_got disagree)" \
        test "$_got" = 0
}

# --- 1. the named crash points ----------------------------------------------------

# NAME[:N] of each point; N picks a hit in the middle of the upload.
points="file_added_after_commit
after_stage_commit
job_staged_before_commit
after_open_before_record
batch_in_flight_after_commit:3
after_send_before_ack:4
batch_acked_before_commit:2
batch_acked_after_commit:5
job_completed_before_commit
after_complete_before_record
job_completed_after_commit"

rows=60
n=0
for at in $points; do
    n=$((n + 1))
    name=${at%%:*}
    dir=$work/p$n
    file=crash-$n.csv
    prefix=$(printf 'P%02d' "$n")
    setup_dir "$dir" 5
    make_csv "$prefix" $rows >"$dir/$file.tmp"
    mv "$dir/$file.tmp" "$dir/inbox/$file"
    start_agent "$dir" DENTSYNC_CRASH_AT="$at" DENTSYNC_CRASH_LOG="$dir/crash.log"
    wait_exit 20
    check "$at: the agent died at the point (status $exit_status)" \
        test "$exit_status" = 137 -a "$(cat "$dir/crash.log" 2>/dev/null)" = "$name"
    start_agent "$dir"
    check "$at: after a restart the file is done and the queue final" wait_done "$dir" 1 30
    kill_agent
    verify "$at" "$prefix-%" "$file" $rows 1
done

# --- 2. random kills --------------------------------------------------------------

seed=${CRASH_SEED:-20240611}
kills=${CRASH_KILLS:-22}
RANDOM=$seed
echo "# random kills: seed $seed, $kills kills"
dir=$work/random
setup_dir "$dir" 4
total_rows=0
phases=
for i in $(seq 1 "$kills"); do
    prefix=$(printf 'R%02d' "$i")
    file=rand-$i.csv
    r=$((60 + RANDOM % 120))
    total_rows=$((total_rows + r))
    make_csv "$prefix" $r >"$dir/$file"
    start_agent "$dir"
    mv "$dir/$file" "$dir/inbox/$file"
    ms=$((60 + RANDOM % 400))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill_agent
    # Where the kill landed, for the record.
    phase=$(queue_sql "$dir" "SELECT state FROM files WHERE path LIKE '%/$file'")
    phases="$phases ${phase:-watch}"
    start_agent "$dir"
    if ! wait_done "$dir" "$i" 30; then
        not_ok "kill $i (after ${ms} ms, ${phase:-watch}): the queue did not finish"
        kill_agent
        continue
    fi
    kill_agent
    _got=$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients
               WHERE $in_practice AND external_id LIKE 'R%'")
    _items=$(pq "SELECT count(*) || '/' || count(DISTINCT (i.job_id, i.row_number))
                 FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
                 WHERE j.$in_practice AND j.filename LIKE 'rand-%'")
    _jobs=$(pq "SELECT count(*) FILTER (WHERE status = 'completed') FROM import_jobs
                WHERE $in_practice AND filename LIKE 'rand-%'")
    check "kill $i after ${ms} ms (${phase:-watch}): $total_rows rows once, items once, $i jobs" \
        test "$_got" = "$total_rows/$total_rows" -a "$_items" = "$total_rows/$total_rows" \
        -a "$_jobs" = "$i"
done
echo "# kills landed in:$(printf '%s\n' $phases | sort | uniq -c | awk '{printf " %s %s", $2, $1}')"
verify "after $kills random kills" "R%" "rand-%" $total_rows "$kills"

# --- 3. a damaged queue file ----------------------------------------------------------

dir=$work/damaged
setup_dir "$dir" 5
head -c 65536 /dev/urandom >"$dir/state/queue.db"
chmod 600 "$dir/state/queue.db"
before=$(sha256sum <"$dir/state/queue.db")
start_agent "$dir"
wait_exit 10
check "a queue file of garbage: dentsync run exits non-zero (status $exit_status)" \
    test "$exit_status" != 0 -a "$exit_status" != 124
check "a queue file of garbage: the error names the file and says why" \
    grep -q "queue.db: not a dentsync queue" "$dir/agent.log"
check "a queue file of garbage: the file is left untouched" \
    test "$(sha256sum <"$dir/state/queue.db")" = "$before" -a ! -e "$dir/state/queue.db-wal"

# A real queue whose first page (the SQLite header) was overwritten.
cp "$work/p1/state/queue.db" "$dir/state/queue.db"
rm -f "$dir/state/queue.db-wal" "$dir/state/queue.db-shm"
printf 'this is no longer a database header' |
    dd of="$dir/state/queue.db" bs=1 seek=0 conv=notrunc status=none
before=$(sha256sum <"$dir/state/queue.db")
: >"$dir/agent.log"
start_agent "$dir"
wait_exit 10
check "a queue with a damaged header: dentsync run exits non-zero (status $exit_status)" \
    test "$exit_status" != 0 -a "$exit_status" != 124
check "a queue with a damaged header: the error says so" grep -q "queue.db: " "$dir/agent.log"
check "a queue with a damaged header: the file is left untouched" \
    test "$(sha256sum <"$dir/state/queue.db")" = "$before"

e2e_summary
