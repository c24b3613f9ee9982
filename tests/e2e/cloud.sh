#!/bin/bash
# cloud.sh — the cloud API's protocol, checked with curl against a real
# PostgreSQL cluster and a real `dentsync-cloud serve` (docs/protocol.md is
# the contract). Run by tests/e2e/run.sh, which starts the cluster; run alone
# (`bash tests/e2e/cloud.sh` after `make build/dentsync-cloud`) it starts
# its own. BUILD names the build folder (default: build).
#
# Only synthetic data ("Test Patient", example.com). Prints `ok - …` or
# `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
. "$top/tests/lib/pg.sh"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

work=$(mktemp -d /tmp/dentsync-e2e-cloud.XXXXXX)
own_cluster=0
cleanup() {
    cloud_stop >/dev/null 2>&1
    if [ "$failed" -ne 0 ] && [ -n "${CLOUD_LOG:-}" ] && [ -f "$CLOUD_LOG" ]; then
        cp "$CLOUD_LOG" "$work/cloud.log"
        echo "# kept $work for inspection"
    else
        rm -rf "$work"
    fi
    [ "$own_cluster" = 1 ] && pg_stop >/dev/null 2>&1
}
trap cleanup EXIT

if [ -z "${DS_OWNER_DB:-}" ]; then
    pg_start >/dev/null || { echo "not ok - PostgreSQL did not start"; echo "0 passed, 1 failed"; exit 1; }
    own_cluster=1
fi
cloud_start "$BUILD" >/dev/null || { echo "not ok - dentsync-cloud did not start"; echo "0 passed, 1 failed"; exit 1; }

A="e2e-cloud-a-$$"
B="e2e-cloud-b-$$"
token_a=$(cloud_token "$A")
token_b=$(cloud_token "$B")
pa=$(pg_psql "SELECT id FROM practices WHERE name = '$A'")
pb=$(pg_psql "SELECT id FROM practices WHERE name = '$B'")

# --- helpers -------------------------------------------------------------------

