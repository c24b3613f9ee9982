#!/bin/bash
# route.sh — one export, several import types: a SoftDent transaction file
# lists procedures and payments together; its template routes the payment
# rows to a template of the financial type, and the file makes one job per
# type. The agent, the cloud API and PostgreSQL, for real. Run by
# tests/e2e/run.sh, which starts the PostgreSQL cluster; run alone it starts
# its own.
#
#   1. the SoftDent patient file (text quoted with ~, a trailer line) gives
#      the patients the transactions refer to;
#   2. the transaction file makes two jobs, treatments and financial, both
#      completed in the cloud; its procedures end as rows of `treatments`
#      and its payments and adjustments as rows of `payments`, counted in
#      PostgreSQL; each job holds every row of the file (the sibling's rows
#      skipped), and the file is done once both jobs are;
#   3. a Dentrix ledger (names only) also makes one job per type;
#   4. kill -9 at the points of a routed file's life (between the passes,
#      between the two jobs staged in one transaction, after the first job
#      completed but not the second, mid-upload): after a restart both jobs
#      complete and PostgreSQL holds every row once;
#   5. the delta and the full-snapshot check hold per import type: the file
#      again with one procedure changed and one payment gone sends one update
#      in the treatments job and one deletion in the financial job;
#   6. a workbook (samples/pms/multi-sheet.xlsx: a cover sheet, patients,
#      appointments) in a folder with `sheet = *` makes a job per sheet a
#      template matches, each arriving in PostgreSQL, and the cover sheet is
#      a SHEET_SKIPPED log line naming the file and the sheet; in a folder
#      without the option the first sheet a template of its type matches is
#      read, the cover sheet noticed the same way; preview shows the notice.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work route
crash_pid=
e2e_on_exit() {
    [ -n "$crash_pid" ] && kill -9 "$crash_pid" 2>/dev/null
}

e2e_pg

agent=$BUILD/dentsync

e2e_practice_migrated "e2e-route-$$"
e2e_cloud

in_practice="practice_id = '$practice_id'"

# setup_dir DIR SNAPSHOT BATCH_ROWS: a state dir, inboxes and a config.
setup_dir() {
    mkdir -p "$1/patients" "$1/ledger" "$1/dentrix" "$1/workbook" "$1/state"
    cat >"$1/dentsync.conf" <<EOF
[agent]
state_dir = $1/state
log_level = info
settle_seconds = 0.1
rescan_seconds = 0.3

[cloud]
url = $CLOUD_URL
batch_rows = $3
max_in_flight = 2
timeout_seconds = 5
retry_min_seconds = 0.05
retry_max_seconds = 0.3

[practice main]
token_file = $work/token
timezone = America/Chicago

[folder patients]
path = $1/patients
practice = main
import_type = patients

[folder ledger]
path = $1/ledger
practice = main
import_type = treatments
template = auto
snapshot = $2
max_missing_percent = 20

[folder dentrix]
path = $1/dentrix
practice = main
import_type = financial

[folder workbook]
path = $1/workbook
practice = main
import_type = patients
sheet = *
EOF
}

sample=$top/samples/pms/softdent-transactions.txt
tx_file="filename LIKE 'tx%'"

# --- 1. patients -------------------------------------------------------------------
main=$work/main
setup_dir "$main" full 4
check "dentsync check-config accepts treatments and financial folders" \
    "$agent" check-config -c "$main/dentsync.conf"
"$agent" run -c "$main/dentsync.conf" >>"$main/agent.log" 2>&1 &
agent_pid=$!
cp "$top/samples/pms/softdent-patients.txt" "$main/patients/pat.tmp"
mv "$main/patients/pat.tmp" "$main/patients/patients.txt"
check "the SoftDent patient file arrives (10 patients; its trailer line is no patient)" \
    wait_for 60 "SELECT count(*) FROM patients WHERE $in_practice AND external_id LIKE '20%'" 10

