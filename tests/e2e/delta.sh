#!/bin/bash
# delta.sh — a nightly full snapshot sends only what changed. The agent, the
# cloud API and PostgreSQL, for real. Run by tests/e2e/run.sh, which starts
# the PostgreSQL cluster; run alone it starts its own.
#
#   1. a first full snapshot arrives whole;
#   2. the same snapshot again with 1% of its rows changed and 0.5% removed
#      sends only those: the second job's items and batches, counted in
#      PostgreSQL, are the changed rows and one deletion per removed key,
#      and the removed patients are soft-deleted (deleted_at set);
#   3. a snapshot missing 30% of the keys synced before is held
#      (SNAPSHOT_SANITY) and nothing of it reaches the cloud;
#   4. a folder with template = auto takes the Open Dental sample with the
#      template detected from its header, and holds a file no template
#      knows (NO_TEMPLATE) with the closest templates and unknown columns,
#      and keeps it one held file over the rescans that follow (no
#      duplicate, nothing logged again; dentsync retry FILE takes it);
#   5. dentsync preview on a file with a wrong date order, an unknown status
#      and (another file) a missing required column: the errors and their
#      suggestions; --all counting repeated keys over 70,000 patients; and
#      nothing written to the queue;
#   6. date_order = auto: a file whose dates only read as DD/MM/YYYY is read
#      so, in preview as in ingest (the dates in PostgreSQL); the same file
#      under a practice that says MDY gets the suggestion;
#   7. on a fresh state directory, before any pull from the cloud, the
#      practice's saved templates (none yet) are not warned about; a
#      directory in their place that cannot be read is.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work delta

e2e_pg

agent=$BUILD/dentsync

# --- the cloud side: schema, a practice of our own, its token --------------
e2e_practice_migrated "e2e-delta-$$"
e2e_cloud

in_practice="practice_id = '$practice_id'"

# --- the agent ---------------------------------------------------------------
mkdir -p "$work/inbox" "$work/auto" "$work/state"
cat >"$work/dentsync.conf" <<EOF
[agent]
state_dir = $work/state
log_level = debug
settle_seconds = 0.2
rescan_seconds = 0.5

[cloud]
url = $CLOUD_URL
batch_rows = 100
max_in_flight = 2
timeout_seconds = 5
retry_min_seconds = 0.1
retry_max_seconds = 0.5

[practice main]
token_file = $work/token

[folder patients]
path = $work/inbox
practice = main
import_type = patients
template = generic-patients
snapshot = full
max_missing_percent = 5

[folder detected]
path = $work/auto
practice = main
import_type = patients
template = auto
EOF
check "dentsync check-config accepts snapshot = full" "$agent" check-config -c "$work/dentsync.conf"
"$agent" run -c "$work/dentsync.conf" >>"$work/agent.log" 2>&1 &
agent_pid=$!

# snapshot FILE CHANGED_EVERY REMOVED_EVERY KEEP_BELOW: 2000 synthetic
# patients; every CHANGED_EVERY-th gets a new e-mail, every REMOVED_EVERY-th
# is left out, and only ids below KEEP_BELOW are written (0: no change).
rows=2000
snapshot() {
    awk -v n=$rows -v ch="$2" -v rm="$3" -v keep="$4" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++) {
            if (rm > 0 && i % rm == 0) continue;
            if (keep > 0 && i >= keep) continue;
            mail = (ch > 0 && i % ch == 0) ? "new" i : "d" i;
            printf "D%05d,Deltafirst%d,Deltalast%d,1970-%02d-%02d,%s@example.com\n", i, i, i, i % 12 + 1, i % 28 + 1, mail;
        }
    }' >"$1"
}

# --- 1. the first snapshot arrives whole --------------------------------------
snapshot "$work/snap1.tmp" 0 0 0
mv "$work/snap1.tmp" "$work/inbox/snap1.csv"
check "the first snapshot's job completes in the cloud" \
    wait_for 60 "SELECT count(*) FROM import_jobs WHERE $in_practice AND filename = 'snap1.csv' AND status = 'completed'" 1
check "every patient arrived ($rows)" \
    test "$(pq "SELECT count(*) FROM patients WHERE $in_practice AND deleted_at IS NULL")" -eq $rows
check "the agent's first job is completed and its keys are synced" \
    wait_queue "$work" 30 "SELECT count(*) FROM synced" $rows

# --- 2. 1% changed, 0.5% removed ----------------------------------------------
# Every 100th row changed (20), every 200th removed (10; half of them among
# the changed ones, which then count as removed only).
snapshot "$work/snap2.tmp" 100 200 0
mv "$work/snap2.tmp" "$work/inbox/snap2.csv"
changed=10 # rows i % 100 == 0 that are not also i % 200 == 0
removed=10
job2="j.$in_practice AND j.filename = 'snap2.csv'"
check "the second snapshot's job completes" \
    wait_for 60 "SELECT count(*) FROM import_jobs j WHERE $job2 AND status = 'completed'" 1
