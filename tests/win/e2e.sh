#!/bin/bash
# e2e.sh — dentsync.exe end to end under wine: the Windows agent watches
# folders (Windows paths, through wine's Z: drive), reads, maps and uploads
# to the Linux dentsync-cloud on 127.0.0.1, and the rows are checked in
# PostgreSQL. Run by tests/win/test.sh (`make windows-test`) in its wine
# prefix and session; run alone it makes a prefix of its own (a minute).
# Needs the Linux build (dentsync-cloud: $BUILD) and dentsync.exe ($WIN_BUILD).
#
#   1. a CSV (samples/patients.csv), an XLSX (samples/pms/multi-sheet.xlsx:
#      its Patients sheet) and an XLS (tests/fuzz/corpus/read_xls/patients.xls,
#      read by the `__read-xls` child process) arrive in PostgreSQL field by
#      field, each job completed, and the log names no patient;
#   2. kill -9 of the Windows process in the middle of a many-batch upload,
#      then a new start: every row arrives exactly once (rows, distinct
#      external ids, items, batches), and the queue ends with nothing
#      unfinished;
#   3. an export held open by its writer (tests/win/slowwrite.exe: share
#      mode without FILE_SHARE_READ, half written, waiting) is not taken
#      while held — no job, no row, at most one warning — and once let go
#      arrives whole, once. When wine does not enforce another process's
#      share mode (checked first), that part is a skip saying so;
#   4. dentsync.exe as the service under wine's service manager: install,
#      start, a file delivered, stop (exit code 0, nothing unfinished in
#      the queue), uninstall.
#
# The queue is read with Linux's sqlite3 only once the agent is gone: wine's
# file locks are not fcntl locks, so a Linux reader beside the running agent
# would not see them. While it runs, the checks ask PostgreSQL.
#
# Prints `ok - …` / `not ok - …` / `skip - …` and ends with
# `N passed, N failed[, N skipped]`.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"
cd "$top" || exit 1
e2e_work wine-e2e
start=$(date +%s)

