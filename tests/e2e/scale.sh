#!/bin/bash
# scale.sh — growth past one machine is configuration: two `dentsync-cloud
# serve` processes on one database answer as one (the API keeps no state of
# its own), and the whole path runs through PgBouncer in transaction
# pooling mode (docs/scaling.md).
#
#   1. with curl, against two servers A and B: a job created on A takes
#      batches on B; a batch sent to B and retried on A gets B's stored
#      answer, byte for byte; the same seq with another digest is 409 on
#      either; a job completed on B is complete on A;
#   2. the real agent behind a round-robin balancer over A and B (a new
#      connection goes to the other server), with an answer lost once
#      (tests/tools/faultproxy): every row once, the job completed, both
#      servers used, the lost batch answered from its stored answer;
#   3. a third server whose database URL is PgBouncer (pool_mode =
#      transaction, one server connection): curl replays, the agent's
#      upload with a lost answer, completion; and the one server connection
#      keeps no session setting of the cloud for the next client.
#
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Only synthetic data. Prints `ok - …` / `not ok - …` per check and ends
# with `N passed, N failed[, N skipped]`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work scale
pids=()
e2e_on_exit() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
}

e2e_pg
e2e_cloud
e2e_practice "e2e-scale-$$"
token=$(cat "$work/token")
in_practice="practice_id = '$practice_id'"
agent=$BUILD/dentsync
proxy=$BUILD/tests/tools/faultproxy
[ -x "$proxy" ] || bail "$proxy not built"

# serve_on NAME DB_URL: another `dentsync-cloud serve` on a free port;
# sets URL_<NAME> and logs to $work/NAME.log.
serve_on() {
    local port
    port=$(free_port) || return 1
    "$CLOUD_BIN" serve --db "$2" --listen "127.0.0.1:$port" >>"$work/$1.log" 2>&1 &
    pids+=($!)
    printf -v "URL_$1" '%s' "http://127.0.0.1:$port"
    wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$port/v1/health"
}

URL_A=$CLOUD_URL
serve_on B "$DS_APP_DB" || bail "the second server did not start"

# --- curl helpers ---------------------------------------------------------------

# req URL METHOD PATH [curl args...]: status in $code, body in $work/body.
req() {
    local url=$1 method=$2 path=$3
    shift 3
    code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" \
        -H "Authorization: Bearer $token" "$@" "$url$path")
}
jf() { jq -r "$1" "$work/body" 2>/dev/null; }
uuid() { cat /proc/sys/kernel/random/uuid; }
fp() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

new_job() { # new_job URL ID: POST /v1/jobs
    req "$1" POST /v1/jobs --data-binary \
        "$(printf '{"id":"%s","import_type":"patients","filename":"scale.csv","sha256":"%s","total_rows":2,"template":"generic-patients","agent":{"id":"%s","version":"0.1.0"}}' \
            "$2" "$(fp "$2")" "$2")"
}

# batch FILE PREFIX: two patients rows; sets $digest (docs/protocol.md).
batch() {
    local r sep=''
    printf '{"rows":[' >"$1"
    : >"$work/lines"
    for r in 1 2; do
        printf '%s{"row":%d,"key":"ext:%s%d","fingerprint":"%s","record":{"external_id":"%s%d","first_name":"Scalefirst","last_name":"Scalelast%d","date_of_birth":"1980-01-0%d"},"raw":{}}' \
            "$sep" "$r" "$2" "$r" "$(fp "$2$r")" "$2" "$r" "$r" "$r" >>"$1"
        printf '%d\text:%s%d\t%s\n' "$r" "$2" "$r" "$(fp "$2$r")" >>"$work/lines"
        sep=,
    done
    printf ']}' >>"$1"
    digest=$(sort -n "$work/lines" | sha256sum | cut -d' ' -f1)
}
put_batch() { # put_batch URL JOB SEQ FILE DIGEST
    req "$1" PUT "/v1/jobs/$2/batches/$3" -H "Batch-Digest: $5" \
        -H 'Content-Type: application/json' --data-binary "@$4"
}

