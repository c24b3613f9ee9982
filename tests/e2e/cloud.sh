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
. "$top/tests/lib/e2e.sh"

work=$(mktemp -d /tmp/dentsync-e2e-cloud.XXXXXX)
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

e2e_pg
cloud_start "$BUILD" >/dev/null || bail "dentsync-cloud did not start"

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
    "3|ext:E3|$fp3|{\"external_id\":\"E3\",\"last_name\":\"Patientthree\",\"date_of_birth\":\"1990-02-30\",\"email\":\"not-an-email\",\"phone_mobile\":\"555\"}"
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
check "the rejected item keeps every error of its record, each with field and code" \
    test "$(count "SELECT string_agg(e->>'field' || '=' || (e->>'code'), ',') FROM import_job_items i, jsonb_array_elements(i.errors) e WHERE i.job_id = '$job1' AND i.row_number = 3")" \
    = "date_of_birth=BAD_DATE,email=BAD_EMAIL,phone_mobile=BAD_PHONE"
check "… and the first in error_code / error_message, as before" \
    test "$(count "SELECT error_code || ' ' || error_message FROM import_job_items WHERE job_id = '$job1' AND row_number = 3")" \
    = "INVALID_RECORD date_of_birth: not a date (YYYY-MM-DD)"
check "the rejected item keeps the raw columns sent; the created ones keep none" \
    test "$(count "SELECT string_agg(row_number || ':' || coalesce(raw_data::text, '-'), ' ' ORDER BY row_number) FROM import_job_items WHERE job_id = '$job1'")" \
    = '1:- 2:- 3:{"Patient ID": "E3"}'
req "$token_a" GET "/v1/jobs/$job1/items?status=rejected"
expect "GET …/items shows the rejected item's errors" 200 '[.items[0].errors[].code] | join(",")' "BAD_DATE,BAD_EMAIL,BAD_PHONE"

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
# Denied by the grants, not failing for any other reason (a connection
# refused, a typo): psql stops on the error and names it.
tokens_denied() {
    ! pg_psql_app "SELECT count(*) FROM agent_tokens" >/dev/null 2>"$work/agent-tokens.err" &&
        grep -q 'permission denied for table agent_tokens' "$work/agent-tokens.err"
}
check "dentsync_app is denied agent_tokens (permission denied)" tokens_denied

# --- appointments, deletions, conflicts -------------------------------------------------

# abatch FILE ROW|KEY|FINGERPRINT|RECORD-JSON|OP ...: like batch, for any
# type; OP "delete" makes a deletion row (fingerprint "delete", no record).
abatch() {
    local file=$1 spec sep='' r k f rec op
    shift
    : >"$work/lines"
    printf '{"rows":[' >"$file"
    for spec in "$@"; do
        IFS='|' read -r r k f rec op <<<"$spec"
        if [ "$op" = delete ]; then
            printf '%s{"row":%s,"key":"%s","op":"delete","fingerprint":"delete"}' "$sep" "$r" "$k" >>"$file"
            f=delete
        else
            printf '%s{"row":%s,"key":"%s","fingerprint":"%s","record":%s}' "$sep" "$r" "$k" "$f" "$rec" >>"$file"
        fi
        printf '%s\t%s\t%s\n' "$r" "$k" "$f" >>"$work/lines"
        sep=,
    done
    printf ']}' >>"$file"
    digest=$(sort -n "$work/lines" | sha256sum | cut -d' ' -f1)
}
appt() { # appt EXT PATIENT_EXT START END PROVIDER OPERATORY
    printf '{"external_id":"%s","patient_external_id":"%s","start_at":"%s","end_at":"%s","status":"scheduled","provider":"%s","operatory":"%s","appointment_type":"Cleaning"}' "$@"
}

job4=$(uuid)
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job4" "$(fp appts)" 5 appointments)"
expect "POST /v1/jobs accepts import_type appointments" 201 .import_type appointments
abatch "$work/a1.json" \
    "1|ext:A1|$(fp a1)|$(appt A1 E1 2024-03-27T15:00:00Z 2024-03-27T15:45:00Z DR1 OP1)" \
    "2|ext:A2|$(fp a2)|$(appt A2 E2 2024-03-27T15:30:00Z 2024-03-27T16:00:00Z DR1 OP2)" \
    "3|ext:A3|$(fp a3)|$(appt A3 NOPE 2024-03-27T17:00:00Z 2024-03-27T17:30:00Z DR1 OP1)" \
    "4|ext:A4|$(fp a4)|{\"external_id\":\"A4\",\"patient_external_id\":\"E1\",\"start_at\":\"2024-03-27 17:00\",\"duration_minutes\":30,\"status\":\"scheduled\"}"
