#!/bin/bash
# hostile.sh — every file of tests/data/hostile (binary, NUL bytes, an
# unbalanced quote, invalid UTF-8, empty, header only, a zip bomb shaped like
# a workbook, …) plus two made here (a 70 KB field, a 3 MB line) dropped
# into a running agent: each ends quarantined or held with a reason, or
# settled with each of its rows in a final state (the two made here: one
# invalid row each, with the code of the cap it broke); the agent keeps running;
# the good file dropped after them is delivered, every row once. Then the
# happy path again with the agent under valgrind's memcheck.
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work hostile

e2e_pg
e2e_cloud
agent=$BUILD/dentsync
e2e_practice "e2e-hostile-$$"

mkdir -p "$work/inbox" "$work/state" "$work/drop"
cat >"$work/dentsync.conf" <<EOF
[agent]
state_dir = $work/state
log_level = info
settle_seconds = 0.2
rescan_seconds = 0.3

[cloud]
url = $CLOUD_URL
batch_rows = 50
timeout_seconds = 5
retry_min_seconds = 0.2
retry_max_seconds = 1
heartbeat_seconds = 0

[practice main]
token_file = $work/token

[folder inbox]
path = $work/inbox
practice = main
import_type = patients
template = auto
EOF

queue_sql() { sqlite3 -readonly "$work/state/queue.db" "$1" 2>/dev/null; }