# api_checks NAME URL1 URL2: section 1 between the servers at URL1 and URL2.
api_checks() {
    local name=$1 u1=$2 u2=$3 job
    job=$(uuid)
    new_job "$u1" "$job"
    check "$name: a job created on one server (201)" test "$code" = 201
    batch "$work/$name.json" "S$name"
    put_batch "$u2" "$job" 1 "$work/$name.json" "$digest"
    cp "$work/body" "$work/$name.first"
    check "$name: the other server takes its batch (200, 2 created)" \
        test "$code:$(jq -r '[.results[].status] | join(",")' "$work/$name.first")" = "200:created,created"
    put_batch "$u1" "$job" 1 "$work/$name.json" "$digest"
    check "$name: the batch retried on the first server gets the stored answer, byte for byte" \
        cmp -s "$work/body" "$work/$name.first"
    check "$name: ... with status 200" test "$code" = 200
    batch "$work/$name.other.json" "T$name"
    put_batch "$u1" "$job" 1 "$work/$name.other.json" "$digest"
    check "$name: the same seq with other rows (another digest) is 409 BATCH_CONFLICT there" \
        test "$code:$(jf .error.code)" = "409:BATCH_CONFLICT"
    req "$u2" POST "/v1/jobs/$job/complete"
    check "$name: completed on the other server" test "$code:$(jf .status)" = "200:completed"
    req "$u1" GET "/v1/jobs/$job"
    check "$name: GET /v1/jobs/{id} on the first server says completed, 2 rows" \
        test "$code:$(jf .status):$(jf .processed_rows)" = "200:completed:2"
    check "$name: PostgreSQL holds the two patients once" \
        test "$(pq "SELECT count(*) FROM patients WHERE $in_practice AND external_id LIKE 'S$name%'")" = 2
}

# --- 1. two servers, one database -------------------------------------------------

api_checks ab "$URL_A" "$URL_B"

# --- 2. the agent behind a round-robin balancer ------------------------------------

# A TCP balancer: each new connection goes to the next upstream in turn;
# one line per connection in its log ("conn N upstream I").
cat >"$work/balancer.py" <<'PY'
import itertools, socket, sys, threading
ups = [("127.0.0.1", int(p)) for p in sys.argv[2:]]
log = open(sys.argv[1], "a", buffering=1)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("port", srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
for n in itertools.count():
    c, _ = srv.accept()
    i = n % len(ups)
    u = socket.create_connection(ups[i])
    log.write("conn %d upstream %d\n" % (n, i))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY

# start_port VAR OUT CMD...: starts CMD (which prints "port N"), sets VAR
# to N.
start_port() {
    local var=$1 out=$2
    shift 2
    "$@" >"$out" 2>&1 &
    pids+=($!)
    wait_until 10 grep -q '^port ' "$out" || { cat "$out"; return 1; }
    printf -v "$var" '%s' "$(awk '/^port /{print $2; exit}' "$out")"
}

make_csv() { # make_csv PREFIX ROWS
    awk -v p="$1" -v n="$2" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++)
            printf "%s-%04d,Scalefirst%d,Scalelast%d,1981-%02d-%02d,%s-%d@example.com\n",
                p, i, i, i, i % 12 + 1, i % 28 + 1, tolower(p), i;
    }'
}

# run_agent DIR URL PREFIX ROWS: the agent on DIR, its cloud at URL, until
# the file PREFIX.csv is done.
run_agent() {
    local dir=$1 rc
    mkdir -p "$dir/inbox" "$dir/state"
    cat >"$dir/dentsync.conf" <<EOF2
[agent]
state_dir = $dir/state
log_level = info
settle_seconds = 0.1
rescan_seconds = 0.3

[cloud]
url = $2
batch_rows = 10
max_in_flight = 1
timeout_seconds = 5
connect_timeout_seconds = 2
retry_min_seconds = 0.1
retry_max_seconds = 0.5
pause_probe_seconds = 0.5
heartbeat_seconds = 0

[practice main]
token_file = $work/token

[folder patients]
path = $dir/inbox
practice = main
import_type = patients
template = generic-patients
EOF2
    make_csv "$3" "$4" >"$dir/$3.tmp"
    mv "$dir/$3.tmp" "$dir/inbox/$3.csv"
    "$agent" run -c "$dir/dentsync.conf" >>"$dir/agent.log" 2>&1 &
    agent_pid=$!
    wait_done "$dir" 1 60
    rc=$?
    kill -TERM "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
    agent_pid=
    return $rc
}