put_batch "$token_a" "$job4" 1 "$work/a1.json" "$digest"
cp "$work/body" "$work/a1.answer"
expect "appointments: created, conflict, needs_review, rejected" 200 \
    '[.results[].status] | join(",")' "created,conflict,needs_review,rejected"
check "a conflict names the other appointment (conflict_with) and SCHEDULE_CONFLICT" \
    test "$(jq -r '.results[1] | "\(.conflict_with == $ARGS.named.a) \(.error.code)"' --arg a "$(jq -r '.results[0].record_id' "$work/a1.answer")" "$work/a1.answer")" = "true SCHEDULE_CONFLICT"
check "an unknown patient is needs_review PATIENT_NOT_FOUND" \
    test "$(jq -r '.results[2].error.code' "$work/a1.answer")" = PATIENT_NOT_FOUND
check "an instant that is not UTC YYYY-MM-DDTHH:MM:SSZ is rejected naming the field" \
    test "$(jq -r '.results[3].error.message' "$work/a1.answer")" = "start_at: not a UTC instant (YYYY-MM-DDTHH:MM:SSZ)"
check "the appointment is stored with its patient and typed columns" \
    test "$(count "SELECT a.provider || '|' || a.duration_minutes || '|' || p.external_id FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.practice_id = '$pa' AND a.external_id = 'A1'")" = "DR1|45|E1"
gzip -c "$work/a1.json" >"$work/a1.json.gz"
put_batch "$token_a" "$job4" 1 "$work/a1.json.gz" "$digest" -H 'Content-Encoding: gzip'
check "replaying an appointments batch gzip-compressed answers the stored body byte for byte" \
    cmp -s "$work/body" "$work/a1.answer"
abatch "$work/a2.json" "5|ext:A1|||delete"
put_batch "$token_a" "$job4" 2 "$work/a2.json" "$digest"
expect "a deletion row soft-deletes the record: deleted" 200 '.results[0].status' deleted
check "... deleted_at is set, the row stays" \
    test "$(count "SELECT count(*) FROM appointments WHERE practice_id = '$pa' AND external_id = 'A1' AND deleted_at IS NOT NULL")" = 1
abatch "$work/a3.json" "6|ext:A1|||delete"
put_batch "$token_a" "$job4" 3 "$work/a3.json" "$digest"
expect "deleting it again: unchanged" 200 '.results[0].status' unchanged
abatch "$work/a4.json" "7|ext:A1|$(fp a1)|{\"bad\":1}|delete"
sed -i 's/"op":"delete","fingerprint":"delete"}/"op":"delete","fingerprint":"0000"}/' "$work/a4.json"
put_batch "$token_a" "$job4" 4 "$work/a4.json" "$digest"
expect "a deletion row whose fingerprint is not \"delete\" is 422 naming the member" 422 \
    .error.message 'rows[0].fingerprint: must be "delete" in a deletion row'

req "$token_a" GET "/v1/jobs/$job4/items"
expect "GET items lists every row result in row order" 200 '[.items[].row] | join(",")' "1,2,3,4,5,6"
req "$token_a" GET "/v1/jobs/$job4/items?status=needs_review"
expect "GET items?status=needs_review filters" 200 '[.items[] | "\(.row):\(.error.code)"] | join(",")' "3:PATIENT_NOT_FOUND"
req "$token_a" GET "/v1/jobs/$job4/items?limit=2&after=2"
expect "GET items pages with after and limit (next_after)" 200 '"\([.items[].row] | join(",")) \(.next_after)"' "3,4 4"
req "$token_a" GET "/v1/jobs/$job4/items?status=bogus"
expect "GET items with an unknown status is 422" 422 .error.code INVALID_REQUEST
req "$token_a" GET "/v1/jobs/$job4/items?limit=0"
expect "GET items with limit 0 is 422 naming the argument" 422 .error.message "?limit: must be an integer from 1 to 10000"

# --- history, templates, agents ----------------------------------------------------------

req "$token_a" GET "/v1/jobs?limit=2"
expect "GET /v1/jobs lists the newest jobs first, limit applies" 200 '.jobs | length' 2
first_two=$(jf '[.jobs[].id] | join(",")')
next=$(jf .next_before)
req "$token_a" GET "/v1/jobs?limit=200&before=$next"
check "GET /v1/jobs?before= continues after the cursor without overlap" \
    test "$first_two,$(jf '[.jobs[].id] | join(",")')" = "$(printf '%s\n' "$job4" "$job2" "$job1" | paste -sd, | cut -d, -f1-3)" -o "$(jf '.jobs | length')" = 1
