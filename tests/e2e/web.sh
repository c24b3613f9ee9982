#!/bin/bash
# web.sh — the local status page against a live agent, the real cloud and
# PostgreSQL. Run by tests/e2e/run.sh (which starts PostgreSQL); alone it
# starts its own.
#
#   1. the page listens on 127.0.0.1 only; a non-loopback listen without a
#      login secret is a configuration error;
#   2. with curl: nothing but the page's static files without a session;
#      a one-time link logs in once (HttpOnly, SameSite=Strict cookie);
#      the login secret logs in, a wrong one does not; a POST without the
#      CSRF token, with a wrong one or from another origin is refused; a
#      foreign Host is refused; oversized requests are refused; every
#      answer is no-store; the errors CSV holds the failed row;
#   3. in headless Chromium (tests/tools/web_browser.py): the link opens
#      the overview, a job reaches 100 %, its page shows its errors, a file
#      dropped on the page is previewed and imported after the confirm,
#      the page fits a phone, Sync now answers, a held file is retried; a
#      screenshot per step in $BUILD/test-output/web/;
#   4. the dropped file's rows are in PostgreSQL; no patient value reached
#      the agent's log.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work web
outdir=$BUILD/test-output/web
e2e_on_exit() {
    [ -n "${CLOUD_PID:-}" ] && kill -CONT "$CLOUD_PID" 2>/dev/null
}

e2e_pg
e2e_cloud
agent=$BUILD/dentsync
practice="e2e-web-$$"
umask 077
cloud_token "$practice" >"$work/token"
printf 'web-login-secret-%s\n' "$$" >"$work/secret"
umask 022
practice_id=$(pg_psql "SELECT id FROM practices WHERE name = '$practice'")
port=$(free_port)
base=http://127.0.0.1:$port
mkdir -p "$work/inbox" "$work/auto" "$work/state" "$outdir"
rm -f "$outdir"/*.png

cat >"$work/dentsync.conf" <<CONF
[agent]
state_dir = $work/state
log_level = debug
settle_seconds = 0.5
rescan_seconds = 0.5

[cloud]
url = $CLOUD_URL
batch_rows = 4
max_in_flight = 1
timeout_seconds = 5
retry_min_seconds = 0.2
retry_max_seconds = 1

[web]
port = $port
secret_file = $work/secret

[practice main]
token_file = $work/token

[folder inbox]
path = $work/inbox
practice = main
import_type = patients
template = generic-patients
include = *.csv

[folder auto]
path = $work/auto
practice = main
import_type = patients
template = auto
CONF

# Patients: $1 prefix, $2 rows; with $3 = bad, row 3 has a birth date that
# does not read (an invalid row).
make_csv() {
    awk -v p="$1" -v n="$2" -v bad="${3:-}" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++)
            printf "%s%04d,Webfirst%d,Weblast%d,%s,%s%d@example.com\n", p, i, i, i,
                (bad != "" && i == 3) ? "31/31/1999" : sprintf("1980-%02d-%02d", i % 12 + 1, i % 28 + 1),
                tolower(p), i;
    }'
}
poll=0.2
# curl with the options every check uses; -s, a 10 s bound.
c() { curl -s -m 10 "$@"; }
status_of() { c -o /dev/null -w '%{http_code}' "$@"; }

# --- 1. binding --------------------------------------------------------------
sed 's/^secret_file = .*//; s/^port = .*/port = 8765\nlisten = 0.0.0.0/' "$work/dentsync.conf" >"$work/open.conf"
"$agent" check-config -c "$work/open.conf" >"$work/open.out" 2>&1
check "listen on a non-loopback address without secret_file is a configuration error" \
    sh -c "test $? -eq 3 && grep -q 'not loopback: set secret_file' '$work/open.out'"

"$agent" run -c "$work/dentsync.conf" >"$work/agent.log" 2>&1 &
agent_pid=$!
wait_until 10 sh -c "curl -s -o /dev/null '$base/'" ||
    { not_ok "the page did not come up"; cat "$work/agent.log"; }
check "the page listens on 127.0.0.1:$port only" \
    sh -c "ss -Htln 'sport = :$port' | awk '{print \$4}' | grep -qx '127.0.0.1:$port' && test \$(ss -Htln 'sport = :$port' | wc -l) -eq 1"

# --- 2. curl: the gate -------------------------------------------------------
check "the page's HTML is served without a session" test "$(status_of "$base/")" = 200
for path in /api/overview /api/jobs /api/files "/api/job?id=x" "/api/job/errors.csv?id=x" /api/session; do
    code=$(status_of "$base$path")
    check "GET $path without a session: $code (401)" test "$code" = 401
