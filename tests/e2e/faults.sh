#!/bin/bash
# faults.sh — the network between agent and cloud misbehaves, the cloud is
# killed, PostgreSQL restarts: nothing is lost and nothing applied twice.
#
# agent → tests/tools/faultproxy → dentsync-cloud → PostgreSQL. Each case
# gives the proxy a script (which request it breaks, and how), drops a file
# of 40 patients (8 batches of 5) into a fresh agent and then checks:
#   - the proxy applied the fault (its log names it);
#   - PostgreSQL holds every row exactly once (count and distinct
#     external_id) and every import_job_items row once;
#   - the cloud job is completed and its counters agree with its items
#     (processed = items, successful = created/updated/unchanged/deleted
#     items, failed = the rest);
#   - the agent's queue has no file, job, batch or item in a non-final state;
#   - after a 429/503 with Retry-After, the same request came no earlier.
# Two crash cases: kill -9 of the cloud server while a batch is on its way,
# and PostgreSQL stopped (immediate) and started again mid-upload.
#
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work faults
proxy_pid=
e2e_on_exit() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
    pg_psql "ALTER ROLE dentsync_app IN DATABASE dentsync RESET synchronous_commit" >/dev/null 2>&1
}

e2e_pg
# A commit the cloud acknowledged must survive PostgreSQL's crash: the test
# cluster runs with synchronous_commit off, so the application role turns
# it on (with fsync off, a commit still reaches the OS before it returns).
# (The role exists once the cloud migrated: start, set, start again.)
cloud_start "$BUILD" >/dev/null &&
    pg_psql "ALTER ROLE dentsync_app IN DATABASE dentsync SET synchronous_commit = on" >/dev/null &&
    cloud_stop && cloud_start "$BUILD" >/dev/null ||
    bail "cloud did not start"
agent=$BUILD/dentsync
proxy=$BUILD/tests/tools/faultproxy
[ -x "$proxy" ] || bail "$proxy not built"

e2e_practice "e2e-faults-$$"
in_practice="practice_id = '$practice_id'"

rows=40

# make_csv PREFIX ROWS: synthetic patients with ids PREFIX-0001...
make_csv() {
    awk -v p="$1" -v n="$2" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++)
            printf "%s-%04d,Faultfirst%d,Faultlast%d,1980-%02d-%02d,%s-%d@example.com\n",
                p, i, i, i, i % 12 + 1, i % 28 + 1, tolower(p), i;
    }'
}

# start_proxy DIR: the proxy on a free port in front of the cloud, with
# DIR/script; PROXY_URL.
start_proxy() {
    : >"$1/proxy.out"
    "$proxy" -u "127.0.0.1:$CLOUD_PORT" -s "$1/script" -o "$1/proxy.log" >"$1/proxy.out" 2>&1 &
    proxy_pid=$!
    _n=0
    while ! grep -q '^port ' "$1/proxy.out" && [ $_n -lt 100 ]; do
        sleep 0.02
        _n=$((_n + 1))
    done
    PROXY_URL=http://127.0.0.1:$(awk '/^port /{print $2}' "$1/proxy.out")
    grep -q '^port ' "$1/proxy.out" || { cat "$1/proxy.out"; return 1; }
}

stop_proxy() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
    proxy_pid=
}

# setup DIR TIMEOUT: a state dir, an inbox and a config pointing at the proxy.
setup() {
    mkdir -p "$1/inbox" "$1/state"
    cat >"$1/dentsync.conf" <<EOF
[agent]
state_dir = $1/state
log_level = info
settle_seconds = 0.1
rescan_seconds = 0.3

[cloud]
url = $PROXY_URL
batch_rows = 5
max_in_flight = 1
timeout_seconds = $2
connect_timeout_seconds = 2
retry_min_seconds = 0.1
retry_max_seconds = 0.5
pause_probe_seconds = 0.5
heartbeat_seconds = 0

[practice main]
token_file = $work/token

[folder patients]
path = $1/inbox
practice = main
import_type = patients
template = generic-patients
EOF
}