# --- 2. the transaction file: two jobs ---------------------------------------------
cp "$sample" "$main/ledger/tx1.tmp"
mv "$main/ledger/tx1.tmp" "$main/ledger/tx1.txt"
check "the transaction file makes two cloud jobs, treatments and financial, both completed" \
    wait_for 60 "SELECT string_agg(import_type || ':' || status, ',' ORDER BY import_type)
                 FROM import_jobs WHERE $in_practice AND filename = 'tx1.txt'" \
    "financial:completed,treatments:completed"
check "its 6 procedures are rows of treatments in PostgreSQL" \
    test "$(pq "SELECT count(*) FROM treatments WHERE $in_practice AND deleted_at IS NULL")" -eq 6
check "its 10 payments and adjustments are rows of payments in PostgreSQL" \
    test "$(pq "SELECT count(*) FROM payments WHERE $in_practice AND deleted_at IS NULL")" -eq 10
check "… 3 by cash, check and card each … and 4 adjustments" \
    test "$(pq "SELECT count(*) FILTER (WHERE kind = 'payment') || '/' || count(*) FILTER (WHERE kind = 'adjustment')
              || '/' || count(DISTINCT method) FROM payments WHERE $in_practice")" = "6/4/4"
check "each procedure is tied to its patient" \
    test "$(pq "SELECT count(*) FROM treatments t JOIN patients p ON p.id = t.patient_id
              WHERE t.$in_practice AND p.external_id = t.patient_external_id")" -eq 6
check "the cloud got each row once, in the job of its type (6 + 10 items)" \
    test "$(pq "SELECT string_agg(j.import_type || ':' || (SELECT count(*) FROM import_job_items i WHERE i.job_id = j.id), ','
              ORDER BY j.import_type) FROM import_jobs j WHERE j.$in_practice AND j.filename = 'tx1.txt'")" \
    = "financial:10,treatments:6"
check "both jobs count every row of the file (total_rows 16)" \
    test "$(pq "SELECT string_agg(total_rows::text, ',') FROM import_jobs WHERE $in_practice AND filename = 'tx1.txt'")" = "16,16"
check "the agent's file is done, with two completed jobs" \
    wait_queue "$main" 30 "SELECT f.state || ':' || count(j.id) || ':' || sum(j.state = 'completed')
                           FROM files f JOIN jobs j ON j.file_id = f.id WHERE f.path LIKE '%/tx1.txt'" "done:2:2"
check "each job holds all 16 rows, the sibling's as skipped (routed)" \
    test "$(queue_sql "$main" "SELECT group_concat(n, ',') FROM (SELECT j.import_type || ':' || count(*) || ':' ||
              sum(i.status = 'skipped' AND i.error LIKE 'routed to %') AS n FROM items i JOIN jobs j ON j.id = i.job_id
              JOIN files f ON f.id = j.file_id WHERE f.path LIKE '%/tx1.txt' GROUP BY j.import_type ORDER BY j.import_type)")" \
    = "financial:16:6,treatments:16:10"
check "a routed row keeps no patient data in the job it is skipped in" \
    test "$(queue_sql "$main" "SELECT count(*) FROM items WHERE status = 'skipped' AND (raw IS NOT NULL OR record IS NOT NULL)")" -eq 0

# --- 3. a Dentrix ledger --------------------------------------------------------------
cp "$top/samples/pms/dentrix-ledger.txt" "$main/dentrix/l.tmp"
mv "$main/dentrix/l.tmp" "$main/dentrix/ledger.txt"
check "a Dentrix ledger in a financial folder makes a financial and a treatments job" \
    wait_for 60 "SELECT string_agg(import_type || ':' || template_id, ',' ORDER BY import_type)
                 FROM import_jobs WHERE $in_practice AND filename = 'ledger.txt' AND completed_at IS NOT NULL" \
    "financial:dentrix-ledger-financial,treatments:dentrix-ledger-treatments"
check "… 6 rows in each" \
    test "$(pq "SELECT string_agg((SELECT count(*) FROM import_job_items i WHERE i.job_id = j.id)::text, ',')
              FROM import_jobs j WHERE j.$in_practice AND j.filename = 'ledger.txt'")" = "6,6"