req "$token_a" GET "/v1/jobs?before=$(uuid)"
expect "GET /v1/jobs?before= an unknown job is 404" 404 .error.code NOT_FOUND

tpl='{"name":"Open Dental appointments","import_type":"appointments","mapping_config":{"fields":{"start_at":"AptDateTime"}},"validation_rules":null}'
req "$token_a" PUT /v1/templates/od-appointments --data-binary "$tpl"
expect "PUT /v1/templates/{id} creates a template: 201" 201 .usage_count 0
req "$token_a" PUT /v1/templates/od-appointments --data-binary "${tpl/Open Dental/OD}"
expect "PUT again replaces it: 200" 200 .name "OD appointments"
req "$token_a" PUT /v1/templates/od-appointments --data-binary '{"name":"x","import_type":"invoices","mapping_config":{}}'
expect "PUT with a bad import_type is 422" 422 .error.code INVALID_REQUEST
job5=$(uuid)
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job5" "$(fp tpl)" 1 appointments | sed 's/generic-patients/od-appointments/')"
req "$token_a" POST /v1/jobs --data-binary "$(job_body "$job5" "$(fp tpl)" 1 appointments | sed 's/generic-patients/od-appointments/')"
req "$token_a" GET /v1/templates/od-appointments
expect "a new job naming a saved template counts one use (a repeat of the job does not)" 200 .usage_count 1
req "$token_a" GET /v1/templates
expect "GET /v1/templates lists the practice's templates" 200 '[.templates[].id] | join(",")' od-appointments
req "$token_a" GET /v1/templates/no-such-template
expect "GET an unknown template is 404" 404 .error.code NOT_FOUND

agent1=$(uuid)
req "$token_a" POST /v1/agents/heartbeat --data-binary "{\"agent_id\":\"$agent1\",\"version\":\"1.0.0\",\"queue_depth\":12,\"oldest_pending_age_seconds\":30,\"last_error_code\":\"NETWORK\"}"
expect "POST /v1/agents/heartbeat is 200" 200 .agent_id "$agent1"
req "$token_a" POST /v1/agents/heartbeat --data-binary '{"agent_id":"x"}'
expect "a heartbeat without a UUID agent_id is 422" 422 .error.message "agent_id: required, a UUID"
pg_psql "UPDATE agent_heartbeats SET received_at = now() - interval '1 hour' WHERE agent_id = '$agent1'" >/dev/null
agent2=$(uuid)
req "$token_a" POST /v1/agents/heartbeat --data-binary "{\"agent_id\":\"$agent2\",\"queue_depth\":0}"
req "$token_a" GET /v1/agents
expect "GET /v1/agents: each agent's last heartbeat, stale past the threshold" 200 \
    '[.agents[] | "\(.queue_depth):\(.stale)"] | join(",")' "0:false,12:true"
req "$token_a" DELETE /v1/agents
expect "a wrong method is 405 with Allow" 405 .error.code METHOD_NOT_ALLOWED
check "... Allow: GET" grep -qi '^Allow: GET' "$work/headers"

# --- practice B against each of practice A's resources -----------------------------------

req "$token_b" GET "/v1/jobs/$job4/items"
expect "practice B: A's job items are 404" 404 .error.code NOT_FOUND
req "$token_b" POST "/v1/jobs/$job4/complete"
expect "practice B: completing A's job is 404" 404 .error.code NOT_FOUND
abatch "$work/a3.json" "6|ext:A1|||delete"
put_batch "$token_b" "$job4" 9 "$work/a3.json" "$digest"
expect "practice B: a batch for A's job is 404" 404 .error.code NOT_FOUND
req "$token_b" GET "/v1/jobs?before=$job4"
expect "practice B: A's job as a history cursor is 404" 404 .error.code NOT_FOUND
req "$token_b" GET /v1/templates/od-appointments
expect "practice B: A's template is 404" 404 .error.code NOT_FOUND
req "$token_b" GET /v1/templates
expect "practice B: A's templates are not listed" 200 '.templates | length' 0
req "$token_b" GET /v1/agents
expect "practice B: A's agents are not listed" 200 '.agents | length' 0
# Job ids are per practice: A's job id is, to B, an id never used — the
# same answer as for a fresh id, and B's job is B's alone.
req "$token_a" GET "/v1/jobs/$job4"
jq -c 'del(.now)' "$work/body" >"$work/job4.a"
req "$token_b" POST /v1/jobs --data-binary "$(job_body "$(uuid)" "$(fp b-own)" 1)"
expect "practice B: a fresh job id is 201" 201 .status open
req "$token_b" POST /v1/jobs --data-binary "$(job_body "$job4" "$(fp b-own)" 1)"
expect "practice B: A's job id is 201 as well, a new open job of B (never A's job)" 201 \
    '"\(.id) \(.import_type) \(.processed_rows) \(.batches)"' "$job4 patients 0 []"
