#!/bin/bash
# agent.sh — the whole path, for real: a watched folder, the agent, the cloud
# API and PostgreSQL. Run by tests/e2e/run.sh, which starts the PostgreSQL
# cluster; run alone it starts its own.
#
#   1. the sample patients export arrives in PostgreSQL field by field;
#   2. the same file dropped again is imported once (file `duplicate`);
#   3. a cloud outage in the middle of a many-batch upload loses and
#      duplicates nothing, and the agent retried;
#   4. the agent stops cleanly on SIGTERM, and its log carries no patient data;
#   5. with 60 practices of long names, the status answer on the control
#      socket is still whole JSON, and `dentsync status` and `import` use it.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work agent

e2e_pg

agent=$BUILD/dentsync

# --- the cloud side: schema, a practice of our own, its token --------------
e2e_practice_migrated "e2e-agent-$$"
e2e_cloud

# Counts what PostgreSQL holds for our practice (as the owner: RLS is
# tested in cloud.sh; here we count).
in_practice="practice_id = '$practice_id'"

# --- the agent ---------------------------------------------------------------
mkdir -p "$work/inbox" "$work/state"
write_config() { # write_config BATCH_ROWS MAX_IN_FLIGHT [MAX_BATCH_KB]
    cat >"$work/dentsync.conf" <<EOF
[agent]
state_dir = $work/state
log_level = debug
settle_seconds = 0.2
rescan_seconds = 0.5

[cloud]
url = $CLOUD_URL
batch_rows = $1
max_in_flight = $2
timeout_seconds = 5
retry_min_seconds = 0.1
retry_max_seconds = 0.5
max_batch_kb = ${3:-8192}

[practice main]
token_file = $work/token

[folder patients]
path = $work/inbox
practice = main
import_type = patients
template = generic-patients
EOF
}

start_agent() {
    "$agent" run -c "$work/dentsync.conf" >>"$work/agent.log" 2>&1 &
    agent_pid=$!
}

stop_agent() { # stop_agent -> the agent's exit status
    kill -TERM "$agent_pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$agent_pid" 2>/dev/null || break
        sleep 0.05
    done
    wait "$agent_pid"
    status=$?
    agent_pid=
    return $status
}



write_config 7 2
check "dentsync check-config accepts the test configuration" \
    "$agent" check-config -c "$work/dentsync.conf"
start_agent

# --- 1. the sample arrives field by field -------------------------------------
sample=$top/samples/patients.csv
sample_rows=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8-sig"))))' "$sample") - 1))
cp "$sample" "$work/inbox/patients.csv"
check "the sample's job completes in the cloud" \
    wait_for 30 "SELECT count(*) FROM import_jobs WHERE $in_practice AND filename = 'patients.csv' AND status = 'completed'" 1

pg_psql "$(patients_tsv_sql "$in_practice")" |
    LC_ALL=C sort >"$work/patients.actual"
check "PostgreSQL holds one patient per sample row ($sample_rows)" \
    test "$(wc -l <"$work/patients.actual")" -eq "$sample_rows"
if diff -u "$top/tests/e2e/expected/patients.tsv" "$work/patients.actual" >"$work/patients.diff"; then
    ok "the patients in PostgreSQL equal the sample's, field by field"
else
    not_ok "the patients in PostgreSQL equal the sample's, field by field"
    sed 's/^/# /' "$work/patients.diff" | head -40
fi
check "rows without an external id arrived too" \
    test "$(pq "SELECT count(*) FROM patients WHERE $in_practice AND external_id IS NULL")" -gt 0
check "every item of the job is 'created' exactly once" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT row_number) || '/' || count(*) FILTER (WHERE i.status = 'created')
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
              WHERE j.$in_practice AND j.filename = 'patients.csv'")" = "$sample_rows/$sample_rows/$sample_rows"
check "the agent's file is done and its job completed" \
    test "$(queue_sql "SELECT f.state || ',' || j.state FROM files f JOIN jobs j ON j.file_id = f.id WHERE f.path LIKE '%/patients.csv'")" = "done,completed"
