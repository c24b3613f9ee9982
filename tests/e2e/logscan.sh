#!/bin/bash
# logscan.sh — no patient value and no token in anything dentsync writes
# for a person or a machine other than the cloud API.
#
# One agent at log level debug goes through the happy path, rows that fail
# validation, every hostile file of tests/data/hostile, a file no template
# reads, and network faults (503 with Retry-After, a reset answer, a dropped
# connection, a stalled answer past the timeout, a 401 that pauses the
# practice until the token is accepted again), through tests/tools/faultproxy;
# then `import` runs alone on a file of its own. Every output is kept: the
# agent's stderr and log file (rotated ones too), the import's stdout and
# stderr, status / jobs / job / events (text and JSON), doctor,
# check-config, sync-now, retry, the quarantined files' .error.txt, the
# cloud's and the proxy's logs. Then every sample patient's name, birth
# date, phone and email — as exported and as normalized — every value of
# the invalid rows, and the token are searched in all of it: zero hits.
# A value planted in a copy must be found, so the scan cannot pass by
# searching nothing; and every log line must carry a level and an event
# code.
#
# (security.sh checks the token against the agent's argv, environment and
# queue; ops.sh and agent.sh scan their own happy-path outputs. This suite
# is the one that goes through failures at debug level.)
#
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work logscan
proxy_pid=
e2e_on_exit() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
}

poll=0.2

agent=$BUILD/dentsync
proxy=$BUILD/tests/tools/faultproxy
[ -x "$proxy" ] || bail "$proxy not built"
e2e_pg
e2e_cloud
e2e_practice "e2e-logscan-$$"
token=$(cat "$work/token")
[ -n "$token" ] || bail "the cloud gave no token"

# Everything a person or a monitor could read lands in $work/out.
out=$work/out
mkdir -p "$out" "$work/state" "$work/inbox" "$work/pinned" "$work/imports"

# The faults, in the order the requests meet them; then everything passes.
cat >"$work/script" <<'EOF'
PUT status 503 1
PUT reset 20
/complete drop
PUT stall_answer 3
PUT status 401
* pass
EOF
"$proxy" -u "127.0.0.1:$CLOUD_PORT" -s "$work/script" -o "$out/proxy.log" >"$work/proxy.out" 2>&1 &
proxy_pid=$!
wait_until 5 grep -q '^port ' "$work/proxy.out" || bail "the fault proxy did not start"
proxy_url=http://127.0.0.1:$(awk '/^port /{print $2}' "$work/proxy.out")

cat >"$work/dentsync.conf" <<EOF
[agent]
state_dir = $work/state
log_level = debug
log_file = $out/agent-file.log
log_max_kb = 64
log_keep = 5
settle_seconds = 0.2
rescan_seconds = 0.5

[cloud]
url = $proxy_url
batch_rows = 5
max_in_flight = 1
timeout_seconds = 2
retry_min_seconds = 0.1
retry_max_seconds = 0.5
pause_probe_seconds = 0.5
heartbeat_seconds = 1

[practice main]
token_file = $work/token

# template = auto: detection, and a file no template reads is held.
[folder patients]
path = $work/inbox
practice = main
import_type = patients
after = move

# A pinned template: a hostile file is quarantined with its .error.txt.
[folder pinned]
path = $work/pinned
practice = main
import_type = patients
template = generic-patients
EOF
conf=$work/dentsync.conf

# --- the inputs ----------------------------------------------------------------------
sample=$top/samples/patients.csv
# Rows that fail validation: their values are in the error path.
cat >"$work/invalid.csv" <<'EOF'
Patient ID,First Name,Last Name,Date of Birth,Email,Mobile Phone
L1,Quillonius,Barnwhistle,1980-13-45,quillonius.barnwhistle@example.org,555-01
L2,Ermintrude,Fazakerley,31/31/1999,not-an-email-fazakerley,617.555.0199
L3,Thaddeus,Oxenbridge,02/29/2023,thaddeus@@example.org,+1 (617) 555-01999
EOF
sh "$top/samples/generate.sh" -n 120 -o "$work/imports/import.csv"