req "$token_b" POST /v1/jobs --data-binary "$(job_body "$job4" "$(fp b-own)" 1)"
expect "... the same request again is 200 (B's own job, idempotent)" 200 .import_type patients
batch "$work/b7.json" "1|ext:E1|$fp1|$(patient E1 Test Patientone 1980-01-31)"
put_batch "$token_b" "$job4" 1 "$work/b7.json" "$digest"
expect "... B's batch 1 to it is applied (B's own patient E1: unchanged)" 200 \
    '.results[0].status' unchanged
req "$token_b" POST "/v1/jobs/$job4/complete"
expect "... and B completes it" 200 .status completed
req "$token_a" GET "/v1/jobs/$job4"
jq -c 'del(.now)' "$work/body" >"$work/job4.a2"
check "... while A's job of that id is as it was (type, counts, batches, status)" \
    cmp -s "$work/job4.a" "$work/job4.a2"
req "$token_a" GET "/v1/jobs/$job4/items"
expect "... and A still reads its items" 200 '.items | length' 6
check "... each practice has its own job of that id" \
    test "$(count "SELECT string_agg(import_type || ':' || status, ',' ORDER BY import_type) FROM import_jobs WHERE id = '$job4'")" = "appointments:open,patients:completed"
req "$token_b" PUT /v1/templates/od-appointments --data-binary "$tpl"
expect "practice B: the same template id is B's own template (201)" 201 .usage_count 0
check "... and A's template is untouched" \
    test "$(count "SELECT name FROM import_templates WHERE practice_id = '$pa' AND id = 'od-appointments'")" = "OD appointments"

# --- the remaining error statuses ----------------------------------------------------------

req "$token_a" GET /v1/nothing-here
expect "an unknown path is 404 NOT_FOUND" 404 .error.code NOT_FOUND
req "" GET /v1/nothing-here
expect "... with or without a token (routing comes first)" 404 .error.code NOT_FOUND
abatch "$work/e1.json" "1|ext:X1|$(fp x1)|$(appt X1 E1 2024-05-01T09:00:00Z 2024-05-01T09:30:00Z DR5 OP5)"
put_batch "$token_a" "$job5" 0 "$work/e1.json" "$digest"
expect "seq 0 is 422 INVALID_REQUEST" 422 .error.code INVALID_REQUEST
req "$token_a" PUT "/v1/jobs/$job5/batches/x1" -H "Batch-Digest: $digest" --data-binary "@$work/e1.json"
expect "a seq that is not made of digits is 404" 404 .error.code NOT_FOUND
put_batch "$token_a" "$job5" 1 "$work/e1.json" "$digest" -H 'Content-Encoding: br'
expect "a Content-Encoding other than gzip or identity is 422 INVALID_REQUEST" 422 .error.code INVALID_REQUEST
put_batch "$token_a" "$job5" 1 "$work/e1.json" "$digest" -H 'Content-Encoding: gzip'
expect "a body that is not gzip under Content-Encoding: gzip is 422 INVALID_REQUEST" 422 .error.code INVALID_REQUEST
head -c 34000000 /dev/zero | tr '\0' ' ' >"$work/big.json"
put_batch "$token_a" "$job5" 1 "$work/big.json" "$digest"
expect "a body over 32 MiB as sent is 413 TOO_LARGE" 413 .error.code TOO_LARGE
rm -f "$work/big.json"
pg_psql "REVOKE SELECT ON import_templates FROM dentsync_app" >/dev/null
req "$token_a" GET /v1/templates
expect "an unexpected database error (a privilege taken away) is 500 INTERNAL" 500 .error.code INTERNAL
pg_psql "GRANT SELECT ON import_templates TO dentsync_app" >/dev/null
req "$token_a" GET "/v1/jobs/$job5"
expect "... and none of these changed the job (no batch)" 200 '.batches | length' 0