# The queue kept the rows as their values with the names once per job, and
# what reached PostgreSQL above is the same field by field.
check "the queue kept each row's raw columns and record as their values, the names once" \
    test "$(queue_sql "SELECT json_array_length(j.raw_columns) > 1, json_array_length(j.record_fields) > 1,
                              count(*) FILTER (WHERE substr(i.raw, 1, 1) = '[' AND substr(i.record, 1, 1) = '['),
                              count(*)
                         FROM jobs j JOIN items i ON i.job_id = j.id WHERE j.filename = 'patients.csv'")" = \
        "1|1|$sample_rows|$sample_rows"

# --- 2. the same file again ----------------------------------------------------
cp "$sample" "$work/inbox/patients-again.csv"
deadline=$(($(date +%s) + 15))
while [ "$(date +%s)" -le "$deadline" ] &&
    [ "$(queue_sql "SELECT state FROM files WHERE path LIKE '%/patients-again.csv'")" != duplicate ]; do
    sleep 0.1
done
check "the same content under a new name is recorded as a duplicate" \
    test "$(queue_sql "SELECT state FROM files WHERE path LIKE '%/patients-again.csv'")" = duplicate
sleep 0.5
check "still one import job in the cloud" \
    test "$(pq "SELECT count(*) FROM import_jobs WHERE $in_practice")" -eq 1
check "still one patient per sample row" \
    test "$(pq "SELECT count(*) FROM patients WHERE $in_practice")" -eq "$sample_rows"
check "still one item per sample row" \
    test "$(pq "SELECT count(*) FROM import_job_items WHERE $in_practice")" -eq "$sample_rows"

# --- 3. a cloud outage in the middle of the upload --------------------------------
check "the agent stops cleanly on SIGTERM (exit 0)" stop_agent
write_config 5 1
start_agent
big_rows=1500
awk -v n=$big_rows 'BEGIN {
    print "Patient ID,First Name,Last Name,Date of Birth,Email";
    for (i = 1; i <= n; i++)
        printf "B%05d,Testfirst%d,Testlast%d,1980-%02d-%02d,b%d@example.com\n", i, i, i, i % 12 + 1, i % 28 + 1, i;
}' >"$work/big.csv"
mv "$work/big.csv" "$work/inbox/big.csv"
big_job="j.$in_practice AND j.filename = 'big.csv'"
batches_sql="SELECT count(*) FROM import_batches b JOIN import_jobs j ON j.id = b.job_id WHERE $big_job"
deadline=$(($(date +%s) + 30))
while [ "$(date +%s)" -le "$deadline" ] && [ "$(pq "$batches_sql")" -lt 3 ]; do
    sleep 0.02
done
outage_port=$CLOUD_PORT
cloud_stop >/dev/null 2>&1
acked_at_outage=$(pq "$batches_sql")
total_batches=$(((big_rows + 4) / 5))
check "the outage began after some but before all batches ($acked_at_outage of $total_batches)" \
    test "$acked_at_outage" -gt 0 -a "$acked_at_outage" -lt "$total_batches"
sleep 1
check "the cloud API comes back on the same port" cloud_start "$BUILD" "$outage_port"
check "after the outage the job completes" \
    wait_for 90 "SELECT count(*) FROM import_jobs j WHERE $big_job AND status = 'completed'" 1
check "every row arrived exactly once" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients WHERE $in_practice AND external_id LIKE 'B%'")" = "$big_rows/$big_rows"
check "every item exactly once, all created" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT row_number) || '/' || count(*) FILTER (WHERE i.status = 'created')
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $big_job")" = "$big_rows/$big_rows/$big_rows"
check "every batch stored once" \
    test "$(pq "$batches_sql")" -eq "$total_batches"
retries=$(queue_sql "SELECT count(*) FROM events WHERE kind = 'batch_retry'")
check "the agent retried during the outage ($retries retries)" test "$retries" -gt 0
check "the agent's big job is completed" \
    test "$(queue_sql "SELECT state FROM jobs WHERE filename = 'big.csv'")" = completed

# --- 4. batches over the byte cap are split, never lost or doubled -----------------
check "the agent stops cleanly on SIGTERM (exit 0)" stop_agent
write_config 50 2 1
start_agent
awk 'BEGIN {
    print "Patient ID,First Name,Last Name,Date of Birth,Email,Notes";
    for (i = 1; i <= 200; i++)
        printf "C%05d,Capfirst%d,Caplast%d,1970-01-%02d,c%d@example.com,a note long enough to make each row weigh about two hundred bytes on the wire %d\n", i, i, i, i % 28 + 1, i, i;
}' >"$work/capped.csv"
mv "$work/capped.csv" "$work/inbox/capped.csv"
capped_job="j.$in_practice AND j.filename = 'capped.csv'"
check "a file whose batches pass max_batch_kb completes" \
    wait_for 60 "SELECT count(*) FROM import_jobs j WHERE $capped_job AND status = 'completed'" 1