WIN_BUILD=${WIN_BUILD:-build-win}
case $WIN_BUILD in /*) ;; *) WIN_BUILD=$top/$WIN_BUILD ;; esac
exe=$WIN_BUILD/dentsync.exe
[ -x "$BUILD/dentsync-cloud" ] || bail "no Linux build of the cloud ($BUILD/dentsync-cloud: make)"
[ -f "$exe" ] || bail "no $exe (make windows)"
slowwrite=$WIN_BUILD/win/slowwrite.exe
make --no-print-directory DEPS=0 WIN=1 BUILD="$WIN_BUILD" WIN_CACHE="${WIN_CACHE:-/var/cache/dentsync-win}" \
    "$slowwrite" >"$work/slowwrite.build" 2>&1 || bail "slowwrite.exe builds: $(tail -n 3 "$work/slowwrite.build")"

export WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
own_prefix=0
if [ -z "${WINEPREFIX:-}" ]; then
    export WINEPREFIX=$work/wine
    own_prefix=1
    wineboot -i >"$work/wineboot.log" 2>&1 || bail "wine could not make its prefix"
    wineserver -w
fi
e2e_on_exit() {
    [ "$own_prefix" = 1 ] && wineserver -k >/dev/null 2>&1
}

# A path of this machine as the agent sees it: on wine's Z: drive.
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }

e2e_pg
e2e_practice_migrated "win-csv-$$"
mv "$work/token" "$work/token.csv"
e2e_cloud
csv_practice=$practice_id
for p in xlsx xls big held; do
    e2e_practice "win-$p-$$"
    mv "$work/token" "$work/token.$p"
    eval "${p}_practice=\$practice_id"
done
chmod 600 "$work"/token.*

# The XLS fixture names its patient in one column: a template of the
# admin's own (template_dir) maps it.
mkdir -p "$work/templates" "$work/state"
cat >"$work/templates/xls-patients.json" <<'EOF'
{
  "id": "xls-patients",
  "name": "Patients workbook (XLS)",
  "import_type": "patients",
  "recognition": {"required": ["Patient ID", "Name"], "optional": ["DOB", "Note"]},
  "fields": {
    "external_id": {"columns": ["Patient ID"], "transform": "text"},
    "first_name": {"columns": ["Name"], "transform": "text", "required": true},
    "last_name": {"columns": ["Surname"], "transform": "text", "default": "Workbook"},
    "date_of_birth": {"columns": ["DOB"], "transform": "date"},
    "notes": {"columns": ["Note"], "transform": "text"}
  }
}
EOF
conf=$work/dentsync.conf
{
    cat <<EOF
[agent]
state_dir = $(winpath "$work/state")
template_dir = $(winpath "$work/templates")
log_level = debug
settle_seconds = 0.2
rescan_seconds = 0.5

[web]
port = $(free_port)

[cloud]
url = $CLOUD_URL
batch_rows = 25
max_in_flight = 1
timeout_seconds = 5
retry_min_seconds = 0.1
retry_max_seconds = 0.5
EOF
    for p in csv xlsx xls big held; do
        mkdir -p "$work/in-$p"
        # The workbook's folder detects its template, and so its sheet:
        # the first a template of the folder's type matches (its cover
        # sheet matches none).
        tpl=generic-patients
        [ "$p" = xls ] && tpl=xls-patients
        [ "$p" = xlsx ] && tpl=auto
        cat <<EOF

[practice $p]
token_file = $(winpath "$work/token.$p")

[folder $p]
path = $(winpath "$work/in-$p")
practice = $p
import_type = patients
template = $tpl
EOF
    done
} >"$conf"
conf_w=$(winpath "$conf")

start_agent() {
    wine "$exe" run -c "$conf_w" >>"$work/agent.log" 2>&1 &
    agent_pid=$!
}
# drop SRC FOLDER NAME: the file appears whole, as a rename into the folder.
drop() {
    cp "$1" "$work/in-$2/.$3.tmp" && mv "$work/in-$2/.$3.tmp" "$work/in-$2/$3"
}
job_done_sql() { # job_done_sql PRACTICE_ID FILENAME
    echo "SELECT count(*) FROM import_jobs WHERE practice_id = '$1' AND filename = '$2' AND status = 'completed'"
}
patients_of() { pq "$(patients_tsv_sql "practice_id = '$1'")" | LC_ALL=C sort; }
# same DESC EXPECTED-FILE PRACTICE_ID
same() {
    patients_of "$3" >"$work/actual"
    if diff -u "$2" "$work/actual" >"$work/diff"; then
        ok "$1"
    else
        not_ok "$1"
        sed 's/^/# /' "$work/diff" | head -40
    fi
}

out=$(wine "$exe" check-config -c "$conf_w" 2>&1 | tr -d '\r')
check "dentsync.exe check-config accepts Windows paths and the loopback http url ($out)" \
    grep -q 'OK (5 practice(s), 5 folder(s))' <<<"$out"
doc=$(wine "$exe" doctor -c "$conf_w" 2>&1 | tr -d '\r')
check "dentsync.exe doctor judges the token files by their permissions, not by mode bits" \
    eval '[ "$(grep -c "^OK .*token_file .*readable by this user only" <<<"$doc")" -eq 5 ] &&
          ! grep -q "^FAIL .*token_file" <<<"$doc"'
t0=$(date +%s)
start_agent

# --- 1. a CSV, an XLSX and an XLS, field by field ---------------------------------
drop samples/patients.csv csv patients.csv
drop samples/pms/multi-sheet.xlsx xlsx multi-sheet.xlsx
drop tests/fuzz/corpus/read_xls/patients.xls xls patients.xls
check "CSV: its job completes in the cloud" wait_for 60 "$(job_done_sql "$csv_practice" patients.csv)" 1
check "XLSX: its job completes in the cloud" wait_for 30 "$(job_done_sql "$xlsx_practice" multi-sheet.xlsx)" 1
check "XLS (through the __read-xls child): its job completes in the cloud" \
    wait_for 30 "$(job_done_sql "$xls_practice" patients.xls)" 1
echo "# three files delivered $(($(date +%s) - t0)) s after the agent's start"
same "CSV: the patients in PostgreSQL equal the sample's, field by field" \
    tests/e2e/expected/patients.tsv "$csv_practice"
# The Patients sheet: an external id, names, a date of birth from a date
# cell and a phone; the cover sheet before it is skipped.
cat >"$work/xlsx.expected" <<'EOF'
3001|Ines|Varga|||1950-01-03||ines.varga31@example.com||||||||||||||
3002|Tomas|Lindqvist|||1959-04-08|||+16175550131|||||||||||||
3003|Keiko|Abe|||1968-07-13||keiko.abe33@example.org||||||||||||||
3004|Samuel|Mensah|||1977-10-18|||+14155550134|||||||||||||
EOF
same "XLSX: the Patients sheet in PostgreSQL, field by field" "$work/xlsx.expected" "$xlsx_practice"
# UTF-8 from the workbook's strings, dates as ISO, empty cells absent.
cat >"$work/xls.expected" <<'EOF'
1001|Zoë Ångström|Workbook|||1931-07-04||||||||||||||||a, b
1002|Bob|Workbook|||||||||||||||||||
1003|Ann|Workbook|||2001-12-31||||||||||||||||x
EOF
same "XLS: the workbook's rows in PostgreSQL, field by field" "$work/xls.expected" "$xls_practice"
check "every item of the three jobs is 'created' exactly once" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT (j.id, i.row_number)) || '/' || count(*) FILTER (WHERE i.status = 'created')
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
              WHERE j.practice_id IN ('$csv_practice', '$xlsx_practice', '$xls_practice')")" = "37/37/37"

# --- 1b. the other commands, against the running agent --------------------------------
# Each as a person at the practice PC would use it: the control pipe to the
# running agent, the queue read beside it, Windows paths. Output is checked
# for what each command is for, never for a patient's value.
ws_n=0
ws() { # ws ARGS...: dentsync.exe's output in $out (\r taken off, kept as ws.N), its status in $ws_rc
    ws_n=$((ws_n + 1))
    wine "$exe" "$@" >"$work/ws.$ws_n" 2>&1
    ws_rc=$?
    out=$(tr -d '\r' <"$work/ws.$ws_n")
}
ws status -c "$conf_w"
check "status: exit 0, the agent running, the csv practice listed" \
    eval '[ "$ws_rc" = 0 ] && grep -q "^agent: *running" <<<"$out" && ! grep -q "NOT RUNNING" <<<"$out" &&
          grep -q "csv" <<<"$out"'
ws status --json -c "$conf_w"
check "status --json: exit 0, JSON naming the agent running" \
    eval '[ "$ws_rc" = 0 ] && python3 -c "import json,sys; d = json.load(sys.stdin); sys.exit(0 if d.get(\"agent\") else 1)" <<<"$out"'
ws jobs --json -c "$conf_w"
job_id=$(python3 -c 'import json,sys
jobs = [json.loads(l) for l in sys.stdin if l.strip()]
print(next(j["id"] for j in jobs if j.get("filename") == "patients.csv"))' <<<"$out" 2>/dev/null)
check "jobs --json: exit 0, one JSON line a job, the CSV's listed" test "$ws_rc" = 0 -a -n "$job_id"
ws jobs -c "$conf_w"
check "jobs: exit 0, the three files' jobs" \
    eval '[ "$ws_rc" = 0 ] && grep -q patients.csv <<<"$out" && grep -q multi-sheet.xlsx <<<"$out" &&
          grep -q patients.xls <<<"$out"'
ws job -c "$conf_w" "$job_id"
check "job ID: exit 0, the job's file and state" \
    eval '[ "$ws_rc" = 0 ] && grep -q patients.csv <<<"$out" && grep -qi "completed\|uploaded\|done" <<<"$out"'
ws events -c "$conf_w"
check "events: exit 0, the audit trail has entries" \
    eval '[ "$ws_rc" = 0 ] && [ "$(grep -c . <<<"$out")" -ge 3 ]'
ws sync-now -c "$conf_w"
check "sync-now: exit 0 through the control pipe ($out)" test "$ws_rc" = 0
ws reload -c "$conf_w"
check "reload: exit 0 through the control pipe ($out)" test "$ws_rc" = 0
sleep 0.5
ws web-url -c "$conf_w"
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/[^ ]*' <<<"$out" | head -n 1)
check "web-url: exit 0, a one-time loopback link" test "$ws_rc" = 0 -a -n "$url"
if [ -n "$url" ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
    check "web-url: the link answers the page's login (HTTP $code)" \
        eval '[ "$code" = 200 ] || [ "$code" = 302 ] || [ "$code" = 303 ]'
fi
ws templates list -c "$conf_w"
check "templates list: exit 0, the built-in and the admin's template" \
    eval '[ "$ws_rc" = 0 ] && grep -q generic-patients <<<"$out" && grep -q xls-patients <<<"$out"'
ws templates test -c "$conf_w" "$(winpath "$top/samples/patients.csv")"
check "templates test FILE: exit 0, names the template that reads it" \
    eval '[ "$ws_rc" = 0 ] && grep -q generic-patients <<<"$out"'
ws read "$(winpath "$top/samples/patients.csv")"
check "read FILE: exit 0, the dialect and the rows" \
    eval '[ "$ws_rc" = 0 ] && grep -qi "delimiter\|dialect" <<<"$out"'
ws preview -c "$conf_w" --folder csv "$(winpath "$top/samples/patients.csv")"
check "preview FILE: exit 0, rows mapped by the folder's template" \
    eval '[ "$ws_rc" = 0 ] && grep -q generic-patients <<<"$out"'
ws errors -c "$conf_w" "$job_id" --csv "$(winpath "$work/errors.csv")"
check "errors JOB --csv: exit 0, a CSV with its header only (the job has no failed row)" \
    eval '[ "$ws_rc" = 0 ] && [ "$(grep -c . "$work/errors.csv")" = 1 ] && grep -q dentsync_suggestion "$work/errors.csv"'

# --- 2. kill -9 in the middle of the upload, and a new start ---------------------------
big_rows=2500
awk -v n=$big_rows 'BEGIN {
    print "Patient ID,First Name,Last Name,Date of Birth,Email";
    for (i = 1; i <= n; i++)
        printf "K%05d,Killfirst%d,Killlast%d,1980-%02d-%02d,k%d@example.com\n", i, i, i, i % 12 + 1, i % 28 + 1, i;
}' >"$work/big.csv"
drop "$work/big.csv" big big.csv
big_job="j.practice_id = '$big_practice' AND j.filename = 'big.csv'"
batches_sql="SELECT count(*) FROM import_batches b JOIN import_jobs j ON j.id = b.job_id WHERE $big_job"
total_batches=$(((big_rows + 24) / 25))
wait_until 60 eval '[ "$(pq "$batches_sql")" -ge 5 ]'
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
at_kill=$(pq "$batches_sql")
check "the kill came in the middle of the upload ($at_kill of $total_batches batches stored)" \
    test "$at_kill" -ge 5 -a "$at_kill" -lt "$total_batches"
check "the Windows process is gone" eval '! kill -0 "$agent_pid" 2>/dev/null'
sleep 0.3
t1=$(date +%s)
start_agent
check "after a new start the job completes" \
    wait_for 120 "SELECT count(*) FROM import_jobs j WHERE $big_job AND status = 'completed'" 1
echo "# the rest delivered $(($(date +%s) - t1)) s after the new start"
check "every row arrived exactly once (rows/distinct external ids)" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients WHERE practice_id = '$big_practice'")" = "$big_rows/$big_rows"
check "every item exactly once, all created" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT row_number) || '/' || count(*) FILTER (WHERE i.status = 'created')
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id WHERE $big_job")" = "$big_rows/$big_rows/$big_rows"
check "every batch stored once ($total_batches)" test "$(pq "$batches_sql")" -eq "$total_batches"

# --- 3. an export its writer still holds -------------------------------------------------
# slowwrite.exe creates it with share mode FILE_SHARE_WRITE only (no
# FILE_SHARE_READ), writes the first half and waits for $work/go: until
# then every open for reading fails with a sharing violation, which the
# watcher takes as "not settled yet", quietly.
held_rows=200
awk -v n=$held_rows 'BEGIN {
    print "Patient ID,First Name,Last Name,Date of Birth";
    for (i = 1; i <= n; i++)
        printf "H%05d,Heldfirst%d,Heldlast%d,1990-01-%02d\n", i, i, i, i % 28 + 1;
}' >"$work/held.csv"
held_w=$(winpath "$work/in-held/held.csv")
: >"$work/slowwrite.out"
wine "$slowwrite" "$(winpath "$work/held.csv")" "$held_w" "$(winpath "$work/go")" >"$work/slowwrite.out" 2>&1 &
writer=$!
e2e_on_exit() {
    kill "$writer" 2>/dev/null
    [ "$own_prefix" = 1 ] && wineserver -k >/dev/null 2>&1
}
if ! wait_until 30 grep -q '^held' "$work/slowwrite.out"; then
    not_ok "slowwrite.exe holds the export: $(tr -d '\r' <"$work/slowwrite.out")"
else
    wine "$slowwrite" --try-read "$held_w" >"$work/try.out" 2>&1
    rc=$?
    try=$(tr -d '\r' <"$work/try.out")
    held_ok=0
    case $rc in
    0)
        ok "another process is refused the held export (sharing violation: $try)"
        held_ok=1
        ;;
    1)
        skip "the held export: wine let another process open it for reading despite the" \
            "writer's share mode, so what the agent does with a held file cannot be checked here"
        ;;
    *) not_ok "another process is refused the held export: $try (exit $rc)" ;;
    esac
    if [ "$held_ok" = 1 ]; then
        check "the agent sees the held export" wait_until 15 grep -q 'FILE_NEW.*held\.csv' "$work/agent.log"
        # Six rescans and more (rescan_seconds 0.5, settle_seconds 0.2).
        sleep 3
        check "while held: not settled (no FILE_SETTLED in the log)" \
            eval '! grep -q "FILE_SETTLED.*held\.csv" "$work/agent.log"'
        jobs=$(wine "$exe" jobs --json -c "$conf_w" 2>&1 | tr -d '\r')
        check "while held: no job in the queue (dentsync.exe jobs)" \
            eval '[ -n "$jobs" ] && ! grep -q "held\.csv" <<<"$jobs"'
        check "while held: no job and no row in the cloud" \
            test "$(pq "SELECT (SELECT count(*) FROM import_jobs WHERE practice_id = '$held_practice') || '/' ||
                      (SELECT count(*) FROM patients WHERE practice_id = '$held_practice')")" = 0/0
        warns=$(grep -c ' \(warn\|error\) .*held\.csv' "$work/agent.log")
        check "while held: no storm in the log ($warns warnings or errors about it, at most 1)" \
            test "$warns" -le 1
    fi
    touch "$work/go"
    check "the writer finishes and lets go" wait_until 30 grep -q '^released' "$work/slowwrite.out"
    if [ "$held_ok" = 1 ]; then
        check "once let go, its job completes" \
            wait_for 60 "$(job_done_sql "$held_practice" held.csv)" 1
        check "… with every row of the whole file, once (rows/distinct external ids)" \
            test "$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients WHERE practice_id = '$held_practice'")" = "$held_rows/$held_rows"
        check "… and one job for it, not one per half" \
            test "$(pq "SELECT count(*) FROM import_jobs WHERE practice_id = '$held_practice'")" = 1
    fi
fi
wait "$writer" 2>/dev/null

# --- the queue, once the agent is gone -----------------------------------------------------
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
agent_pid=
files_done=$((4 + ${held_ok:-0}))
check "the queue: $files_done files done, nothing unfinished" \
    test "$(queue_sql "SELECT count(*) FROM files WHERE state = 'done'")/$(queue_sql "$not_final_sql")" = "$files_done/0"
check "the agent's log names no patient" \
    eval '! grep -q "Okafor\|Haddad\|Ångström\|Killlast\|example\.com" "$work/agent.log"'

# --- 4. the agent as the service ---------------------------------------------------------
# dentsync.exe itself under wine's service manager: `service install`
# registers `"…\dentsync.exe" run --service -c CONF`, `service start` runs
# the daemon as the manager starts it, a file dropped meanwhile arrives,
# `service stop` ends it as SIGTERM does on Linux (nothing unfinished left
# in the queue), `service uninstall` removes it. Wine runs it as its one
# user, whatever account is registered (docs/windows.md).
ws service install -c "$conf_w"
reg=$(wine reg query 'HKLM\System\CurrentControlSet\Services\dentsync' 2>/dev/null | tr -d '\r')
check "dentsync.exe service install: registered to run itself with this configuration" \
    grep -qF "run --service -c \"$conf_w\"" <<<"$reg"
ws service start
if grep -q 'error 1359' <<<"$out"; then # wine's first start, now and then (tests/win/test.sh)
    echo "# service start: wine's service manager answered 1359; asking once more"
    sleep 2
    ws service start
fi
check "dentsync.exe service start: running ($out)" grep -q 'service running (pid' <<<"$out"
awk 'BEGIN {
    print "Patient ID,First Name,Last Name,Date of Birth";
    for (i = 1; i <= 40; i++)
        printf "S%05d,Svcfirst%d,Svclast%d,1970-02-%02d\n", i, i, i, i % 28 + 1;
}' >"$work/svc.csv"
drop "$work/svc.csv" csv svc.csv
check "a file dropped while the service runs completes in the cloud" \
    wait_for 60 "$(job_done_sql "$csv_practice" svc.csv)" 1
check "… every row once" \
    test "$(pq "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients WHERE practice_id = '$csv_practice' AND external_id LIKE 'S%'")" = 40/40
ws status -c "$conf_w"
check "status reaches the service's agent through the control pipe" \
    eval '[ "$ws_rc" = 0 ] && grep -q "^agent: *running" <<<"$out"'
t_stop=$(date +%s)
ws service stop
check "dentsync.exe service stop: stopped in $(($(date +%s) - t_stop)) s ($out)" \
    grep -q 'service stopped' <<<"$out"
ws service status
check "… and it ended with exit code 0, not as a failure ($out)" \
    eval 'grep -q "service stopped" <<<"$out" && ! grep -q "last exit code" <<<"$out"'
ws status -c "$conf_w"
check "… the agent is gone (status: NOT RUNNING)" grep -q 'NOT RUNNING' <<<"$out"
check "… the queue: $((files_done + 1)) files done, nothing unfinished" \
    test "$(queue_sql "SELECT count(*) FROM files WHERE state = 'done'")/$(queue_sql "$not_final_sql")" = "$((files_done + 1))/0"
ws service uninstall
check "dentsync.exe service uninstall: removed ($out)" grep -q 'service removed' <<<"$out"

echo "# the wine end-to-end suite took $(($(date +%s) - start)) s"
e2e_summary