done
code=$(status_of -X POST "$base/api/sync-now")
check "POST /api/sync-now without a session: $code (401)" test "$code" = 401
code=$(status_of -X POST -H 'Content-Type: application/octet-stream' --data-binary 'x' "$base/api/preview?folder=inbox")
check "POST /api/preview without a session: $code (401)" test "$code" = 401
code=$(status_of -b "dentsync_session=$(printf '%064d' 0)" "$base/api/overview")
check "a made-up session cookie: $code (401)" test "$code" = 401
code=$(status_of "$base/login?t=$(printf '%064d' 7)")
check "a made-up one-time link: $code (403)" test "$code" = 403

link=$("$agent" web-url -c "$work/dentsync.conf")
check "dentsync web-url prints a one-time link to 127.0.0.1:$port" \
    sh -c "echo '$link' | grep -qE '^http://127\\.0\\.0\\.1:$port/login\\?t=[0-9a-f]{64}\$'"
secrets="${link##*t=}"
c -D "$work/login.h" -o /dev/null -c "$work/jar" "$link"
check "the link answers 303 to / with a session cookie" \
    sh -c "head -n 1 '$work/login.h' | grep -q ' 303' && grep -qi '^Location: /' '$work/login.h'"
check "the session cookie is HttpOnly and SameSite=Strict" \
    grep -qiE '^Set-Cookie: dentsync_session=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict' "$work/login.h"
code=$(status_of "$link")
check "the same link a second time: $code (403)" test "$code" = 403

c -D "$work/ov.h" -o "$work/ov.json" -b "$work/jar" "$base/api/overview"
check "with the session the overview answers 200" sh -c "head -n 1 '$work/ov.h' | grep -q ' 200'"
check "the overview names the folder" grep -q '"name":"inbox"' "$work/ov.json"
check "every answer is Cache-Control: no-store (overview)" grep -qi '^Cache-Control: no-store' "$work/ov.h"
csrf=$(c -b "$work/jar" "$base/api/session" | sed -n 's/.*"csrf":"\([0-9a-f]*\)".*/\1/p')
check "the session has a 64-hex-digit CSRF token" test "${#csrf}" -eq 64
secrets="$secrets|$csrf|$(awk '$6 == "dentsync_session" { print $7 }' "$work/jar")"

code=$(status_of -b "$work/jar" -X POST "$base/api/sync-now")
check "POST without a CSRF token: $code (403)" test "$code" = 403
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $(printf '%064d' 1)" "$base/api/sync-now")
check "POST with a wrong CSRF token: $code (403)" test "$code" = 403
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Origin: http://evil.example' "$base/api/sync-now")
check "POST with the token but from another origin: $code (403)" test "$code" = 403
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" "$base/api/sync-now")
check "POST with the session's CSRF token: $code (200)" test "$code" = 200
code=$(status_of -b "$work/jar" -H "Host: evil.example:$port" "$base/api/overview")
check "a foreign Host header (DNS rebinding): $code (403)" test "$code" = 403
head -c 70000 /dev/zero | tr '\0' a >"$work/big.body"
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" --data-binary @"$work/big.body" "$base/api/retry-file")
check "a POST body over 64 KiB: $code (413)" test "$code" = 413
code=$(status_of -b "$work/jar" -H "X-Long: $(head -c 20000 /dev/zero | tr '\0' a)" "$base/api/overview")
check "a request head over 16 KiB: $code (431)" test "$code" = 431
code=$(status_of -X POST --data 'secret=wrong-secret' "$base/login")
check "the login form with a wrong secret: $code (403)" test "$code" = 403
code=$(status_of -X POST --data 'secret=another-guess' "$base/login")
check "another guess at once: $code (429, one guess a second)" test "$code" = 429
sleep 1.1
c -D "$work/secret.h" -o /dev/null -c "$work/jar2" -X POST --data-urlencode "secret=$(cat "$work/secret")" "$base/login"
check "the login form with the configured secret opens a session" \
    sh -c "head -n 1 '$work/secret.h' | grep -q ' 200' && test \"\$(curl -s -o /dev/null -w '%{http_code}' -b '$work/jar2' '$base/api/overview')\" = 200"

# --- 3. the browser ----------------------------------------------------------
# A first export with one bad row, for the browser to watch: the cloud is
# held back (SIGSTOP) so its job waits short of 100 % until the browser,
# having seen it so, lets the cloud go on.
kill -STOP "$CLOUD_PID"
make_csv J 10 bad >"$work/first.tmp"
mv "$work/first.tmp" "$work/inbox/first.csv"
wait_until 30 sh -c "curl -s -b '$work/jar' '$base/api/jobs' | grep -q '\"state\":\"uploading\"'" ||
    not_ok "the first export's job did not start"