check "its batches were split: more than rows / batch_rows reached the cloud" \
    test "$(pq "SELECT count(*) FROM import_batches b JOIN import_jobs j ON j.id = b.job_id WHERE $capped_job")" -gt 4
check "every row once" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT row_number) FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $capped_job")" = "200/200"
check "the splits are in the audit trail" \
    test "$(queue_sql "SELECT count(*) > 0 FROM events WHERE kind = 'batch_split'")" = 1

# --- 4b. the rows that did not go through, as a CSV to fix --------------------------
printf 'Patient ID,First Name,Last Name,Date of Birth,Email\r\nE1,Errfirst,Errlast,1980-13-45,e1@example.com\r\nE2,Errfirst,Errlast,1981-02-03,not-an-email\r\nE3,Okfirst,Oklast,1982-03-04,e3@example.com\r\n' \
    >"$work/inbox/with-errors.csv"
check "a file with two bad rows completes with errors" \
    wait_for 30 "SELECT count(*) FROM import_jobs j WHERE j.$in_practice AND j.filename = 'with-errors.csv' AND j.status LIKE 'completed%'" 1
err_job=$(queue_sql "SELECT id FROM jobs WHERE filename = 'with-errors.csv'")
"$agent" errors -c "$work/dentsync.conf" "$err_job" --csv "$work/errors.csv" >"$work/errors.out" 2>&1
check "dentsync errors writes the job's failed rows ($(tr -d '\n' <"$work/errors.out"))" \
    grep -q ": 2 row(s) of job $err_job that did not go through" "$work/errors.out"
check "… with the original columns first and the errors after" \
    test "$(head -n 1 "$work/errors.csv" | tr -d '\r')" = "Patient ID,First Name,Last Name,Date of Birth,Email,dentsync_row,dentsync_status,dentsync_error_code,dentsync_error,dentsync_suggestion"
check "… each bad row as it was read, with its field and problem" \
    sh -c "grep -q '^E1,Errfirst,Errlast,1980-13-45,e1@example.com,1,invalid,.*date_of_birth' '$work/errors.csv' &&
           grep -q '^E2,.*not-an-email,2,invalid,.*email' '$work/errors.csv' && ! grep -q '^E3' '$work/errors.csv'"
check "… in a file only its owner can read" test "$(stat -c %a "$work/errors.csv")" = 600
"$agent" errors -c "$work/dentsync.conf" "$err_job" --csv "$work/errors.csv" >/dev/null 2>&1
check "… and never over an existing file (usage error)" test $? -eq 2

# --- 4c. every error of a row, and the original columns of the rows the cloud did not take --
# Row 1 has four bad fields; row 2 names no id and matches two patients by
# e-mail and date of birth (the cloud: needs_review); "Internal Memo" is a
# column no field reads, which must never leave the agent.
printf 'Patient ID,First Name,Last Name,Date of Birth,Email\r\nD2,Twinone,Twinlast,1990-01-01,twin4c@example.com\r\nD3,Twintwo,Twinlast,1990-01-01,twin4c@example.com\r\n' \
    >"$work/inbox/twins.csv"
check "two patients sharing an e-mail and a birth date are in the cloud" \
    wait_for 30 "SELECT count(*) FROM import_jobs j WHERE j.$in_practice AND j.filename = 'twins.csv' AND j.status = 'completed'" 1
printf 'Patient ID,First Name,Last Name,Date of Birth,Gender,Email,Mobile Phone,Internal Memo\r\nA1,Allfirst,Alllast,1980-13-45,Q,not-an-email,555-0147,memo-one\r\n,Twinthree,Twinlast,1990-01-01,,twin4c@example.com,,memo-two\r\nA4,Okfirst,Oklast,1982-03-04,F,ok4c@example.com,,memo-four\r\n' \
    >"$work/all-errors.csv"
"$agent" preview -c "$work/dentsync.conf" "$work/all-errors.csv" --folder patients --json --all \
    >"$work/all-errors.preview" 2>&1
