#!/bin/bash
# metrics.sh — the operator's view of `dentsync-cloud serve`: GET /metrics
# (Prometheus text) and GET /v1/agents of every practice, served only on
# the --metrics-listen address and off without it; the counters move with
# a batch and a replay; stale agents are listed; and nothing of the rows
# sent, nor the token, shows in either answer.
#
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Only synthetic data. Prints `ok - …` / `not ok - …` per check and ends
# with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work metrics
serve_pid=
e2e_on_exit() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
}

e2e_pg
e2e_cloud
e2e_practice "e2e-metrics-$$"
token=$(cat "$work/token")

# get URL [curl args...]: the status in $code, the body in $work/body.
get() {
    local url=$1
    shift
    code=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' "$@" "$url")
}
uuid() { cat /proc/sys/kernel/random/uuid; }
fp() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# metric NAME{LABELS}: its value in the last /metrics answer ($work/body).
metric() { awk -v m="$1" '$1 == m { print $2 }' "$work/body"; }

# --- off by default ----------------------------------------------------------------

get "$CLOUD_URL/metrics"
check "without --metrics-listen, GET /metrics is 404 on the API" test "$code" = 404
get "$CLOUD_URL/v1/agents?stale=1"
check "... and GET /v1/agents there still wants a token (401)" test "$code" = 401

# --- a server with the operator's listener -------------------------------------------

api_port=$(free_port) || bail "no free port"
ops_port=$(free_port) || bail "no free port"
"$CLOUD_BIN" serve --db "$DS_APP_DB" --listen "127.0.0.1:$api_port" \
    --metrics-listen "127.0.0.1:$ops_port" >>"$work/serve.log" 2>&1 &
serve_pid=$!
api=http://127.0.0.1:$api_port
ops=http://127.0.0.1:$ops_port
wait_until 20 curl -sf -o /dev/null "$api/v1/health" || bail "serve did not start"
wait_until 5 curl -sf -o /dev/null "$ops/metrics" || bail "the metrics listener did not answer"

get "$api/metrics"
check "the API listener does not serve /metrics (404)" test "$code" = 404
get "$ops/v1/jobs" -H "Authorization: Bearer $token"
check "the metrics listener serves no API path (404)" test "$code" = 404
get "$ops/metrics" -X POST
check "POST /metrics is 405" test "$code" = 405
get "$ops/metrics"
check "GET /metrics is 200 in the Prometheus text format" \
    grep -qi '^content-type: text/plain; version=0.0.4' "$work/headers"
check "... with the pool's size" test "$(metric dentsync_cloud_db_pool_size)" = 8
check "... and the database up" test "$(metric dentsync_cloud_database_up)" = 1
created='dentsync_cloud_rows_total{import_type="patients",outcome="created"}'
batch_ok='dentsync_cloud_requests_total{endpoint="/v1/jobs/{id}/batches/{seq}",method="PUT",status="200"}'
batch_hist='dentsync_cloud_request_duration_seconds_count{endpoint="/v1/jobs/{id}/batches/{seq}",method="PUT",status="200"}'
check "no row counted yet" test "$(metric "$created")" = 0
check "no batch request counted yet" test -z "$(metric "$batch_ok")"

# --- a batch, then its replay ----------------------------------------------------------

job=$(uuid)
agent_id=$(uuid)
curl -s -o /dev/null -H "Authorization: Bearer $token" --data-binary \
    "$(printf '{"id":"%s","import_type":"patients","filename":"metrics.csv","sha256":"%s","total_rows":2,"template":"generic-patients","agent":{"id":"%s","version":"0.1.0"}}' \
        "$job" "$(fp "$job")" "$agent_id")" "$api/v1/jobs"
rows=''
: >"$work/lines"
for r in 1 2; do
    rows="$rows${rows:+,}$(printf '{"row":%d,"key":"ext:MX%d","fingerprint":"%s","record":{"external_id":"MX%d","first_name":"Zebulonmetric","last_name":"Quixotemetric%d","date_of_birth":"1971-03-0%d","email":"zebulon.metric%d@example.com"},"raw":{}}' \
        "$r" "$r" "$(fp "mx$r")" "$r" "$r" "$r" "$r")"
    printf '%d\text:MX%d\t%s\n' "$r" "$r" "$(fp "mx$r")" >>"$work/lines"