# A file no template knows: held (NO_TEMPLATE), for the Retry button.
printf 'Visit No,When,Mood,Email\n1,2024-01-01,fine,odd@example.com\n' >"$work/auto/odd.csv"
wait_until 30 sh -c "curl -s -b '$work/jar' '$base/api/files' | grep -q '\"reason_code\":\"NO_TEMPLATE\"'" ||
    not_ok "the file no template knows was not held"
make_csv W 9 >"$work/dropped-patients.csv"
link=$("$agent" web-url -c "$work/dentsync.conf")
secrets="$secrets|${link##*t=}"
if [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
    timeout 300 /usr/bin/python3 "$top/tests/tools/web_browser.py" "$link" \
        "$work/dropped-patients.csv" inbox "$outdir" "kill -CONT $CLOUD_PID" \
        >"$work/browser.out" 2>&1
    sed 's/^\([0-9]* passed, [0-9]* failed\)$/# browser: \1/' "$work/browser.out"
    passed=$((passed + $(grep -c '^ok - ' "$work/browser.out")))
    failed=$((failed + $(grep -c '^not ok - ' "$work/browser.out")))
    grep -q '^[0-9]* passed, 0 failed$' "$work/browser.out" || not_ok "the browser test did not finish cleanly"
else
    not_ok "chromium-driver or python3-selenium is missing (installer/deps.sh installs them)"
fi
kill -CONT "$CLOUD_PID" 2>/dev/null
shots=$(ls "$outdir"/*.png 2>/dev/null | wc -l)
check "a screenshot per browser step in $outdir ($shots)" test "$shots" -ge 10
check "the page's Retry reached the queue (the held file was retried)" \
    test "$(sqlite3 -readonly "$work/state/queue.db" "SELECT admin_retries FROM files WHERE path LIKE '%/odd.csv' ORDER BY id DESC LIMIT 1")" -ge 1

# The first export's job, from curl: its errors CSV and error groups.
wait_until 60 sh -c "curl -s -b '$work/jar' '$base/api/jobs' | grep -q '\"filename\":\"first.csv\",\"state\":\"completed'"
job=$(c -b "$work/jar" "$base/api/jobs" | grep -o '"id":"[0-9a-f-]\{36\}","folder":"inbox","practice":"main","import_type":"patients","template":"generic-patients","filename":"first.csv"' | cut -d'"' -f4)
c -D "$work/csv.h" -o "$work/errors.csv" -b "$work/jar" "$base/api/job/errors.csv?id=$job"
check "the errors CSV is no-store and an attachment" \
    sh -c "grep -qi '^Cache-Control: no-store' '$work/csv.h' && grep -qi '^Content-Disposition: attachment' '$work/csv.h'"
check "the errors CSV holds the failed row with its original columns" \
    sh -c "grep -q '^J0003,Webfirst3,Weblast3,31/31/1999,' '$work/errors.csv' && test \$(wc -l <'$work/errors.csv') -eq 2"
c -D "$work/job.h" -o "$work/job.json" -b "$work/jar" "$base/api/job?id=$job"
check "the job answer groups the failed row with a suggestion" \
    sh -c "grep -q '\"status\":\"invalid\"' '$work/job.json' && grep -q 'date_order' '$work/job.json'"

# --- 4. PostgreSQL and the log -----------------------------------------------
wait_until 60 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'W%'\")\" -eq 9"
check "the 9 rows of the file dropped on the page are in PostgreSQL" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'W%'")" -eq 9
check "the first export's 9 valid rows are in PostgreSQL too" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'J%'")" -eq 9
check "the imported copy in the folder is 0600" \
    test "$(stat -c %a "$work/inbox/dropped-patients.csv" 2>/dev/null)" = 600
check "no dropped file is left in the state directory" \
    test -z "$(ls -A "$work/state/web-uploads" 2>/dev/null)"
check "no patient value and no token in the agent's log" \
    sh -c "! grep -qE 'Webfirst|Weblast|@example.com|31/31/1999|$(cat "$work/token")|$(cat "$work/secret")' '$work/agent.log'"
check "no login link, session or CSRF token in the agent's log" \
    sh -c "! grep -qE '$secrets' '$work/agent.log'"

kill -TERM "$agent_pid"
wait "$agent_pid" 2>/dev/null
agent_rc=$?
agent_pid=
check "the agent stops cleanly with the page open (exit $agent_rc)" \
    sh -c "test $agent_rc -eq 0 && grep -q 'dentsync stopped' '$work/agent.log'"
check "no sanitizer report in the agent's log (an ASan build runs clean)" \
    sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$work/agent.log'"

e2e_summary