check "preview --json lists the four errors of row 1, each with field, code and suggestion" \
    test "$(jq -r 'select(.row == 1) | [.errors[] | "\(.field)=\(.code)" + (if (.suggestion | length) > 0 then "" else "?" end)] | join(" ")' "$work/all-errors.preview")" \
    = "date_of_birth=BAD_DATE gender=UNKNOWN_VALUE email=BAD_EMAIL phone_mobile=BAD_PHONE"
check "… and the row's errors hold no value of it" \
    sh -c "! jq -c 'select(.row == 1) | .errors' '$work/all-errors.preview' | grep -q -e 1980-13-45 -e not-an-email -e 555-0147"
"$agent" preview -c "$work/dentsync.conf" "$work/all-errors.csv" --folder patients --all \
    >"$work/all-errors.preview.txt" 2>&1
check "preview on the terminal shows the four errors of row 1 on its line" \
    grep -q '^ *1  invalid *date_of_birth: .*; gender: .*; email: .*; phone_mobile: ' "$work/all-errors.preview.txt"
mv "$work/all-errors.csv" "$work/inbox/all-errors.csv"
all_job_sql="SELECT count(*) FROM import_jobs j WHERE j.$in_practice AND j.filename = 'all-errors.csv' AND j.status LIKE 'completed%'"
check "the file with four bad fields in a row completes with errors" wait_for 30 "$all_job_sql" 1
all_job=$(queue_sql "SELECT id FROM jobs WHERE filename = 'all-errors.csv'")
check "the queue keeps the four errors of row 1" \
    test "$(queue_sql "SELECT json_array_length(errors) FROM items WHERE job_id = '$all_job' AND row = 1")" = 4
"$agent" job -c "$work/dentsync.conf" --json "$all_job" >"$work/all-errors.job" 2>&1
check "dentsync job --json shows each error of row 1 with its field" \
    test "$(jq -r '[.errors[] | select(.status == "invalid" and .first_row == 1) | .field] | sort | join(" ")' "$work/all-errors.job")" \
    = "date_of_birth email gender phone_mobile"
"$agent" job -c "$work/dentsync.conf" "$all_job" >"$work/all-errors.job.txt" 2>&1
check "dentsync job on the terminal lists them, each with what to do" \
    sh -c "grep -q 'BAD_PHONE .*phone_mobile' '$work/all-errors.job.txt' && grep -q 'fix: ' '$work/all-errors.job.txt'"
"$agent" errors -c "$work/dentsync.conf" "$all_job" --csv "$work/all-errors.out.csv" >/dev/null 2>&1
check "the errors CSV has one line for row 1 with its four codes, messages and suggestions" \
    python3 - "$work/all-errors.out.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
r1 = [r for r in rows if r["dentsync_row"] == "1"]
assert len(r1) == 1, r1
r = r1[0]
assert r["dentsync_error_code"] == "BAD_DATE; UNKNOWN_VALUE; BAD_EMAIL; BAD_PHONE", r
assert len(r["dentsync_error"].split("; ")) == 4 and len(r["dentsync_suggestion"].split("; ")) == 4, r
assert r["Date of Birth"] == "1980-13-45" and "Internal Memo" not in r, r
assert any(x["dentsync_row"] == "2" and x["dentsync_status"] == "needs_review" for x in rows), rows
PY
all_items="FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE j.$in_practice AND j.filename = 'all-errors.csv'"
check "the invalid row stays in the agent: the cloud has rows 2 and 3" \
    test "$(pq "SELECT string_agg(row_number::text, ',' ORDER BY row_number) $all_items")" = "2,3"
check "the needs_review row's raw_data holds exactly the mapped columns, as read" \
    test "$(pq "SELECT i.status || ' ' || (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(i.raw_data) k) || ' ' || (i.raw_data->>'First Name') $all_items AND i.row_number = 2")" \
    = "needs_review Date of Birth,Email,First Name,Gender,Last Name,Mobile Phone,Patient ID Twinthree"
check "… never the unmapped column, in no item" \
    test "$(pq "SELECT count(*) $all_items AND (i.raw_data ? 'Internal Memo' OR i.raw_data::text LIKE '%memo-%')")" = 0