# --- 4. kill -9 anywhere in a routed file's life --------------------------------------

# start_crash DIR [VAR=VALUE...]: an agent in the background, $crash_pid.
start_crash() {
    _dir=$1
    shift
    rm -f "$_dir/agent.pid" "$_dir/agent.status"
    (
        env "$@" "$agent" run -c "$_dir/dentsync.conf" >>"$_dir/agent.log" 2>&1 &
        echo $! >"$_dir/agent.pid"
        wait $!
        echo $? >"$_dir/agent.status"
    ) 2>/dev/null &
    crash_wrapper=$!
    while [ ! -s "$_dir/agent.pid" ]; do
        sleep 0.01
    done
    crash_pid=$(cat "$_dir/agent.pid")
}
# wait_exit DIR SECONDS: the agent's exit status in $exit_status (124: killed).
wait_exit() {
    _deadline=$(($(date +%s) + $2))
    while kill -0 "$crash_pid" 2>/dev/null && [ "$(date +%s)" -le "$_deadline" ]; do
        sleep 0.02
    done
    if kill -0 "$crash_pid" 2>/dev/null; then
        kill -9 "$crash_pid" 2>/dev/null
        exit_status=124
    else
        exit_status=$(cat "$1/agent.status" 2>/dev/null)
    fi
    wait "$crash_wrapper" 2>/dev/null
    crash_pid=
}

points="routed_pass_begin
after_stage_commit
routed_job_staged
batch_acked_after_commit:3
job_completed_after_commit"
n=0
for at in $points; do
    n=$((n + 1))
    name=${at%%:*}
    dir=$work/c$n
    file=tx-crash-$n.txt
    setup_dir "$dir" incremental 3
    cp "$sample" "$dir/ledger/$file"
    start_crash "$dir" DENTSYNC_CRASH_AT="$at" DENTSYNC_CRASH_LOG="$dir/crash.log"
    wait_exit "$dir" 30
    check "$at: the agent died at the point (status $exit_status)" \
        test "$exit_status" = 137 -a "$(cat "$dir/crash.log" 2>/dev/null)" = "$name"
    start_crash "$dir"
    check "$at: after a restart the file is done with both jobs completed" \
        wait_queue "$dir" 60 "SELECT f.state || ':' || count(j.id) || ':' || sum(j.state LIKE 'completed%')
                              FROM files f JOIN jobs j ON j.file_id = f.id GROUP BY f.id" "done:2:2"
    kill -9 "$crash_pid" 2>/dev/null
    wait "$crash_wrapper" 2>/dev/null
    crash_pid=
    check "$at: the cloud has two completed jobs for the file, each row once (16 items)" \
        test "$(pq "SELECT count(DISTINCT j.id) || ':' || count(*) || ':' || count(DISTINCT (i.job_id, i.row_number))
                  FROM import_jobs j JOIN import_job_items i ON i.job_id = j.id
                  WHERE j.$in_practice AND j.filename = '$file' AND j.status = 'completed'")" = "2:16:16"
    check "$at: still 6 treatments and 10 payments in PostgreSQL, none twice" \
        test "$(pq "SELECT (SELECT count(*) FROM treatments WHERE $in_practice) || '/' ||
                  (SELECT count(*) FROM payments WHERE $in_practice AND patient_external_id LIKE '20%')")" = "6/10"
done

# --- 5. the delta and the snapshot check, per import type -------------------------------
# Row 1 (a procedure) gets another fee; row 4 (a cash payment) is gone.
awk 'NR == 2 { sub(/65\.00,65\.00/, "66.00,66.00") } NR != 5' "$sample" >"$main/ledger/tx2.tmp"
mv "$main/ledger/tx2.tmp" "$main/ledger/tx2.txt"
check "the changed file's two jobs complete" \
    wait_for 60 "SELECT count(*) FROM import_jobs WHERE $in_practice AND filename = 'tx2.txt' AND status = 'completed'" 2
check "the treatments job sent only the changed procedure (1 updated)" \
    test "$(pq "SELECT string_agg(i.status, ',') FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
              WHERE j.$in_practice AND j.filename = 'tx2.txt' AND j.import_type = 'treatments'")" = "updated"