check "the cloud got only the changed rows and the deletions ($changed + $removed items)" \
    test "$(pq "SELECT count(*) FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $job2")" -eq $((changed + removed))
check "… $changed updated, $removed deleted" \
    test "$(pq "SELECT count(*) FILTER (WHERE i.status = 'updated') || '/' || count(*) FILTER (WHERE i.status = 'deleted')
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $job2")" = "$changed/$removed"
check "… in one batch (100 rows each)" \
    test "$(pq "SELECT count(*) FROM import_batches b JOIN import_jobs j ON j.id = b.job_id WHERE $job2")" -eq 1
check "the job's total_rows counts the data rows and the deletions" \
    test "$(pq "SELECT total_rows FROM import_jobs j WHERE $job2")" -eq $((rows - removed + removed))
check "the removed patients are soft-deleted in the cloud" \
    test "$(pq "SELECT count(*) FROM patients WHERE $in_practice AND deleted_at IS NOT NULL")" -eq $removed
check "the changed patients carry their new e-mail" \
    test "$(pq "SELECT count(*) FROM patients WHERE $in_practice AND email LIKE 'new%' AND deleted_at IS NULL")" -eq $changed
check "the agent kept the rest as unchanged, locally" \
    test "$(queue_sql "SELECT count(*) FROM items i JOIN jobs j ON j.id = i.job_id WHERE j.filename = 'snap2.csv' AND i.status = 'unchanged'")" -eq $((rows - removed - changed))
check "the removed keys left the synced table" \
    wait_queue "$work" 10 "SELECT count(*) FROM synced" $((rows - removed))

# --- 3. a snapshot missing 30% of its keys is held ---------------------------
snapshot "$work/snap3.tmp" 0 0 $((rows * 7 / 10))
mv "$work/snap3.tmp" "$work/inbox/snap3.csv"
check "a snapshot missing 30% of its keys is held (SNAPSHOT_SANITY)" \
    wait_queue "$work" 30 "SELECT state || ',' || reason_code FROM files WHERE path LIKE '%/snap3.csv'" "held,SNAPSHOT_SANITY"
check "… with nothing of it staged" \
    test "$(queue_sql "SELECT count(*) FROM jobs j JOIN files f ON f.id = j.file_id WHERE f.path LIKE '%/snap3.csv'")" -eq 0
sleep 1
check "… and nothing of it in the cloud" \
    test "$(pq "SELECT count(*) FROM import_jobs WHERE $in_practice AND filename = 'snap3.csv'")" -eq 0
check "… and no patient deleted by it" \
    test "$(pq "SELECT count(*) FROM patients WHERE $in_practice AND deleted_at IS NOT NULL")" -eq $removed

# --- 3b. resync: the next snapshot is sent in full ------------------------------
"$agent" resync -c "$work/dentsync.conf" --practice main --type patients >"$work/resync.out" 2>&1
check "dentsync resync forgets the practice's synced records ($(cat "$work/resync.out" | tr -d '\n'))" \
    grep -q "practice main: $((rows - removed)) synced record(s) of type patients forgotten" "$work/resync.out"
check "dentsync resync names an unknown practice as a usage error" \
    sh -c "'$agent' resync -c '$work/dentsync.conf' --practice nobody >/dev/null 2>&1; test \$? -eq 2"
snapshot "$work/snap4.tmp" 1000 200 0
mv "$work/snap4.tmp" "$work/inbox/snap4.csv"
job4="j.$in_practice AND j.filename = 'snap4.csv'"
check "after a resync the next snapshot completes" \
    wait_for 60 "SELECT count(*) FROM import_jobs j WHERE $job4 AND status = 'completed'" 1
check "… sent in full: every row of it reached the cloud ($((rows - removed)))" \
    test "$(pq "SELECT count(*) FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $job4")" -eq $((rows - removed))
check "… and no deletion, since nothing was known to be synced" \
    test "$(pq "SELECT count(*) FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $job4 AND i.status = 'deleted'")" -eq 0

# --- 4. template = auto -----------------------------------------------------------
cp "$top/samples/pms/opendental-patients-raw.csv" "$work/auto/od.csv"
# One column a template knows (Email), so the line is a header: the unknown
# ones are named. (A first line no template knows any column of may be data,
# and is never echoed — tests/unit/test_detect.c.)
printf 'Visit No,When,Mood,Email\n1,2024-01-01,fine,odd@example.com\n' >"$work/auto/odd.csv"
check "an Open Dental export is read with the template detected from its header" \
    wait_queue "$work" 30 "SELECT template_id FROM jobs WHERE filename = 'od.csv'" opendental-patients