# --- the command line, TLS, threads, overload -----------------------------------------

"$CLOUD_BIN" practice list --db "$DS_OWNER_DB" >"$work/practices" 2>/dev/null
check "practice list shows each practice with its conflict policy" \
    grep -q "^$pa	$A	UTC	flag	" "$work/practices"
"$CLOUD_BIN" token list --db "$DS_OWNER_DB" >"$work/tokens" 2>/dev/null
check "token list shows the tokens' ids and practices but never a token or its hash" \
    test "$(grep -c "	$A	test	" "$work/tokens")" -ge 1 -a "$(grep -cE 'dsk_|[0-9a-f]{64}' "$work/tokens")" = 0
"$CLOUD_BIN" practice create "e2e-cloud-r-$$" --conflict-policy reject --db "$DS_OWNER_DB" >/dev/null 2>&1
check "practice create --conflict-policy reject stores the policy" \
    test "$(count "SELECT conflict_policy FROM practices WHERE name = 'e2e-cloud-r-$$'")" = reject

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
tls_port=$(free_port)
"$CLOUD_BIN" serve --db "$DS_APP_DB" --listen "127.0.0.1:$tls_port" --threads 4 \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 2>"$work/tls.log" &
tls_pid=$!
for _ in $(seq 50); do
    curl -s --cacert "$work/cert.pem" -o /dev/null "https://127.0.0.1:$tls_port/v1/health" && break
    sleep 0.1
done
code=$(curl -s --cacert "$work/cert.pem" -o "$work/body" -w '%{http_code}' \
    -H "Authorization: Bearer $token_a" "https://127.0.0.1:$tls_port/v1/jobs/$job1")
expect "serve --tls-cert --tls-key --threads 4 answers over HTTPS" 200 .id "$job1"
kill -TERM "$tls_pid" && wait "$tls_pid"

busy_port=$(free_port)
"$CLOUD_BIN" serve --db "$DS_APP_DB" --listen "127.0.0.1:$busy_port" --pool 1 --pool-wait 1 \
    2>"$work/busy.log" &
busy_pid=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$busy_port/v1/health" && break
    sleep 0.1
done
abatch "$work/busy.json" "1|ext:B1|$(fp b1)|$(appt B1 E1 2024-04-01T09:00:00Z 2024-04-01T09:30:00Z DR7 OP7)"
pg_psql "BEGIN" "SELECT 1 FROM import_jobs WHERE id = '$job5' FOR UPDATE" "SELECT pg_sleep(3)" "COMMIT" >/dev/null &
locker=$!
sleep 0.5
curl -s -o "$work/busy.put" -w '%{http_code}' -X PUT -H "Authorization: Bearer $token_a" \
    -H "Batch-Digest: $digest" --data-binary "@$work/busy.json" \
    "http://127.0.0.1:$busy_port/v1/jobs/$job5/batches/1" >"$work/busy.put.code" &
putter=$!
sleep 0.5
code=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -H "Authorization: Bearer $token_a" \
    "http://127.0.0.1:$busy_port/v1/jobs/$job1")
expect "every pooled connection busy past --pool-wait: 503 UNAVAILABLE" 503 .error.code UNAVAILABLE
check "... with Retry-After: 1" grep -qi '^Retry-After: 1' "$work/headers"
wait "$locker" "$putter"
check "... and the request holding the connection completes once the lock is gone" \
    test "$(cat "$work/busy.put.code")" = 200
kill -TERM "$busy_pid" && wait "$busy_pid"

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

bypass="e2e_bypass_$$"
owner="e2e_owner_$$"
pg_psql "CREATE ROLE $bypass LOGIN BYPASSRLS" "CREATE ROLE $owner LOGIN" \
    "CREATE TABLE e2e_owned_$$ (x integer)" "ALTER TABLE e2e_owned_$$ OWNER TO $owner" >/dev/null
for role in "$bypass" "$owner"; do
    timeout 10 "$CLOUD_BIN" serve --db "postgresql://$role@127.0.0.1:$PG_PORT/dentsync" \
        --listen "127.0.0.1:$(free_port)" >/dev/null 2>"$work/role.err"
    rc=$?
    what="owns a table"
    [ "$role" = "$bypass" ] && what="bypasses row-level security"
    check "serve as a role that $what refuses to start (exit 1)" test "$rc" = 1
done
pg_psql "DROP TABLE e2e_owned_$$" "DROP ROLE $bypass" "DROP ROLE $owner" >/dev/null

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

e2e_summary