# The corpus, and two files too big to commit.
cp "$top"/tests/data/hostile/* "$work/drop/"
{
    echo 'Patient ID,First Name,Last Name,Date of Birth,Email'
    printf 'H-1,%s,Smith,1970-01-02,a@example.com\n' "$(head -c 70000 /dev/zero | tr '\0' a)"
} >"$work/drop/huge-field.csv"
{
    echo 'Patient ID,First Name,Last Name,Date of Birth,Email'
    printf 'H-1,Ann,%s\n' "$(head -c 3000000 /dev/zero | tr '\0' ',')"
} >"$work/drop/huge-line.csv"
names=$(ls "$work/drop")
count=$(ls "$work/drop" | wc -l)

"$agent" run -c "$work/dentsync.conf" >>"$work/agent.log" 2>&1 &
agent_pid=$!
for f in $names; do
    mv "$work/drop/$f" "$work/inbox/$f"
done

# A file is settled when the queue holds it in a state that needs nothing
# more from the agent: quarantined or held (with a reason), done, duplicate.
settled_sql="SELECT count(*) FROM files WHERE state IN ('quarantined', 'held', 'done', 'duplicate')"
files_settled() { [ "$(queue_sql "$settled_sql")" -ge "$count" ]; }
check "all $count hostile files reach a settled state" wait_until 60 files_settled

for f in $names; do
    row=$(queue_sql "SELECT state || '|' || coalesce(reason_code, '') || '|' || coalesce(reason, '')
                     FROM files WHERE path LIKE '%/$f' ORDER BY id DESC LIMIT 1")
    if [ -z "$row" ]; then
        # Never taken at all: only an empty file may be left alone.
        check "$f: not taken (an empty file)" test ! -s "$top/tests/data/hostile/$f"
        continue
    fi
    state=${row%%|*}
    rest=${row#*|}
    code=${rest%%|*}
    case $state in
    quarantined | held)
        check "$f: $state with a reason ($code: ${rest#*|})" test -n "$code" -a -n "${rest#*|}"
        ;;
    done | duplicate)
        # Taken: then every one of its rows has a final status with its reason.
        bad=$(queue_sql "SELECT count(*) FROM items i JOIN jobs j ON j.id = i.job_id
                         JOIN files f ON f.id = j.file_id
                         WHERE f.path LIKE '%/$f' AND (i.status IN ('valid', 'sent')
                         OR (i.status IN ('invalid', 'rejected') AND i.error_code IS NULL))")
        check "$f: $state, each row final with its reason" test "$bad" = 0
        ;;
    *)
        not_ok "$f: left $state"
        ;;
    esac
done

# A row over a cap is one invalid row with the cap's code, not a lost file.
cap_row() { # cap_row FILE: row|status|error_code of its one item
    queue_sql "SELECT group_concat(i.row || '|' || i.status || '|' || coalesce(i.error_code, ''))
               FROM items i JOIN jobs j ON j.id = i.job_id JOIN files f ON f.id = j.file_id
               WHERE f.path LIKE '%/$1'"
}
check "huge-field.csv: its row is invalid with FIELD_TOO_LONG ($(cap_row huge-field.csv))" \
    test "$(cap_row huge-field.csv)" = "1|invalid|FIELD_TOO_LONG"
check "huge-line.csv: its row is invalid with TOO_MANY_COLUMNS ($(cap_row huge-line.csv))" \
    test "$(cap_row huge-line.csv)" = "1|invalid|TOO_MANY_COLUMNS"
cap_job=$(queue_sql "SELECT j.id FROM jobs j JOIN files f ON f.id = j.file_id
                     WHERE f.path LIKE '%/huge-field.csv'")
"$agent" errors -c "$work/dentsync.conf" "$cap_job" --csv "$work/cap-errors.csv" >/dev/null 2>&1
check "huge-field.csv: the errors CSV keeps the header's columns, the field over the cap empty" \
    test "$(tr -d '\r' <"$work/cap-errors.csv")" = "$(printf '%s\n%s' \
        'Patient ID,First Name,Last Name,Date of Birth,Email,dentsync_row,dentsync_status,dentsync_error_code,dentsync_error,dentsync_suggestion' \
        'H-1,,,,,1,invalid,FIELD_TOO_LONG,First Name: FIELD_TOO_LONG: field 2 is longer than the limit of 65536 bytes,"the row is over a reader limit and stays out: often a wrong quote or delimiter, or a long note (docs/formats.md)"')"

check "the agent is still running" kill -0 "$agent_pid"

awk 'BEGIN {
    print "Patient ID,First Name,Last Name,Date of Birth,Email";
    for (i = 1; i <= 25; i++)
        printf "GOOD-%04d,Goodfirst%d,Goodlast%d,1980-01-%02d,good%d@example.com\n", i, i, i, i % 28 + 1, i;
}' >"$work/good.csv"
mv "$work/good.csv" "$work/inbox/good.csv"
good_done() {
    [ "$(pg_psql "SELECT count(*) FROM import_jobs WHERE practice_id = '$practice_id'
                  AND filename = 'good.csv' AND status = 'completed'")" = 1 ]
}
check "the good file after them is delivered" wait_until 30 good_done
got=$(pg_psql "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients
               WHERE practice_id = '$practice_id' AND external_id LIKE 'GOOD-%'")
check "every good row once ($got of 25)" test "$got" = "25/25"
check "nothing of the hostile files reached the cloud as a patient" \
    test "$(pg_psql "SELECT count(*) FROM patients WHERE practice_id = '$practice_id'
                     AND external_id NOT LIKE 'GOOD-%'")" -le 2
kill -TERM "$agent_pid"
wait "$agent_pid"
st=$?
agent_pid=
check "the agent stops cleanly afterwards (status $st)" test "$st" = 0

# --- valgrind: the happy path under memcheck ------------------------------------------------
# A fresh agent under valgrind delivers a good file through a cloud server
# under valgrind too, and both stop on SIGTERM: no memory error, nothing
# definitely lost (--error-exitcode), in either.
if command -v valgrind >/dev/null 2>&1; then
    vg=$work/vg
    mkdir -p "$vg/inbox" "$vg/state"
    cloud_stop >/dev/null 2>&1
    CLOUD_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --log-file=$vg/cloud-valgrind.log" cloud_start "$BUILD" >/dev/null ||
        not_ok "valgrind: the cloud server under memcheck did not start"
    sed -e "s|$work/state|$vg/state|" -e "s|$work/inbox|$vg/inbox|" \
        -e "s|^url = .*|url = $CLOUD_URL|" "$work/dentsync.conf" >"$vg/dentsync.conf"
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --log-file="$vg/valgrind.log" \
        "$agent" run -c "$vg/dentsync.conf" >>"$vg/agent.log" 2>&1 &
    agent_pid=$!
    awk 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= 120; i++)
            printf "VG-%04d,Vgfirst%d,Vglast%d,1981-02-%02d,vg%d@example.com\n", i, i, i, i % 28 + 1, i;
    }' >"$vg/vg.csv"
    mv "$vg/vg.csv" "$vg/inbox/vg.csv"
    vg_done() {
        [ "$(pg_psql "SELECT count(*) FROM import_jobs WHERE practice_id = '$practice_id'
                      AND filename = 'vg.csv' AND status = 'completed'")" = 1 ]
    }
    check "valgrind: the agent under memcheck delivers a file" wait_until 120 vg_done
    kill -TERM "$agent_pid"
    wait "$agent_pid"
    st=$?
    agent_pid=
    check "valgrind: no memory error, nothing definitely lost (status $st)" test "$st" = 0
    [ "$st" = 0 ] || head -n 60 "$vg/valgrind.log"
    cloud_pid=${CLOUD_PID:-}
    if [ -n "$cloud_pid" ]; then
        # valgrind's tool is the process itself (memcheck-amd64-linux).
        check "valgrind: the cloud server runs under memcheck" \
            grep -q '^memcheck' "/proc/$cloud_pid/comm"
        kill -TERM "$cloud_pid"
        wait "$cloud_pid"
        st=$?
        unset CLOUD_PID
        check "valgrind: the cloud server served the whole path and stopped with no memory error, nothing definitely lost (status $st)" \
            test "$st" = 0
        [ "$st" = 0 ] || head -n 60 "$vg/cloud-valgrind.log"
    fi
else
    skip_required "valgrind: the happy path under memcheck (valgrind is not installed)"
fi

e2e_summary