# verify NAME PREFIX FILE: rows once, items once, counters agree, completed.
verify() {
    _got=$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients
               WHERE $in_practice AND external_id LIKE '$2-%'")
    check "$1: every row exactly once in PostgreSQL ($_got of $rows)" test "$_got" = "$rows/$rows"
    _got=$(pq "SELECT count(*) || '/' || count(DISTINCT (i.job_id, i.row_number))
               FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
               WHERE j.$in_practice AND j.filename = '$3'")
    check "$1: every import_job_items row once ($_got of $rows)" test "$_got" = "$rows/$rows"
    _got=$(pq "SELECT count(*) || ' ' || bool_and(j.status = 'completed'
                   AND j.processed_rows = c.n AND j.successful_rows = c.ok
                   AND j.failed_rows = c.n - c.ok AND j.total_rows = $rows)
               FROM import_jobs j,
                    LATERAL (SELECT count(*) AS n,
                                    count(*) FILTER (WHERE status IN
                                        ('created', 'updated', 'unchanged', 'deleted')) AS ok
                               FROM import_job_items WHERE job_id = j.id) c
               WHERE j.$in_practice AND j.filename = '$3'")
    check "$1: one completed job whose counters agree with its items ($_got)" test "$_got" = "1 true"
}

# run_case NAME TIMEOUT EXPECT_IN_LOG [HOOK]: a fresh agent behind a proxy
# running DIR/script (written by the caller into $work/NAME/script);
# HOOK runs once the file was dropped.
run_case() {
    _name=$1
    _dir=$work/$_name
    _prefix=F$(printf '%02d' "$case_no")
    _file=$_name.csv
    case_no=$((case_no + 1))
    if ! start_proxy "$_dir"; then
        not_ok "$_name: the proxy did not start"
        return
    fi
    setup "$_dir" "$2"
    "$agent" run -c "$_dir/dentsync.conf" >>"$_dir/agent.log" 2>&1 &
    agent_pid=$!
    make_csv "$_prefix" $rows >"$_dir/$_file"
    mv "$_dir/$_file" "$_dir/inbox/$_file"
    [ $# -ge 4 ] && "$4" "$_dir"
    check "$_name: the file is delivered, the queue final" wait_done "$_dir" 1 60
    check "$_name: the proxy injected the fault ($3)" grep -q -- "$3" "$_dir/proxy.log"
    kill -TERM "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
    agent_pid=
    stop_proxy
    verify "$_name" "$_prefix" "$_file"
}

# retry_after_kept DIR ACTION SECONDS: in the proxy log, each request that
# met ACTION came again, and no sooner than SECONDS later.
retry_after_kept() {
    awk -v act="$2" -v ra="$3" '
        { line = ""; for (i = 5; i <= NF; i++) line = line " " $i }
        $4 == act { due[line] = $1 + ra * 1000; n++; next }
        line in due { if ($1 < due[line]) bad++; delete due[line]; seen++ }
        END {
            if (n == 0 || seen == 0 || bad > 0) {
                print "# " n " answered, " seen " came again, " bad " too soon"; exit 1
            }
        }' "$1/proxy.log"
}

case_no=1

mkdir -p "$work/pass"
echo '* pass' >"$work/pass/script"
run_case pass 5 "pass PUT"

mkdir -p "$work/reset-answer"
printf '/batches/ pass x2\n/batches/ reset 40\n' >"$work/reset-answer/script"
run_case reset-answer 5 "reset after 40 answer bytes"
check "reset-answer: the batch whose answer was cut was sent again" retry_after_kept "$work/reset-answer" reset 0

mkdir -p "$work/reset-request"
printf '/batches/ pass\n/batches/ reset_request 300\n' >"$work/reset-request/script"
run_case reset-request 5 "reset after 300 request bytes"

mkdir -p "$work/drop"
printf 'POST+/v1/jobs+HTTP drop\n/batches/ pass x3\n/batches/ drop x2\n/complete drop\n' \
    >"$work/drop/script"
run_case drop 5 "drop POST /v1/jobs"

mkdir -p "$work/stall"
printf '/batches/ pass\n/batches/ stall 4\n' >"$work/stall/script"
run_case stall 2 "stall PUT"
check "stall: the agent gave up after its 2 s timeout and sent the batch again" \
    retry_after_kept "$work/stall" stall 2

mkdir -p "$work/stall-answer"
printf '/batches/ pass x2\n/batches/ stall_answer 4\n/complete stall_answer 4\n' \
    >"$work/stall-answer/script"
run_case stall-answer 2 "stall_answer PUT"
check "stall-answer: the agent gave up after its 2 s timeout and sent the batch again" \
    retry_after_kept "$work/stall-answer" stall_answer 2

mkdir -p "$work/throttle"
printf '/batches/ throttle 2000 x3\n' >"$work/throttle/script"
run_case throttle 5 "throttle PUT"

mkdir -p "$work/status-500"
printf '/batches/ pass\n/batches/ status 500 x2\n/complete status 502\n' >"$work/status-500/script"
run_case status-500 5 "status PUT"
check "status-500: each request answered 500 or 502 was sent again" retry_after_kept "$work/status-500" status 0

mkdir -p "$work/status-503"
printf '/batches/ pass x2\n/batches/ status 503 2\n' >"$work/status-503/script"
run_case status-503 5 "status PUT"
check "status-503: the batch came again no sooner than its Retry-After (2 s)" \
    retry_after_kept "$work/status-503" status 2

mkdir -p "$work/status-429"
printf 'POST+/v1/jobs+HTTP status 429 1.5\n/batches/ pass\n/batches/ status 429 1.5\n/complete status 429 1.5\n' \
    >"$work/status-429/script"
run_case status-429 5 "status POST /v1/jobs"
check "status-429: each request came again no sooner than its Retry-After (1.5 s)" \
    retry_after_kept "$work/status-429" status 1.5

# --- the cloud killed mid-batch ------------------------------------------------------
# The third batch crawls through the proxy; while it does, kill -9 the cloud
# and start it again on its port.
kill_cloud() {
    _n=0
    while ! grep -q 'throttle PUT' "$1/proxy.log" 2>/dev/null && [ $_n -lt 200 ]; do
        sleep 0.05
        _n=$((_n + 1))
    done
    sleep 0.3
    kill -9 "$CLOUD_PID" 2>/dev/null
    wait "$CLOUD_PID" 2>/dev/null
    _port=$CLOUD_PORT
    unset CLOUD_PID
    sleep 0.5
    check "cloud-kill: the cloud was killed mid-batch and comes back on its port" \
        cloud_start "$BUILD" "$_port"
}
mkdir -p "$work/cloud-kill"
printf '/batches/ pass x2\n/batches/ throttle 300\n' >"$work/cloud-kill/script"
run_case cloud-kill 10 "throttle PUT" kill_cloud

# --- PostgreSQL restarted mid-batch --------------------------------------------------
restart_pg() {
    _n=0
    while ! grep -q 'stall_answer PUT' "$1/proxy.log" 2>/dev/null && [ $_n -lt 200 ]; do
        sleep 0.05
        _n=$((_n + 1))
    done
    pg_pause >/dev/null 2>&1
    sleep 1
    check "pg-restart: PostgreSQL stopped mid-batch and started again" pg_resume
}
mkdir -p "$work/pg-restart"
printf '/batches/ pass x2\n/batches/ stall_answer 0.5 x2\n' >"$work/pg-restart/script"
run_case pg-restart 5 "stall_answer PUT" restart_pg

e2e_summary