done
printf '{"rows":[%s]}' "$rows" >"$work/batch.json"
digest=$(sort -n "$work/lines" | sha256sum | cut -d' ' -f1)
for _ in 1 2; do
    get "$api/v1/jobs/$job/batches/1" -X PUT -H "Authorization: Bearer $token" \
        -H "Batch-Digest: $digest" -H 'Content-Type: application/json' --data-binary @"$work/batch.json"
done
check "the batch and its replay are 200" test "$code" = 200

get "$ops/metrics"
cp "$work/body" "$work/metrics.txt"
check "after a batch of 2 new patients, rows created = 2 (the replay not counted again)" \
    test "$(metric "$created")" = 2
check "... two batch requests counted (endpoint, method, status)" test "$(metric "$batch_ok")" = 2
check "... in the latency histogram too" test "$(metric "$batch_hist")" = 2
check "... and one replay" test "$(metric dentsync_cloud_batch_replays_total)" = 1
check "... the +Inf bucket equals the count" \
    test "$(metric 'dentsync_cloud_request_duration_seconds_bucket{endpoint="/v1/jobs/{id}/batches/{seq}",method="PUT",status="200",le="+Inf"}')" = 2

# --- agents by staleness ----------------------------------------------------------------

stale_agent=$(uuid)
fresh_agent=$(uuid)
for a in "$stale_agent" "$fresh_agent"; do
    curl -s -o /dev/null -H "Authorization: Bearer $token" \
        --data-binary "{\"agent_id\":\"$a\",\"version\":\"0.1.0\",\"queue_depth\":3}" \
        "$api/v1/agents/heartbeat"
done
pq "UPDATE agent_heartbeats SET received_at = now() - interval '2 hours'
     WHERE agent_id = '$stale_agent'" >/dev/null
get "$ops/v1/agents?stale=1"
cp "$work/body" "$work/agents.json"
check "GET /v1/agents?stale=1 on the metrics listener lists the agent not heard from" \
    test "$(jq -r --arg a "$stale_agent" '[.agents[] | select(.agent_id == $a) | .practice_id] | join(",")' "$work/body")" = "$practice_id"
check "... and not the fresh one" \
    test "$(jq --arg a "$fresh_agent" '[.agents[] | select(.agent_id == $a)] | length' "$work/body")" = 0
get "$ops/v1/agents?stale=1&stale_after=3600"
check "?stale_after sets the threshold (2 h is stale after 3600 s)" \
    test "$(jq --arg a "$stale_agent" '[.agents[] | select(.agent_id == $a)] | length' "$work/body")" = 1
get "$ops/v1/agents?stale=1&stale_after=86400"
check "... and fresh after 86400 s" \
    test "$(jq --arg a "$stale_agent" '[.agents[] | select(.agent_id == $a)] | length' "$work/body")" = 0
get "$ops/v1/agents"
check "without ?stale=1, every agent, each with its stale flag" \
    test "$(jq -r --arg s "$stale_agent" --arg f "$fresh_agent" '[.agents[] | select(.agent_id == $s or .agent_id == $f) | .stale] | sort | map(tostring) | join(",")' "$work/body")" = "false,true"
get "$ops/v1/agents?stale=yes"
check "?stale=yes is 422" test "$code" = 422
get "$ops/metrics"
check "the metrics count the stale agents" test "$(metric 'dentsync_cloud_agents{staleness="stale"}')" -ge 1
check "... and the fresh ones" test "$(metric 'dentsync_cloud_agents{staleness="fresh"}')" -ge 1
cat "$work/body" >>"$work/metrics.txt"

# --- nothing of the rows, nor the token -------------------------------------------------

leaks=$(grep -c -e Zebulonmetric -e Quixotemetric -e zebulon.metric -e 1971-03-0 -e MX1 \
    -e "$token" -e "${token#dsk_}" "$work/metrics.txt" "$work/agents.json" | awk -F: '{ s += $2 } END { print s + 0 }')
check "no patient value and no token in the metrics or the agent list" test "$leaks" = 0
check "the operator's requests are logged without a query" \
    test "$(grep -c 'operator: GET /v1/agents 200' "$work/serve.log")" -ge 3 -a \
    "$(grep -c 'stale_after' "$work/serve.log")" = 0

e2e_summary