# req TOKEN METHOD PATH [curl args...]: the status in $code, the body in
# $work/body, the headers in $work/headers.
req() {
    local token=$1 method=$2 path=$3
    shift 3
    local auth=()
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    code=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" \
        "${auth[@]}" "$@" "$CLOUD_URL$path")
}
body() { cat "$work/body"; }
jf() { jq -r "$1" "$work/body" 2>/dev/null; } # a field of the last body
expect() { # expect DESCRIPTION STATUS [JQ-FILTER VALUE]
    local desc=$1 want=$2
    if [ "$code" != "$want" ]; then
        not_ok "$desc (status $code, want $want: $(head -c 300 "$work/body"))"
        return
    fi
    if [ $# -ge 4 ] && [ "$(jf "$3")" != "$4" ]; then
        not_ok "$desc ($3 is '$(jf "$3")', want '$4')"
        return
    fi
    ok "$desc"
}

uuid() { cat /proc/sys/kernel/random/uuid; }
fp() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# job_body ID SHA256 [TOTAL] [IMPORT_TYPE]
job_body() {
    printf '{"id":"%s","import_type":"%s","filename":"patients.csv","sha256":"%s","total_rows":%s,"template":"generic-patients","agent":{"id":"%s","version":"0.1.0"}}' \
        "$1" "${4:-patients}" "$2" "${3:-25}" "$agent_id"
}

# batch FILE ROW|KEY|FINGERPRINT|RECORD-JSON ...: writes the body to FILE and
# sets $digest to its Batch-Digest (rows taken in ascending row order).
batch() {
    local file=$1 spec sep='' r k f rec
    shift
    : >"$work/lines"
    printf '{"rows":[' >"$file"
    for spec in "$@"; do
        IFS='|' read -r r k f rec <<<"$spec"
        printf '%s{"row":%s,"key":"%s","fingerprint":"%s","record":%s,"raw":{"Patient ID":"%s"}}' \
            "$sep" "$r" "$k" "$f" "$rec" "${k#ext:}" >>"$file"
        printf '%s\t%s\t%s\n' "$r" "$k" "$f" >>"$work/lines"
        sep=,
    done
    printf ']}' >>"$file"
    digest=$(sort -n "$work/lines" | sha256sum | cut -d' ' -f1)
}

put_batch() { # put_batch TOKEN JOB SEQ FILE DIGEST [curl args...]
    local token=$1 job=$2 seq=$3 file=$4 dg=$5
    shift 5
    req "$token" PUT "/v1/jobs/$job/batches/$seq" -H "Batch-Digest: $dg" \
        -H 'Content-Type: application/json' --data-binary "@$file" "$@"
}

patient() { # patient EXT FIRST LAST DOB: a canonical record
    printf '{"external_id":"%s","first_name":"%s","last_name":"%s","date_of_birth":"%s","email":"%s@example.com","phone_mobile":"+15555550100","status":"active"}' \
        "$1" "$2" "$3" "$4" "$(echo "$2.$3" | tr '[:upper:]' '[:lower:]')"
}

count() { pg_psql "$1"; }
agent_id=$(uuid)

# --- health and authentication ----------------------------------------------------

req "" GET /v1/health
expect "GET /v1/health answers 200 {\"status\":\"ok\"} without a token" 200 .status ok

req "" POST /v1/jobs --data-binary "$(job_body "$(uuid)" "$(fp file)")"
expect "a request without a token is 401 UNAUTHORIZED" 401 .error.code UNAUTHORIZED
req "dsk_0000000000000000000000000000000000000000000000000000000000000000" GET "/v1/jobs/$(uuid)"
expect "a request with an unknown token is 401 UNAUTHORIZED" 401 .error.code UNAUTHORIZED

# --- jobs ----------------------------------------------------------------------------

job1=$(uuid)
sha1=$(fp "patients.csv v1")
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job1" "$sha1")"
expect "POST /v1/jobs creates a job: 201, status open" 201 .status open
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job1" "$sha1")"
expect "the same job again is 200 with the same id" 200 .id "$job1"
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job1" "$(fp other)")"
expect "the same job id with another sha256 is 409 JOB_CONFLICT" 409 .error.code JOB_CONFLICT
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$(uuid)" "$sha1" 3 invoices)"
expect "an unknown import_type is 422 INVALID_REQUEST" 422 .error.code INVALID_REQUEST
req "$token_a" POST /v1/jobs --data-binary '{"id":'
expect "a body that is not JSON is 422 INVALID_REQUEST" 422 .error.code INVALID_REQUEST

# --- batches ---------------------------------------------------------------------------

fp1=$(fp p1v1)
fp2=$(fp p2v1)
fp3=$(fp p3v1)
batch "$work/b1.json" \
    "2|ext:E2|$fp2|$(patient E2 Test Patienttwo 1985-06-15)" \
    "1|ext:E1|$fp1|$(patient E1 Test Patientone 1980-01-31)" \
    "3|ext:E3|$fp3|{\"external_id\":\"E3\",\"last_name\":\"Patientthree\",\"date_of_birth\":\"1990-02-30\"}"
d1=$digest
put_batch "$token_a" "$job1" 1 "$work/b1.json" "$d1"
cp "$work/body" "$work/b1.answer"
expect "PUT batch 1 is 200" 200 .seq 1
check "its results are per row, in row order: created, created, rejected" \
    test "$(jq -r '[.results[] | "\(.row):\(.status)"] | join(",")' "$work/b1.answer")" = "1:created,2:created,3:rejected"
check "a created row carries its record_id" \
    test "$(jq -r '.results[0].record_id' "$work/b1.answer")" = "$(count "SELECT id FROM patients WHERE practice_id = '$pa' AND source_key = 'ext:E1'")"
check "a rejected row says INVALID_RECORD and names the field, not the value" \
    test "$(jq -r '.results[2].error | "\(.code) \(.message)"' "$work/b1.answer")" = "INVALID_RECORD date_of_birth: not a date (YYYY-MM-DD)"
check "the answer carries the job's counts (3 processed, 2 successful, 1 failed)" \
    test "$(jq -c .job "$work/b1.answer")" = '{"failed_rows":1,"processed_rows":3,"successful_rows":2}'
check "PostgreSQL holds the 2 patients and 3 items" \
    test "$(count "SELECT (SELECT count(*) FROM patients WHERE practice_id = '$pa') || '/' || (SELECT count(*) FROM import_job_items WHERE job_id = '$job1')")" = "2/3"
check "the record is stored in typed columns" \
    test "$(count "SELECT last_name || '|' || date_of_birth || '|' || email FROM patients WHERE practice_id = '$pa' AND source_key = 'ext:E2'")" = "Patienttwo|1985-06-15|test.patienttwo@example.com"

put_batch "$token_a" "$job1" 1 "$work/b1.json" "$d1"
check "replaying batch 1 answers 200 with a byte-identical body" cmp -s "$work/body" "$work/b1.answer"
check "the replay changed nothing (2 patients, 3 items, 1 batch)" \
    test "$(count "SELECT (SELECT count(*) FROM patients WHERE practice_id = '$pa') || '/' || (SELECT count(*) FROM import_job_items WHERE job_id = '$job1') || '/' || (SELECT count(*) FROM import_batches WHERE job_id = '$job1')")" = "2/3/1"

batch "$work/b1x.json" "4|ext:E4|$(fp p4v1)|$(patient E4 Test Patientfour 1970-03-03)"
put_batch "$token_a" "$job1" 1 "$work/b1x.json" "$digest"
expect "batch 1 again with another digest is 409 BATCH_CONFLICT" 409 .error.code BATCH_CONFLICT

put_batch "$token_a" "$job1" 2 "$work/b1x.json" "$d1"
expect "a Batch-Digest that does not match the rows is 422 BAD_DIGEST" 422 .error.code BAD_DIGEST
put_batch "$token_a" "$job1" 2 "$work/b1x.json" ""
expect "a batch without Batch-Digest is 422 INVALID_REQUEST" 422 .error.code INVALID_REQUEST

batch "$work/b2.json" \
    "4|ext:E4|$(fp p4v1)|$(patient E4 Test Patientfour 1970-03-03)" \
    "5|ext:E5|$(fp p5v1)|$(patient E5 Test Patientfive 1975-05-05)"
gzip -c "$work/b2.json" >"$work/b2.json.gz"
put_batch "$token_a" "$job1" 2 "$work/b2.json.gz" "$digest" -H 'Content-Encoding: gzip'
expect "a gzip batch is accepted (200, 2 created)" 200 '[.results[].status] | join(",")' "created,created"

head -c 40000000 /dev/zero | gzip -c >"$work/bomb.gz"
put_batch "$token_a" "$job1" 3 "$work/bomb.gz" "$digest" -H 'Content-Encoding: gzip'
expect "a body over 32 MiB once inflated is 413 TOO_LARGE" 413 .error.code TOO_LARGE

# Two identical PUTs racing apply once.
batch "$work/b3.json" "6|ext:E6|$(fp p6v1)|$(patient E6 Test Patientsix 1966-06-06)"
d3=$digest
racers=()
for i in 1 2 3; do
    curl -s -o "$work/race$i" -w '%{http_code}' -X PUT -H "Authorization: Bearer $token_a" \
        -H "Batch-Digest: $d3" --data-binary "@$work/b3.json" \
        "$CLOUD_URL/v1/jobs/$job1/batches/3" >"$work/race$i.code" &
    racers+=($!)
done
wait "${racers[@]}" # not a bare wait: the server is a child of this shell too
check "three identical PUTs racing all answer 200 with the same body" \
    test "$(cat "$work"/race?.code)" = "200200200" -a "$(md5sum "$work"/race? | cut -d' ' -f1 | sort -u | wc -l)" = 1
check "... and the batch was applied once (1 item for row 6, 1 patient E6)" \
    test "$(count "SELECT (SELECT count(*) FROM import_job_items WHERE job_id = '$job1' AND row_number = 6) || '/' || (SELECT count(*) FROM patients WHERE practice_id = '$pa' AND source_key = 'ext:E6')")" = "1/1"

batch "$work/b4.json" "6|ext:E6|$(fp p6v1)|$(patient E6 Test Patientsix 1966-06-06)" \
    "7|ext:E7|$(fp p7v1)|$(patient E7 Test Patientseven 1977-07-07)"
put_batch "$token_a" "$job1" 4 "$work/b4.json" "$digest"
expect "a batch repeating a row of another batch is 409 BATCH_CONFLICT" 409 .error.code BATCH_CONFLICT

req "$token_a" GET "/v1/jobs/$job1"
expect "GET the job shows its counts and the batches received" 200 \
    '"\(.processed_rows)/\(.successful_rows)/\(.failed_rows) \(.batches)"' "6/5/1 [1,2,3]"

req "$token_a" POST "/v1/jobs/$job1/complete"
cp "$work/body" "$work/complete.answer"
expect "complete: a job with a rejected row is completed_with_errors" 200 .status completed_with_errors
req "$token_a" POST "/v1/jobs/$job1/complete"
check "complete again returns the same job" cmp -s "$work/body" "$work/complete.answer"
put_batch "$token_a" "$job1" 9 "$work/b4.json" "$digest"
expect "a new batch for a completed job is 409 JOB_CONFLICT" 409 .error.code JOB_CONFLICT
put_batch "$token_a" "$job1" 1 "$work/b1.json" "$d1"
check "a replay of an acknowledged batch still answers the stored body" cmp -s "$work/body" "$work/b1.answer"

# --- a second job: updated and unchanged ------------------------------------------------

job2=$(uuid)
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job2" "$(fp "patients.csv v2")" 2)"
expect "a second job is created" 201 .status open
batch "$work/b5.json" \
    "1|ext:E1|$fp1|$(patient E1 Test Patientone 1980-01-31)" \
    "2|ext:E2|$(fp p2v2)|$(patient E2 Test Patienttwo-Renamed 1985-06-15)"
put_batch "$token_a" "$job2" 1 "$work/b5.json" "$digest"
expect "same fingerprint is unchanged, another fingerprint is updated" 200 \
    '[.results[].status] | join(",")' "unchanged,updated"
check "the update replaced the fields, the record id stayed" \
    test "$(count "SELECT last_name || '|' || (id = '$(jq -r '.results[1].record_id' "$work/body")') FROM patients WHERE practice_id = '$pa' AND source_key = 'ext:E2'")" = "Patienttwo-Renamed|true"
req "$token_a" POST "/v1/jobs/$job2/complete"
expect "complete: a job without errors is completed" 200 .status completed

# --- row-level security: practice B ------------------------------------------------------

req "$token_b" GET "/v1/jobs/$job1"
expect "practice B's token gets 404 for practice A's job" 404 .error.code NOT_FOUND
put_batch "$token_b" "$job1" 5 "$work/b1.json" "$d1"
expect "... and 404 when it sends a batch to it" 404 .error.code NOT_FOUND
job3=$(uuid)
req "$token_b" POST /v1/jobs --data-binary "$(job_body "$job3" "$sha1" 1)"
batch "$work/b6.json" "1|ext:E1|$fp1|$(patient E1 Test Patientone 1980-01-31)"
put_batch "$token_b" "$job3" 1 "$work/b6.json" "$digest"
expect "the same key in practice B is a new patient there (created)" 200 '.results[0].status' created
check "as dentsync_app with app.practice_id = B: B's 1 patient and none of A's" \
    test "$(pg_psql_app "SET app.practice_id = '$pb'" "SELECT count(*) || '/' || count(*) FILTER (WHERE practice_id = '$pa') FROM patients")" = "1/0"
check "as dentsync_app without app.practice_id: no rows at all" \
    test "$(pg_psql_app "SELECT (SELECT count(*) FROM patients) + (SELECT count(*) FROM import_jobs) + (SELECT count(*) FROM import_job_items)")" = 0
if pg_psql_app "SELECT count(*) FROM agent_tokens" >/dev/null 2>&1; then
    not_ok "dentsync_app is denied agent_tokens"
else
    ok "dentsync_app is denied agent_tokens"
fi

# --- tokens, roles, outages ----------------------------------------------------------------

token_id=$(pg_psql "SELECT id FROM agent_tokens WHERE practice_id = '$pb'")
"$CLOUD_BIN" token revoke "$token_id" --db "$DS_OWNER_DB" 2>/dev/null
req "$token_b" GET "/v1/jobs/$job3"
expect "a revoked token is 401 UNAUTHORIZED" 401 .error.code UNAUTHORIZED

timeout 10 "$CLOUD_BIN" serve --db "$DS_OWNER_DB" --listen "127.0.0.1:$(free_port)" \
    >/dev/null 2>"$work/owner.err"
rc=$?
check "serve as the owner (superuser) refuses to start (exit 1)" \
    test "$rc" = 1 -a -n "$(grep -i superuser "$work/owner.err")"

pg_pause && pg_resume
req "$token_a" GET "/v1/jobs/$job1"
expect "PostgreSQL restarted while the pool was idle: the next request still succeeds" 200 \
    .status completed_with_errors

pg_pause
req "" GET /v1/health
expect "with PostgreSQL down, health is 503" 503 .error.code UNAVAILABLE
req "$token_a" GET "/v1/jobs/$job1"
expect "with PostgreSQL down, a request is 503 UNAVAILABLE" 503 .error.code UNAVAILABLE
check "... with Retry-After: 1" grep -qi '^Retry-After: 1' "$work/headers"
pg_resume
req "$token_a" GET "/v1/jobs/$job1"
expect "PostgreSQL back: the server reconnects on the next request" 200 .status completed_with_errors

leaks=$(grep -cE 'Patientone|Patienttwo|example\.com|1980-01-31' "$CLOUD_LOG")
check "the server log carries no patient value" test "$leaks" = 0
check "the server logged one line per request, with ids and codes" \
    grep -q "PUT /v1/jobs/$job1/batches/1 200 .* rows=3 created=2 updated=0 unchanged=0 rejected=1" "$CLOUD_LOG"

cloud_stop
check "serve stops cleanly on SIGTERM" grep -q 'serve: stopped' "$CLOUD_LOG"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