check "a header no template knows is held (NO_TEMPLATE)" \
    wait_queue "$work" 30 "SELECT state || ',' || reason_code FROM files WHERE path LIKE '%/odd.csv'" "held,NO_TEMPLATE"
reason=$(queue_sql "SELECT reason FROM files WHERE path LIKE '%/odd.csv'")
check "… naming the closest templates and the unknown columns" \
    test -n "$(echo "$reason" | grep 'closest: dentrix-patients (score [0-9]*, required columns missing), generic-patients' | grep 'Visit No, When, Mood')"
check "… and never a value" test -z "$(echo "$reason" | grep -E 'fine|2024-01-01|odd@example')"
# A held file stays the one file it was, left as it is or written again
# with the same content (an export program saving it anew: only its mtime
# changes): the rescans (every 0.5 s) do not take it as a new `duplicate`.
sleep 1.5
for _ in 1 2 3; do
    touch "$work/auto/odd.csv"
    sleep 1
done
sleep 1
said=$(grep -c 'odd.csv' "$work/agent.log")
check "… written again three times with the same content: still its one row, held, no duplicate" \
    test "$(queue_sql "SELECT count(*) || ',' || group_concat(state) FROM files WHERE path LIKE '%/odd.csv'")" = "1,held"
check "… the log says it was held once, and nothing of a duplicate" \
    test "$(grep -c 'FILE_HELD .*odd.csv' "$work/agent.log") $(grep -c 'FILE_DUPLICATE .*odd.csv' "$work/agent.log")" = "1 0"
sleep 2
check "… and the rescans that follow leave it alone (nothing more logged of it)" \
    test "$(grep -c 'odd.csv' "$work/agent.log")" -eq "$said"
"$agent" retry -c "$work/dentsync.conf" "$work/auto/odd.csv" >"$work/retry-odd.out" 2>&1
check "… and dentsync retry FILE finds it held and takes it up again" \
    grep -q "is detected again" "$work/retry-odd.out"
check "… held again (NO_TEMPLATE), still one row" \
    wait_queue "$work" 30 "SELECT count(*) || ',' || group_concat(state) FROM files WHERE path LIKE '%/odd.csv'" "1,held"

kill -TERM "$agent_pid" 2>/dev/null
wait "$agent_pid"
check "the agent stops cleanly (exit 0)" test $? -eq 0
agent_pid=
check "the hold reason names counts, never a value" \
    test -z "$(queue_sql "SELECT reason FROM files WHERE path LIKE '%/snap3.csv'" | grep -E 'Delta|@example')"

# --- 5. preview ---------------------------------------------------------------
cat >"$work/preview.csv" <<'EOF'
Patient ID,First Name,Last Name,Date of Birth,Email,Status
P1,Ann,Testone,25/12/1980,a1@example.com,active
P2,Bob,Testtwo,1975-01-13,b2@example.com,Gone Fishing
P3,Cid,Testthree,13/02/1990,c3@example.com,active
P4,Dee,Testfour,30/06/1985,,inactive
P5,Eve,Testfive,02/13/1990,e5@example.com,active
EOF
printf 'Patient ID,First Name,Email\nP9,Ann,a9@example.com\n' >"$work/nolast.csv"
before=$(queue_sql "SELECT (SELECT count(*) FROM files) || '/' || (SELECT count(*) FROM items)")
"$agent" preview "$work/preview.csv" --type patients -c "$work/dentsync.conf" >"$work/preview.out" 2>&1
check "preview chooses generic-patients with its score and a runner-up" \
    grep -q "^template:  generic-patients (score [0-9]*); runner-up dentrix-patients" "$work/preview.out"
check "preview counts valid and invalid rows" \
    grep -q "5 row(s) previewed (the whole file): 1 valid, 4 invalid" "$work/preview.out"
check "preview suggests the date order for a column read both ways (date_order = auto)" \
    grep -q "Date of Birth '25/12/1980' does not fit MM/DD/YYYY; 3 rows in this column only read as DD/MM/YYYY — set date_order = DMY" "$work/preview.out"
check "preview names an unknown status and the template to extend" \
    grep -q "Status 'Gone Fishing' is a value template generic-patients does not know" "$work/preview.out"
"$agent" preview "$work/nolast.csv" --template generic-patients -c "$work/dentsync.conf" >"$work/nolast.out" 2>&1
check "preview of a file without a required column names the field and its columns" \
    grep -q "required field has no column in the header (field last_name reads one of: 'last_name'" "$work/nolast.out"
"$agent" preview "$work/preview.csv" --type patients --json -c "$work/dentsync.conf" >"$work/preview.json" 2>&1
check "preview --json prints one JSON object per line" \
    python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$work/preview.json"