check "the financial job sent only the deletion of the vanished payment" \
    test "$(pq "SELECT string_agg(i.status, ',') FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
              WHERE j.$in_practice AND j.filename = 'tx2.txt' AND j.import_type = 'financial'")" = "deleted"
check "… the payment is soft-deleted, the procedure carries its new fee" \
    test "$(pq "SELECT (SELECT count(*) FROM payments WHERE $in_practice AND deleted_at IS NOT NULL) || '/' ||
              (SELECT count(*) FROM treatments WHERE $in_practice AND fee_cents = 6600)")" = "1/1"

# --- 6. a workbook of several sheets --------------------------------------------------------
wb=$top/samples/pms/multi-sheet.xlsx
cp "$wb" "$main/workbook/wb.tmp"
mv "$main/workbook/wb.tmp" "$main/workbook/multi-sheet.xlsx"
check "sheet = *: the workbook makes a patients and an appointments job, both completed" \
    wait_for 60 "SELECT string_agg(import_type || ':' || status || ':' || total_rows, ',' ORDER BY import_type)
                 FROM import_jobs WHERE $in_practice AND filename = 'multi-sheet.xlsx'" \
    "appointments:completed:5,patients:completed:4"
check "… its 4 patients are in PostgreSQL, the date of birth from a date cell" \
    test "$(pq "SELECT count(*) || ':' || max(date_of_birth)::text FROM patients
              WHERE $in_practice AND external_id LIKE '300%'")" = "4:1977-10-18"
check "… its 5 appointments, each tied to its patient of the Patients sheet" \
    test "$(pq "SELECT count(*) FROM appointments a JOIN patients p ON p.id = a.patient_id
              WHERE a.$in_practice AND a.external_id LIKE 'WB%' AND p.external_id = a.patient_external_id")" -eq 5
check "… and the cover sheet is a log line naming the file and the sheet" \
    grep -q "SHEET_SKIPPED.*multi-sheet.xlsx: sheet 'Read me' skipped: no template matches its header" "$main/agent.log"
check "the agent's file is done with its two jobs" \
    wait_queue "$main" 30 "SELECT f.state || ':' || count(j.id) FROM files f JOIN jobs j ON j.file_id = f.id
                           WHERE f.path LIKE '%/multi-sheet.xlsx'" "done:2"
# Without the option: the first sheet a template of the folder's type matches.
# (Another zip comment: the same workbook, not the same file's content.)
python3 -c 'import shutil, sys, zipfile
shutil.copy(sys.argv[1], sys.argv[2])
with zipfile.ZipFile(sys.argv[2], "a") as z:
    z.comment = b"copy"' "$wb" "$main/patients/wb.tmp"
mv "$main/patients/wb.tmp" "$main/patients/wb-default.xlsx"
check "without sheet: a patients folder reads the Patients sheet (4 rows, generic-patients)" \
    wait_queue "$main" 60 "SELECT j.template_id || ':' || count(*) FROM jobs j JOIN files f ON f.id = j.file_id
                           JOIN items i ON i.job_id = j.id WHERE f.path LIKE '%/wb-default.xlsx' AND f.state = 'done'
                           GROUP BY j.id" "generic-patients:4"
check "… the cover sheet before it noticed in the log" \
    grep -q "SHEET_SKIPPED.*wb-default.xlsx: sheet 'Read me' skipped" "$main/agent.log"
check "preview --sheet '*' shows the skipped sheet and previews the other two" \
    test "$("$agent" preview "$wb" --sheet '*' | grep -cE "^notice: sheet 'Read me' skipped|^== sheet '(Patients|Appointments)'")" -eq 3

kill -TERM "$agent_pid" 2>/dev/null
wait "$agent_pid"
check "the agent stops cleanly (exit 0)" test $? -eq 0
agent_pid=
check "no log line carries a patient's name" \
    test -z "$(grep -hE 'Okafor|Haddad|Schmidt' "$work"/*/agent.log)"

e2e_summary