check "… with its errors as an array; the created rows keep no raw_data" \
    test "$(pq "SELECT string_agg(i.row_number || ':' || coalesce(i.errors->0->>'code', '-') || ':' || (i.raw_data IS NULL)::text, ' ' ORDER BY i.row_number) $all_items")" \
    = "2:AMBIGUOUS_PATIENT:false 3:-:true"

# --- 5. clean stop, and no patient data in the log --------------------------------
check "the agent stops cleanly on SIGTERM again (exit 0)" stop_agent
leaks=0
# Every distinct value of the sample but ids, codes and short words.
python3 - "$sample" >"$work/values" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
header, data = rows[0], rows[1:]
skip = {"patient id", "gender", "status", "state"}
seen = set()
for r in data:
    for h, v in zip(header, r):
        v = v.strip()
        if h.strip().lower() not in skip and len(v) >= 4 and v not in seen:
            seen.add(v)
            print(v.split("\n")[0])
EOF
# As a word: a five-digit ZIP code turns up inside a random job id or
# digest now and then, and that is no leak. The line's code says where a
# real one comes from, without the value.
while IFS= read -r value; do
    if grep -qwF -- "$value" "$work/agent.log"; then
        leaks=$((leaks + 1))
        echo "# the agent log carries a sample value, in: $(grep -wF -- "$value" "$work/agent.log" |
            awk '{ print $3 }' | sort -u | tr '\n' ' ')"
    fi
done <"$work/values"
check "the agent log carries none of the sample's $(wc -l <"$work/values") patient values" \
    test "$leaks" -eq 0 -a "$(wc -l <"$work/values")" -gt 20
check "the queue database is closed to others (0640: the service user and its group)" \
    test "$(stat -c %a "$work/state/queue.db")" = 640

# --- 6. many practices with long names: the status answer stays whole JSON -------
# Their part of the answer is far past any fixed buffer; cut, it was invalid
# JSON and the commands said the agent had stopped answering.
mkdir -p "$work/many-state" "$work/many-inbox"
many_name='North Valley Family Dental & Café'
{
    printf '[agent]\nstate_dir = %s\nlog_level = info\n' "$work/many-state"
    printf 'settle_seconds = 0.2\nrescan_seconds = 0.5\n\n'
    printf '[cloud]\nurl = %s\ntimeout_seconds = 5\nheartbeat_seconds = 0\n\n' "$CLOUD_URL"
    for i in $(seq -w 1 60); do
        printf '[practice %s %s]\ntoken_file = %s\n\n' "$many_name" "$i" "$work/token"
    done
    printf '[folder patients]\npath = %s\npractice = %s 01\n' "$work/many-inbox" "$many_name"
    printf 'import_type = patients\ntemplate = generic-patients\n'
} >"$work/many.conf"
"$agent" run -c "$work/many.conf" >>"$work/many.log" 2>&1 &
agent_pid=$!
check "the agent with 60 practices listens on its control socket" \
    wait_until 10 test -S "$work/many-state/control.sock"
# The raw answer to "status" on the socket, as a client reads it.
python3 - "$work/many-state/control.sock" >"$work/many-status.json" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"status\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
PY
check "its status answer is whole JSON with the 60 practices ($(wc -c <"$work/many-status.json") bytes)" \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["ingest_paused"] is None
names = [p["name"] for p in d["practices"]]
assert len(names) == 60 and names[59] == "North Valley Family Dental & Caf\u00e9 60", names[-1:]
' "$work/many-status.json"
"$agent" status -c "$work/many.conf" --json >"$work/many-status-cmd.json" 2>&1
check "dentsync status --json sees the agent running and its 60 practices" \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["agent"] == "running", d["agent"]
assert len(d["practices"]) == 60
' "$work/many-status-cmd.json"
printf 'Patient ID,First Name,Last Name\n' >"$work/many-empty.csv"
"$agent" import -c "$work/many.conf" --folder patients "$work/many-empty.csv" \
    >"$work/many-import.txt" 2>&1
sed 's/^/# /' "$work/many-import.txt"
check "dentsync import goes through the running agent, which keeps answering" \
    sh -c "grep -q 'handed to the running agent' '$work/many-import.txt' && ! grep -q 'stopped answering' '$work/many-import.txt'"
check "that agent stops cleanly on SIGTERM (exit 0)" stop_agent

e2e_summary