"$agent" run -c "$conf" >"$out/agent.stdout" 2>"$out/agent.stderr" &
agent_pid=$!
wait_until 10 grep -q 'AGENT_STARTED' "$out/agent.stderr" || bail "the agent did not start"
cp "$sample" "$work/inbox/patients.csv"
cp "$work/invalid.csv" "$work/inbox/invalid.csv"
printf 'Account,Amount\n1,2\n' >"$work/inbox/not-patients.csv"
for f in "$top"/tests/data/hostile/*; do
    cp "$f" "$work/pinned/"
done

jobs_done() { # two jobs (the sample, the invalid rows), both completed
    [ "$("$agent" jobs -c "$conf" --json 2>/dev/null | grep -c '"state":"completed')" -ge 2 ]
}
check "the sample and the invalid rows are delivered through the faults" wait_until 120 jobs_done
settled() { # nothing waits but the held file; every hostile file decided
    "$agent" status -c "$conf" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert all(f["files_waiting"] == 0 and f["rows_pending"] == 0 for f in d["folders"])
assert not d["batches"]
' 2>/dev/null
}
check "every hostile file is decided, nothing is left waiting" wait_until 60 settled
check "every fault of the script was met" \
    sh -c "[ \$(grep -c ' status ' '$out/proxy.log') -eq 2 ] && grep -q ' reset ' '$out/proxy.log' && grep -q ' drop ' '$out/proxy.log' && grep -q ' stall_answer ' '$out/proxy.log'"
check "the agent paused the practice on the 401 and resumed" \
    sh -c "grep -q PRACTICE_PAUSED '$out/agent-file.log'* && grep -q PRACTICE_RESUMED '$out/agent-file.log'*"
check "the file no template reads is held; hostile files are quarantined with a reason" \
    sh -c "grep -q 'FILE_HELD' '$out/agent-file.log'* && [ \$(ls '$work/pinned/quarantine/'*.error.txt | wc -l) -ge 5 ]"

# --- every command a person runs -------------------------------------------------------
run_out() { # run_out NAME ARGS...: stdout and stderr of a command kept
    _n=$1
    shift
    "$agent" "$@" -c "$conf" >"$out/$_n.out" 2>"$out/$_n.err"
}
run_out status status
run_out status-json status --json
run_out jobs jobs
run_out jobs-json jobs --json
run_out events events --limit 100000
run_out events-json events --json --limit 100000
run_out sync-now sync-now
run_out retry-rejected retry --rejected
run_out retry-held retry "$work/inbox/not-patients.csv"
run_out check-config check-config
run_out doctor doctor
for id in $("$agent" jobs -c "$conf" --json | python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]'); do
    run_out "job-$id" job "$id"
    run_out "job-json-$id" job --json "$id"
done
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
run_out status-stopped status
# import, alone, through the proxy (which passes everything now).
"$agent" import -c "$conf" --folder pinned "$work/imports/import.csv" >"$out/import.out" 2>"$out/import.err"
check "import alone delivers its file" grep -qE '^import: job .* completed' "$out/import.out"
for f in "$work"/pinned/quarantine/*.error.txt "$work"/inbox/quarantine/*.error.txt; do
    [ -f "$f" ] && cp "$f" "$out/"
done
cp "$CLOUD_LOG" "$out/cloud.log"

# --- the values searched ---------------------------------------------------------------
python3 - "$sample" "$top/tests/e2e/expected/patients.tsv" "$work/invalid.csv" \
    "$work/imports/import.csv" >"$work/values" <<'EOF'
import csv, sys
want = {"first name", "last name", "middle name", "preferred name", "date of birth",
        "email", "mobile phone", "home phone", "work phone"}
seen = set()
def emit(v):
    v = v.strip()
    if len(v) >= 4 and v not in seen:
        seen.add(v)
        print(v)
for path in (sys.argv[1], sys.argv[3], sys.argv[4]):
    rows = list(csv.reader(open(path, encoding="utf-8-sig", newline="")))
    for r in rows[1:]:
        for h, v in zip(rows[0], r):
            if h.strip().lower() in want:
                emit(v)
# As normalized (what goes to the cloud): names, ISO birth date, email,
# E.164 phones (fields 2-6 and 8-11 of the expected records).
for line in open(sys.argv[2], encoding="utf-8"):
    f = line.rstrip("\n").split("|")
    for i in (1, 2, 3, 4, 5, 7, 8, 9, 10):
        if i < len(f):
            emit(f[i])
EOF
echo "$token" >>"$work/values"

scan() { # scan DIR: prints each value found in DIR, with where; the count last
    _hits=0
    while IFS= read -r value; do
        if grep -rqF -- "$value" "$1"; then
            _hits=$((_hits + 1))
            echo "# found: $(grep -rlF -- "$value" "$1" | sed "s|$1/||" | tr '\n' ' ')" >&2
        fi
    done <"$work/values"
    echo "$_hits"
}

nvalues=$(wc -l <"$work/values")
nfiles=$(find "$out" -type f | wc -l)
check "the scan has something to search: $nfiles files, debug lines, $nvalues values" \
    sh -c "[ $nfiles -ge 30 ] && [ $nvalues -ge 100 ] && grep -q ' debug ' '$out/agent-file.log'"
mkdir -p "$work/planted"
cp "$out/agent-file.log" "$work/planted/"
planted=$(sed -n '7p' "$work/values")
echo "2026-01-01T00:00:00.000Z info  FILE_SETTLED $planted" >>"$work/planted/agent-file.log"
check "a value planted in a copy of the log is found" test "$(scan "$work/planted" 2>/dev/null)" -eq 1
hits=$(scan "$out")
check "no patient value (of $nvalues) and no token in any of the $nfiles outputs" test "$hits" -eq 0

check "every log line carries a level and an event code" \
    sh -c "! cat '$out'/agent-file.log* '$out/agent.stderr' '$out/import.err' | grep -vqE '^[0-9T:.-]+Z (error|warn |info |debug) [A-Z][A-Z0-9_]+ '"

e2e_summary