# verify NAME PREFIX ROWS: rows and items once, the job completed.
verify() {
    local got
    got=$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients
              WHERE $in_practice AND external_id LIKE '$2-%'")
    check "$1: every row exactly once in PostgreSQL ($got of $3)" test "$got" = "$3/$3"
    got=$(pq "SELECT count(*) || '/' || count(DISTINCT (i.job_id, i.row_number))
              FROM import_job_items i JOIN import_jobs j
                ON j.practice_id = i.practice_id AND j.id = i.job_id
             WHERE j.$in_practice AND j.filename = '$2.csv'")
    check "$1: every item once ($got of $3)" test "$got" = "$3/$3"
    check "$1: the job is completed with $3 rows processed" \
        test "$(pq "SELECT status || ' ' || processed_rows FROM import_jobs
                    WHERE $in_practice AND filename = '$2.csv'")" = "completed $3"
}

start_port LB_PORT "$work/balancer.out" python3 "$work/balancer.py" "$work/balancer.log" \
    "${URL_A##*:}" "${URL_B##*:}" || bail "the balancer did not start"
# The second batch's answer is cut off: the agent resends it on a new
# connection, which the balancer sends to the other server.
mkdir -p "$work/lb"
printf '/batches/2 reset 20\n' >"$work/lb/script"
start_port FP_PORT "$work/lb/proxy.out" "$proxy" -u "127.0.0.1:$LB_PORT" -s "$work/lb/script" \
    -o "$work/lb/proxy.log" || bail "faultproxy did not start"
check "balanced: the agent's upload over both servers is done" \
    run_agent "$work/lb" "http://127.0.0.1:$FP_PORT" LB 45
verify balanced LB 45
check "balanced: the balancer sent connections to both servers" \
    test "$(grep -c 'upstream 0' "$work/balancer.log")" -gt 0 -a \
    "$(grep -c 'upstream 1' "$work/balancer.log")" -gt 0
# The server logs name the job; CLOUD_LOG may hold other suites' lines.
lb_job=$(pq "SELECT id FROM import_jobs WHERE $in_practice AND filename = 'LB.csv'")
check "balanced: both servers answered batches of the agent's job" \
    test "$(grep -c "/v1/jobs/$lb_job/batches/" "$CLOUD_LOG")" -gt 0 -a \
    "$(grep -c "/v1/jobs/$lb_job/batches/" "$work/B.log")" -gt 0
check "balanced: faultproxy cut off the answer of batch 2" grep -q 'reset.*/batches/2 ' "$work/lb/proxy.log"
check "balanced: the resent batch 2 got its stored answer (a replay)" \
    grep -qh "PUT /v1/jobs/$lb_job/batches/2 200 .* replay" "$CLOUD_LOG" "$work/B.log"

# --- 3. PgBouncer in transaction pooling mode -----------------------------------------

pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
if [ ! -x "$pgbouncer" ]; then
    skip_required "pgbouncer is not installed (installer/deps.sh)"
    e2e_summary
    exit
fi
# PgBouncer refuses to run as root: as root, it runs as postgres, like the
# cluster (tests/lib/pg.sh), from a folder of its own.
pgb=$work/pgbouncer
mkdir -p "$pgb"
PGB_PORT=$(free_port) || bail "no free port"
cat >"$pgb/pgbouncer.ini" <<EOF
[databases]
dentsync = host=127.0.0.1 port=$PG_PORT dbname=dentsync

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $pgb/userlist.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 100
logfile = $pgb/pgbouncer.log
pidfile = $pgb/pgbouncer.pid
EOF
printf '"dentsync_app" ""\n"postgres" ""\n' >"$pgb/userlist.txt"
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$work"
    chown -R postgres: "$pgb"
    runuser -u postgres -- "$pgbouncer" "$pgb/pgbouncer.ini" >>"$pgb/out" 2>&1 &
else
    "$pgbouncer" "$pgb/pgbouncer.ini" >>"$pgb/out" 2>&1 &
fi
pids+=($!)
pgb_url="postgresql://dentsync_app@127.0.0.1:$PGB_PORT/dentsync"
wait_until 10 psql "$pgb_url" -X -At -c 'SELECT 1' >/dev/null 2>&1 ||
    bail "pgbouncer did not start: $(cat "$pgb/out" "$pgb/pgbouncer.log" 2>/dev/null | tail -n 5)"

serve_on P "$pgb_url" || bail "the server through pgbouncer did not start: $(tail -n 5 "$work/P.log")"
api_checks pgbouncer "$URL_P" "$URL_P"

mkdir -p "$work/pgb-agent"
printf '/batches/3 reset 20\n' >"$work/pgb-agent/script"
start_port FP2_PORT "$work/pgb-agent/proxy.out" "$proxy" -u "${URL_P#http://}" \
    -s "$work/pgb-agent/script" -o "$work/pgb-agent/proxy.log" || bail "faultproxy did not start"
check "pgbouncer: the agent's upload through it is done" \
    run_agent "$work/pgb-agent" "http://127.0.0.1:$FP2_PORT" PGB 45
verify pgbouncer PGB 45
pgb_job=$(pq "SELECT id FROM import_jobs WHERE $in_practice AND filename = 'PGB.csv'")
check "pgbouncer: the resent batch 3 got its stored answer (a replay)" \
    grep -q "PUT /v1/jobs/$pgb_job/batches/3 200 .* replay" "$work/P.log"
check "pgbouncer: no database error in that server's log" \
    test "$(grep -c 'database:' "$work/P.log")" = 0
# One server connection served every transaction of the cloud: what the
# cloud set on it must have ended with each transaction.
check "pgbouncer: the shared server connection keeps none of the cloud's settings" \
    test "$(psql "$pgb_url" -X -At -c 'SHOW statement_timeout' -c 'SHOW lock_timeout' \
        -c "SELECT coalesce(current_setting('app.practice_id', true), '')" 2>&1 | tr '\n' ' ')" = "0 0  "

e2e_summary