# --all over more keys than a first-size key set holds: 70,000 patients, then
# the last 100 of them again. Every repeated key is counted.
sh "$top/samples/generate-bench.sh" -t patients -n 70000 -o "$work/many.csv" >/dev/null 2>&1
python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8-sig")))
w = csv.writer(open(sys.argv[1], "a", newline="", encoding="utf-8"), lineterminator="\n")
w.writerows(rows[-100:])' "$work/many.csv"
"$agent" preview "$work/many.csv" --type patients --all -c "$work/dentsync.conf" >"$work/many.out" 2>&1
check "preview --all counts each repeated key past the first 65,536 keys" \
    grep -q "70100 row(s) previewed (the whole file): 70000 valid, 0 invalid, 100 duplicate" "$work/many.out"
check "preview wrote nothing to the queue" \
    test "$(queue_sql "SELECT (SELECT count(*) FROM files) || '/' || (SELECT count(*) FROM items)")" = "$before"

# --- 6. date_order = auto, in preview and in ingest --------------------------------
cat >"$work/dmy.csv" <<'EOF'
Patient ID,First Name,Last Name,Date of Birth,Email
E1,Ann,Dmyone,03/04/1980,e1@example.com
E2,Bob,Dmytwo,25/12/1975,e2@example.com
E3,Cid,Dmythree,01/02/1990,e3@example.com
EOF
"$agent" preview "$work/dmy.csv" --type patients -c "$work/dentsync.conf" >"$work/dmy.out" 2>&1
check "preview reads a column that only fits DD/MM/YYYY as DMY (auto): every row valid" \
    grep -q "3 row(s) previewed (the whole file): 3 valid, 0 invalid" "$work/dmy.out"
sed 's/^\[practice main\]$/[practice main]\ndate_order = MDY/' "$work/dentsync.conf" >"$work/mdy.conf"
"$agent" preview "$work/dmy.csv" --type patients -c "$work/mdy.conf" >"$work/mdy.out" 2>&1
check "under date_order = MDY the same file gets the suggestion" \
    grep -q "Date of Birth '25/12/1975' does not fit MM/DD/YYYY; 1 rows in this column only read as DD/MM/YYYY — set date_order = DMY" "$work/mdy.out"
"$agent" run -c "$work/dentsync.conf" >>"$work/agent.log" 2>&1 &
agent_pid=$!
cp "$work/dmy.csv" "$work/auto/dmy.csv"
check "ingest reads it as DMY too: 1980-04-03, 1975-12-25 and 1990-02-01 in PostgreSQL" \
    wait_for 60 "SELECT string_agg(date_of_birth::text, ',' ORDER BY external_id) FROM patients
                 WHERE $in_practice AND external_id LIKE 'E_'" "1980-04-03,1975-12-25,1990-02-01"
kill -TERM "$agent_pid" 2>/dev/null
wait "$agent_pid"
agent_pid=

# --- 7. a fresh state directory, before the first pull from the cloud ---------------
# The practice's saved templates are pulled from the cloud into state_dir;
# until the first pull that directory does not exist, which is normal: no
# warning. One that exists but cannot be read (a file in its place) is.
fresh=$work/fresh
mkdir -p "$fresh/state" "$fresh/auto" "$fresh/inbox"
sed -e "s|^state_dir = .*|state_dir = $fresh/state|" -e "s|^url = .*|url = http://127.0.0.1:9|" \
    -e "s|^path = $work/auto\$|path = $fresh/auto|" -e "s|^path = $work/inbox\$|path = $fresh/inbox|" \
    "$work/dentsync.conf" >"$fresh/dentsync.conf"
"$agent" run -c "$fresh/dentsync.conf" >>"$fresh/agent.log" 2>&1 &
agent_pid=$!
cp "$work/auto/odd.csv" "$fresh/auto/odd.csv"
check "a fresh state_dir, the cloud not reached: a file for template = auto is read (held, NO_TEMPLATE)" \
    wait_queue "$fresh" 30 "SELECT state || ',' || reason_code FROM files" "held,NO_TEMPLATE"
check "… with no warning about the practice's saved templates not pulled yet" \
    sh -c "! grep -q TEMPLATE_DIR_UNREADABLE '$fresh/agent.log'"
rm -rf "$fresh/state/cloud-templates"
mkdir -p "$fresh/state/cloud-templates"
touch "$fresh/state/cloud-templates/main"
"$agent" retry -c "$fresh/dentsync.conf" "$fresh/auto/odd.csv" >/dev/null 2>&1
check "… but a saved-templates directory that cannot be read is warned about" \
    wait_until 30 grep -q 'TEMPLATE_DIR_UNREADABLE .*cloud-templates/main' "$fresh/agent.log"
kill -TERM "$agent_pid" 2>/dev/null
wait "$agent_pid"
agent_pid=

e2e_summary
