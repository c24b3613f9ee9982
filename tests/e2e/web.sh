#!/bin/bash
# web.sh — the local status page against a live agent, the real cloud and
# PostgreSQL. Run by tests/e2e/run.sh (which starts PostgreSQL); alone it
# starts its own.
#
#   1. the page listens on 127.0.0.1 only; a non-loopback listen is a
#      configuration error, login secret or not (the page has no TLS);
#   2. with curl: nothing but the page's static files without a session;
#      a one-time link logs in once (HttpOnly, SameSite=Strict cookie
#      named after the port); a request refused on its head (no session,
#      a read-only session's import) is answered before its body is sent
#      and the agent never holds that body; the login secret logs in, a
#      wrong one does not, and makes only its own client address wait; a
#      POST without the CSRF token, with a wrong one or from another origin
#      is refused; a foreign Host is refused; oversized requests are
#      refused; every answer is no-store; the errors CSV holds the failed
#      row;
#   3. in headless Chromium (tests/tools/web_browser.py): the link opens
#      the overview, a job reaches 100 %, its page shows its errors, a file
#      dropped on the page is previewed and imported after the confirm,
#      the page fits a phone, Sync now answers, a held file is retried; a
#      screenshot per step in $BUILD/test-output/web/;
#   3b. rights: the link a member of the dentsync group gets (a system user
#      made here) opens a read-only session: it views, syncs, but its
#      import, retry and preview answer 403 and nothing reaches the folder
#      or the queue; root's link imports;
#   3c. the mapping screen (tests/tools/web_mapping.py): a file no template
#      knows (tests/data/mapscreen-patients.csv) is held NO_TEMPLATE; the
#      browser maps its columns, sees the preview follow, saves; the template
#      is in template_dir and in the cloud's import_templates, and the rows
#      are in PostgreSQL field by field; the endpoints' gate and refusals
#      with curl;
#   3d. a file dropped on the Import page (tests/tools/web_import_map.py):
#      no template reads tests/data/importmap-patients.csv; the preview
#      offers "Map columns", the browser maps it on the same screen, saves;
#      the template is in template_dir and import_templates, the file was
#      imported into the folder and its rows are in PostgreSQL field by
#      field; the upload's gate and refusals with curl (another full
#      session may not use an upload it did not drop);
#   4. the dropped files' rows are in PostgreSQL; no patient value reached
#      the agent's log.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work web
outdir=$BUILD/test-output/web
grp=
e2e_on_exit() {
    [ -n "${CLOUD_PID:-}" ] && kill -CONT "$CLOUD_PID" 2>/dev/null
    if [ -n "$grp" ]; then
        userdel "$grp-in" 2>/dev/null
        groupdel "$grp" 2>/dev/null
    fi
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
mkdir -p "$work/inbox" "$work/auto" "$work/state" "$work/templates" "$outdir"
rm -f "$outdir"/*.png
# The state directory as the package makes it (0750, setgid, of the
# service's group), with a group made here and one member, as ops.sh does:
# the member reaches the control socket, as root does.
grp=dsweb$$
groupadd -r "$grp" && useradd -r -M -N -g nogroup -G "$grp" -s /usr/sbin/nologin "$grp-in" || grp=
chgrp "${grp:-root}" "$work/state"
chmod 2750 "$work/state"
chmod 711 "$work"
cp "$agent" "$work/dentsync-any"
chmod 755 "$work/dentsync-any"
cookie=dentsync_$port

cat >"$work/dentsync.conf" <<CONF
[agent]
state_dir = $work/state
template_dir = $work/templates
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
location = Main Street

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

# --- 0. a template drafted for an export no template knows --------------------
printf 'Client Ref,Given,Family,Born,Cell,Fav Colour\nC-1001,Draftfirst,Draftlast,25/12/1980,202-555-0143,blue\nC-1002,Drafttwo,Draftlast,03/06/1975,202-555-0178,green\n' \
    >"$work/clinic.csv"
"$agent" templates -c "$work/dentsync.conf" test "$work/clinic.csv" >"$work/clinic.test" 2>&1
check "no template reads the unknown software's export" test $? -eq 1
"$agent" templates -c "$work/dentsync.conf" new "$work/clinic.csv" -o "$work/templates/clinic-pms.json" \
    >"$work/clinic.new" 2>&1
check "templates new writes the draft 0644" \
    test "$(stat -c %a "$work/templates/clinic-pms.json" 2>/dev/null)" = 644
check "… mapping the columns by name and word, one left unmapped, dates DMY" \
    test "$(jq -r '[.import_type, (.fields | to_entries | map(.key + "=" + .value.columns[0]) | join(" ")), .dialect.date_order, (.description | test("Unmapped columns: Fav Colour"))] | join(" ")' "$work/templates/clinic-pms.json")" \
    = "patients external_id=Client Ref first_name=Given last_name=Family date_of_birth=Born phone_mobile=Cell DMY true"
"$agent" templates -c "$work/dentsync.conf" new "$work/clinic.csv" -o "$work/templates/clinic-pms.json" \
    >"$work/clinic.new2" 2>&1
check "… and never over an existing file" sh -c "test $? -eq 1 && grep -q 'exists already' '$work/clinic.new2'"
"$agent" preview -c "$work/dentsync.conf" "$work/clinic.csv" --template clinic-pms --all --json \
    >"$work/clinic.preview" 2>&1
check "preview with the draft: 2 valid rows, 0 invalid" \
    test "$(jq -r 'select(.summary) | "\(.summary.valid) \(.summary.invalid)"' "$work/clinic.preview")" = "2 0"
"$agent" templates -c "$work/dentsync.conf" new "$work/clinic.csv" --type nonsense >/dev/null 2>&1
check "templates new with an unknown type is a usage error" test $? -eq 2

# A template's time_zone: its local times read in that zone, not the
# practice's (preview --template-file: a template that is not installed).
printf 'Ref,Pat,When,Mins,Stat\nA1,P1,2027-01-14 09:30,30,Kept\n' >"$work/tz.csv"
for z in UTC Asia/Tokyo; do
    printf '{"id":"tz-appt","import_type":"appointments","time_zone":"%s","recognition":{"required":["Ref"]},"fields":{"external_id":{"columns":["Ref"]},"patient_external_id":{"columns":["Pat"]},"start_at":{"columns":["When"],"transform":"datetime"},"duration_minutes":{"columns":["Mins"],"transform":"duration"},"status":{"columns":["Stat"],"transform":"appointment_status"}}}' "$z" >"$work/tz-$(echo "$z" | tr / -).json"
done
check "a template's time_zone: 09:30 is 09:30Z in UTC, 00:30Z in Asia/Tokyo" \
    test "$("$agent" preview -c "$work/dentsync.conf" "$work/tz.csv" --template-file "$work/tz-UTC.json" --json | jq -r 'select(.row) | .record.start_at') $("$agent" preview -c "$work/dentsync.conf" "$work/tz.csv" --template-file "$work/tz-Asia-Tokyo.json" --json | jq -r 'select(.row) | .record.start_at')" \
    = "2027-01-14T09:30:00Z 2027-01-14T00:30:00Z"

# --- 1. binding --------------------------------------------------------------
sed 's/^secret_file = .*//; s/^port = .*/port = 8765\nlisten = 0.0.0.0/' "$work/dentsync.conf" >"$work/open.conf"
"$agent" check-config -c "$work/open.conf" >"$work/open.out" 2>&1
check "listen on a non-loopback address is a configuration error" \
    sh -c "test $? -eq 3 && grep -q 'listen 0.0.0.0 is not loopback: the status page has no TLS' '$work/open.out'"
# A login secret does not make plain HTTP on a network safe.
sed 's/^port = .*/port = 8765\nlisten = 192.0.2.10/' "$work/dentsync.conf" >"$work/open2.conf"
"$agent" check-config -c "$work/open2.conf" >"$work/open2.out" 2>&1
check "... with a login secret too (the page has no TLS)" \
    sh -c "test $? -eq 3 && grep -q 'listen 192.0.2.10 is not loopback: the status page has no TLS' '$work/open2.out'"

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
code=$(status_of -b "$cookie=$(printf '%064d' 0)" "$base/api/overview")
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
check "the session cookie is named after the port ($cookie: cookies ignore ports), HttpOnly, SameSite=Strict, Path=/" \
    sh -c "grep -qE '^Set-Cookie: $cookie=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict' '$work/login.h' && test \$(grep -ci '^Set-Cookie:' '$work/login.h') -eq 1"
code=$(status_of "$link")
check "the same link a second time: $code (403)" test "$code" = 403

# web-url --open: the link printed and handed to the desktop's opener (a
# stand-in xdg-open here that notes what it was given); a missing opener
# leaves the link printed and says so.
mkdir -p "$work/bin"
printf '#!/bin/sh\nprintf "%%s\\n" "$1" >"%s/opened"\n' "$work" >"$work/bin/xdg-open"
chmod 755 "$work/bin/xdg-open"
olink=$(PATH="$work/bin:$PATH" "$agent" web-url --open -c "$work/dentsync.conf")
check "web-url --open prints a link" grep -qE '^http://127\.0\.0\.1:[0-9]+/login\?t=[0-9a-f]{64}$' <<<"$olink"
check "web-url --open hands that link to xdg-open" test "$(cat "$work/opened" 2>/dev/null)" = "$olink"
rm -f "$work/bin/xdg-open"
nolink=$(PATH="$work/bin" "$agent" web-url --open -c "$work/dentsync.conf" 2>"$work/open.err")
rc=$?
check "without an opener: the link printed, exit 0 ($rc), and a note" \
    sh -c "test '$rc' = 0 && test -n '$nolink' && grep -q 'no browser could be started' '$work/open.err'"

c -D "$work/ov.h" -o "$work/ov.json" -b "$work/jar" "$base/api/overview"
check "with the session the overview answers 200" sh -c "head -n 1 '$work/ov.h' | grep -q ' 200'"
check "the overview names the folder" grep -q '"name":"inbox"' "$work/ov.json"
check "every answer is Cache-Control: no-store (overview)" grep -qi '^Cache-Control: no-store' "$work/ov.h"
csrf=$(c -b "$work/jar" "$base/api/session" | sed -n 's/.*"csrf":"\([0-9a-f]*\)".*/\1/p')
check "the session has a 64-hex-digit CSRF token" test "${#csrf}" -eq 64
secrets="$secrets|$csrf|$(awk -v n="$cookie" '$6 == n { print $7 }' "$work/jar")"

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
# A guesser on 127.0.0.2 (all of 127/8 is this PC's loopback) waits after
# each wrong guess; the person on 127.0.0.1 is not made to wait with it.
code=$(status_of --interface 127.0.0.2 -X POST --data 'secret=wrong-secret' "$base/login")
check "the login form with a wrong secret (from 127.0.0.2): $code (403)" test "$code" = 403
code=$(status_of --interface 127.0.0.2 -X POST --data 'secret=another-guess' "$base/login")
check "another guess at once from the same address: $code (429, one guess a second)" test "$code" = 429
c -D "$work/secret.h" -o /dev/null -c "$work/jar2" -X POST --data-urlencode "secret=$(cat "$work/secret")" "$base/login"
check "meanwhile the configured secret from 127.0.0.1 opens a session (the throttle is per client)" \
    sh -c "head -n 1 '$work/secret.h' | grep -q ' 200' && test \"\$(curl -s -o /dev/null -w '%{http_code}' -b '$work/jar2' '$base/api/overview')\" = 200"
code=$(status_of --interface 127.0.0.2 -X POST --data-urlencode "secret=$(cat "$work/secret")" "$base/login")
check "the guesser's own address still waits, even with the right secret: $code (429)" test "$code" = 429
sleep 1.1
code=$(status_of --interface 127.0.0.2 -X POST --data-urlencode "secret=$(cat "$work/secret")" "$base/login")
check "a second later it may try again: $code (200)" test "$code" = 200

# Judged on the head, before the body: a POST declaring 15 MB is answered
# before a byte of its body is sent (head_only prints the status line, or
# "timeout" after 3 s), and one that sends its 15 MB anyway does not make
# the agent hold them (its peak resident memory, reset first, grows by far
# less than the body).
cat >"$work/post15.py" <<'PY'
import socket, sys
port, path, send_body = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "body"
extra = sys.argv[4:]
head = "POST %s HTTP/1.1\r\nContent-Type: application/octet-stream\r\n" \
       "Content-Length: 15000000\r\n" % path
if not any(h.lower().startswith("host:") for h in extra):
    head += "Host: 127.0.0.1:%d\r\n" % port
for h in extra:
    head += h + "\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall((head + "\r\n").encode())
if send_body:
    chunk = b"x" * 65536
    try:
        for _ in range(229):
            s.sendall(chunk)
    except OSError:
        pass
try:
    print(s.recv(4096).split(b"\r\n")[0].decode() or "closed")
except socket.timeout:
    print("timeout")
except OSError:
    print("reset")
PY
post15() { python3 "$work/post15.py" "$port" "$@"; }
line=$(post15 "/api/preview?folder=inbox" head)
check "a 15 MB preview POST without a session: 401 before its body is sent ($line)" \
    sh -c "echo '$line' | grep -q '^HTTP/1.1 401'"
line=$(post15 "/api/preview?folder=inbox" head "Cookie: $cookie=$(printf '%064d' 0)")
check "... with a made-up session cookie: 401 before its body ($line)" \
    sh -c "echo '$line' | grep -q '^HTTP/1.1 401'"
line=$(post15 "/api/preview?folder=inbox" head "Cookie: $(awk -v n="$cookie" '$6 == n { print n "=" $7 }' "$work/jar")")
check "... with a session but no CSRF token: 403 before its body ($line)" \
    sh -c "echo '$line' | grep -q '^HTTP/1.1 403'"
line=$(post15 "/api/preview?folder=inbox" head "Host: evil.example:$port")
check "... with a foreign Host: 403 before its body ($line)" \
    sh -c "echo '$line' | grep -q '^HTTP/1.1 403'"
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$agent_pid/status"; }
echo 5 >"/proc/$agent_pid/clear_refs"
hwm0=$(hwm)
line=$(post15 "/api/preview?folder=inbox" body)
hwm1=$(hwm)
check "a 15 MB body sent without a session: the agent's peak memory grew by $((hwm1 - hwm0)) KiB (< 4096)" \
    test $((hwm1 - hwm0)) -lt 4096
check "... and the agent still answers" test "$(status_of "$base/")" = 200

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
check "the jobs list says where a job's locations come from (its folder's location)" \
    test "$(c -b "$work/jar" "$base/api/jobs" | jq -r --arg id "$job" '.jobs[] | select(.id == $id) | .location')" = "Main Street"
c -D "$work/csv.h" -o "$work/errors.csv" -b "$work/jar" "$base/api/job/errors.csv?id=$job"
check "the errors CSV is no-store and an attachment" \
    sh -c "grep -qi '^Cache-Control: no-store' '$work/csv.h' && grep -qi '^Content-Disposition: attachment' '$work/csv.h'"
check "the errors CSV holds the failed row with its original columns" \
    sh -c "grep -q '^J0003,Webfirst3,Weblast3,31/31/1999,' '$work/errors.csv' && test \$(wc -l <'$work/errors.csv') -eq 2"
c -D "$work/job.h" -o "$work/job.json" -b "$work/jar" "$base/api/job?id=$job"
check "the job answer groups the failed row with a suggestion" \
    sh -c "grep -q '\"status\":\"invalid\"' '$work/job.json' && grep -q 'date_order' '$work/job.json'"
check "each failed row carries all its errors with field, code and what to do" \
    test "$(jq -r '.failed_rows[] | select(.status == "invalid") | .errors[] | "\(.field) \(.code) \(.suggestion | length > 0)"' "$work/job.json")" \
    = "date_of_birth BAD_DATE true"

# --- 3b. rights: what the control socket refuses a user, the page refuses
# that user's link ------------------------------------------------------------
check "a system group with a member was made" test -n "$grp"
mlink=$(runuser -u "$grp-in" -- "$work/dentsync-any" web-url -c "$work/dentsync.conf" 2>"$work/mlink.err")
check "a member of the group gets a link from web-url" \
    sh -c "echo '$mlink' | grep -qE '^http://127\\.0\\.0\\.1:$port/login\\?t=[0-9a-f]{64}\$'"
check "... which web-url says is read-only" grep -q 'read-only link' "$work/mlink.err"
secrets="$secrets|${mlink##*t=}"
c -o /dev/null -c "$work/mjar" "$mlink"
c -o "$work/msession.json" -b "$work/mjar" "$base/api/session"
mcsrf=$(sed -n 's/.*"csrf":"\([0-9a-f]*\)".*/\1/p' "$work/msession.json")
secrets="$secrets|$mcsrf|$(awk -v n="$cookie" '$6 == n { print $7 }' "$work/mjar")"
check "the member's session views: the overview answers 200" \
    test "$(status_of -b "$work/mjar" "$base/api/overview")" = 200
check "the member's session says it may not write (the page hides import and retry)" \
    grep -q '"write":false' "$work/msession.json"
check "root's session says it may" sh -c "curl -s -b '$work/jar' '$base/api/session' | grep -q '\"write\":true'"
code=$(status_of -b "$work/mjar" -X POST -H "X-CSRF-Token: $mcsrf" "$base/api/sync-now")
check "the member's session may ask for a sync, as the socket lets the group: $code (200)" test "$code" = 200
# A file previewed by root's session: its upload id is what an import takes.
make_csv R 5 >"$work/rights.csv"
up=$(c -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/octet-stream' \
    -H 'X-Filename: rights-patients.csv' --data-binary @"$work/rights.csv" "$base/api/preview?folder=inbox" |
    sed -n 's/.*"upload":"\([0-9a-f-]*\)".*/\1/p')
check "root's session previews a file (an upload id)" test -n "$up"
code=$(c -o "$work/mimport.json" -w '%{http_code}' -b "$work/mjar" -X POST -H "X-CSRF-Token: $mcsrf" \
    --data "upload=$up" "$base/api/import")
check "the member's session imports that upload: $code (403, READ_ONLY, says why)" \
    sh -c "test '$code' = 403 && grep -q '\"code\":\"READ_ONLY\"' '$work/mimport.json' && grep -q 'may look but not change' '$work/mimport.json'"
check "... and nothing reached the folder" test ! -e "$work/inbox/rights-patients.csv"
fid=$(sqlite3 -readonly "$work/state/queue.db" "SELECT id FROM files WHERE path LIKE '%/odd.csv' ORDER BY id DESC LIMIT 1")
retries=$(sqlite3 -readonly "$work/state/queue.db" "SELECT admin_retries FROM files WHERE id = $fid")
code=$(status_of -b "$work/mjar" -X POST -H "X-CSRF-Token: $mcsrf" --data "id=$fid" "$base/api/retry-file")
check "the member's session retries the held file: $code (403)" test "$code" = 403
check "... and the queue did not change (admin_retries still $retries)" \
    test "$(sqlite3 -readonly "$work/state/queue.db" "SELECT admin_retries FROM files WHERE id = $fid")" = "$retries"
code=$(status_of -b "$work/mjar" -X POST -H "X-CSRF-Token: $mcsrf" --data "id=$job" "$base/api/retry-job")
check "the member's session retries a job's rejected batches: $code (403)" test "$code" = 403
line=$(post15 "/api/preview?folder=inbox" head "Cookie: $cookie=$(awk -v n="$cookie" '$6 == n { print $7 }' "$work/mjar")" "X-CSRF-Token: $mcsrf")
check "the member's session previews a 15 MB file: 403 before its body is sent ($line)" \
    sh -c "echo '$line' | grep -q '^HTTP/1.1 403'"
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" --data "upload=$up" "$base/api/import")
check "root's session imports the same upload: $code (200)" test "$code" = 200
check "... into the folder" test -e "$work/inbox/rights-patients.csv"

# --- 3c. mapping a file no template reads, from the page ---------------------
cp "$top/tests/data/mapscreen-patients.csv" "$work/auto/mapscreen-patients.csv"
wait_until 30 sh -c "curl -s -b '$work/jar' '$base/api/files' | jq -e '.held[] | select(.name == \"mapscreen-patients.csv\" and .reason_code == \"NO_TEMPLATE\")' >/dev/null" ||
    not_ok "the export no template knows was not held NO_TEMPLATE"
mfid=$(sqlite3 -readonly "$work/state/queue.db" "SELECT id FROM files WHERE path LIKE '%/mapscreen-patients.csv' ORDER BY id DESC LIMIT 1")
oddid=$(sqlite3 -readonly "$work/state/queue.db" "SELECT id FROM files WHERE path LIKE '%/odd.csv' AND state = 'held' ORDER BY id DESC LIMIT 1")
code=$(status_of "$base/api/mapping?file=$mfid")
check "GET /api/mapping without a session: $code (401)" test "$code" = 401
code=$(status_of -b "$work/mjar" "$base/api/mapping?file=$mfid")
check "... with a read-only session: $code (403; it shows the file's values)" test "$code" = 403
code=$(status_of -b "$work/jar" -X POST -H 'Content-Type: application/json' --data '{}' "$base/api/mapping/save?file=$mfid")
check "POST /api/mapping/save without the CSRF token: $code (403)" test "$code" = 403
c -o "$work/mapping.json" -b "$work/jar" "$base/api/mapping?file=$mfid"
check "the mapping screen's draft: each column with its guess and score, the canonical fields" \
    test "$(jq -r '[.file.reason_code, (.columns | length), .columns[4].guesses.patients.field, .columns[4].guesses.patients.score, (.fields.patients | index("external_id") != null)] | join(" ")' "$work/mapping.json")" \
    = "NO_TEMPLATE 6 email 80 true"
mchoice='{"import_type":"patients","columns":[{"column":"Kartei Nr","field":"external_id"},{"column":"Rufname","field":"first_name"},{"column":"Familie","field":"last_name"},{"column":"Geb.","field":"date_of_birth"},{"column":"E-Mail Adresse","field":"email"},{"column":"Lieblingsfarbe","field":"ignore"}],"date_order":"DMY"}'
c -o "$work/mprev.json" -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    --data "$mchoice" "$base/api/mapping/preview?file=$mfid"
check "the preview API maps the held file with the choice in the body" \
    test "$(jq -r '[.summary.valid, .rows[0].record.external_id, .rows[0].record.date_of_birth] | join(" ")' "$work/mprev.json")" = "3 M-501 1981-12-24"
code=$(c -o "$work/mbad.json" -w '%{http_code}' -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    --data '{"import_type":"patients","columns":[{"column":"Rufname","field":"shoe_size"}]}' "$base/api/mapping/preview?file=$mfid")
check "a field that is not canonical: $code (422, named)" \
    sh -c "test '$code' = 422 && grep -q 'shoe_size is not a field of patients' '$work/mbad.json'"
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    --data "${mchoice%\}},\"id\":\"../evil\"}" "$base/api/mapping/save?file=$mfid")
check "a template id with a path in it: $code (422)" test "$code" = 422
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    --data "${mchoice%\}},\"id\":\"generic-patients\"}" "$base/api/mapping/save?file=$mfid")
check "the id of a built-in template, not asked to replace it: $code (409)" test "$code" = 409
check "... and nothing was written into template_dir" \
    test -z "$(ls -A "$work/templates" | grep -v '^clinic-pms.json$')"
link=$("$agent" web-url -c "$work/dentsync.conf")
secrets="$secrets|${link##*t=}"
if [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
    timeout 300 /usr/bin/python3 "$top/tests/tools/web_mapping.py" "$link" mapscreen-patients.csv "$outdir" \
        >"$work/mapping.out" 2>&1
    sed 's/^\([0-9]* passed, [0-9]* failed\)$/# mapping browser: \1/' "$work/mapping.out"
    passed=$((passed + $(grep -c '^ok - ' "$work/mapping.out")))
    failed=$((failed + $(grep -c '^not ok - ' "$work/mapping.out")))
    grep -q '^[0-9]* passed, 0 failed$' "$work/mapping.out" || not_ok "the mapping browser test did not finish cleanly"
else
    not_ok "chromium-driver or python3-selenium is missing (installer/deps.sh installs them)"
fi
check "the template is in template_dir, written atomically (no temporary left), mapping the chosen columns" \
    test "$(jq -r '[.id, .import_type, .fields.external_id.columns[0], .fields.date_of_birth.columns[0], .dialect.date_order, (.recognition.optional | join(","))] | join(" ")' "$work/templates/kartei-patients.json" 2>/dev/null) $(ls -A "$work/templates" | grep -c tmp)" \
    = "kartei-patients patients Kartei Nr Geb. DMY Lieblingsfarbe 0"
wait_until 60 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'M-50%'\")\" -eq 3"
check "the held file's rows arrived in PostgreSQL, field by field" \
    test "$(pq "SELECT string_agg(concat_ws('|', external_id, first_name, last_name, date_of_birth, email), ' ' ORDER BY external_id) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'M-50%'")" \
    = "M-501|Mapfirsta|Maplasta|1981-12-24|mapa@example.com M-502|Mapfirstb|Maplastb|1975-02-03|mapb@example.com M-503|Mapfirstc|Maplastc|1990-08-17|mapc@example.com"
check "its job names the saved template" \
    test "$(sqlite3 -readonly "$work/state/queue.db" "SELECT template_id FROM jobs j JOIN files f ON f.id = j.file_id WHERE f.id = $mfid")" = kartei-patients
wait_until 30 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM import_templates WHERE practice_id = '$practice_id' AND id = 'kartei-patients'\")\" -eq 1"
check "the template is saved in the cloud for the folder's practice (import_templates)" \
    test "$(pq "SELECT concat_ws(' ', name, import_type, mapping_config->>'id', mapping_config->'fields'->'external_id'->'columns'->>0) FROM import_templates WHERE practice_id = '$practice_id' AND id = 'kartei-patients'")" \
    = "kartei-patients patients kartei-patients Kartei Nr"
wait_until 10 sh -c "test -z \"\$(ls -A '$work/state/template-outbox/main' 2>/dev/null)\""
check "... and its outbox entry is gone once the cloud took it" \
    test -z "$(ls -A "$work/state/template-outbox/main" 2>/dev/null)"
if [ -n "$oddid" ]; then
    code=$(c -o "$work/mexists.json" -w '%{http_code}' -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
        --data '{"import_type":"patients","id":"kartei-patients","columns":[{"column":"Email","field":"email"}]}' "$base/api/mapping/save?file=$oddid")
    check "saving another file's mapping under the new id, not asked to replace: $code (409)" \
        sh -c "test '$code' = 409 && grep -q 'exists already' '$work/mexists.json'"
else
    not_ok "odd.csv is no longer held (for the existing-id check)"
fi

# --- 3d. mapping a file dropped on the Import page ---------------------------
# The gate with curl, on an upload previewed for inbox (a folder pinned to
# one template, where a saved template would never be used).
make_csv F 2 >"$work/fixed.csv"
fup=$(c -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/octet-stream' \
    -H 'X-Filename: fixed-patients.csv' --data-binary @"$work/fixed.csv" "$base/api/preview?folder=inbox" |
    sed -n 's/.*"upload":"\([0-9a-f-]*\)".*/\1/p')
check "a file previewed for inbox has an upload id" test -n "$fup"
code=$(status_of "$base/api/mapping?upload=$fup")
check "GET /api/mapping?upload= without a session: $code (401)" test "$code" = 401
code=$(status_of -b "$work/mjar" "$base/api/mapping?upload=$fup")
check "... with a read-only session: $code (403)" test "$code" = 403
code=$(status_of -b "$work/jar" -X POST -H 'Content-Type: application/json' --data '{}' "$base/api/mapping/save?upload=$fup")
check "POST /api/mapping/save?upload= without the CSRF token: $code (403)" test "$code" = 403
code=$(c -o "$work/ufixed.json" -w '%{http_code}' -b "$work/jar" "$base/api/mapping?upload=$fup")
check "an upload for a folder pinned to one template: $code (409 FIXED_TEMPLATE)" \
    sh -c "test '$code' = 409 && grep -q '\"code\":\"FIXED_TEMPLATE\"' '$work/ufixed.json'"
code=$(status_of -b "$work/jar" "$base/api/mapping?upload=00000000-0000-4000-8000-000000000000")
check "an upload id the agent does not hold: $code (404)" test "$code" = 404
code=$(status_of -b "$work/jar" "$base/api/mapping?upload=$fup%2F..")
check "an upload id with more after it: $code (404)" test "$code" = 404
# Another full session (the login secret's) may not use this session's upload.
csrf2=$(c -b "$work/jar2" "$base/api/session" | sed -n 's/.*"csrf":"\([0-9a-f]*\)".*/\1/p')
secrets="$secrets|$csrf2|$(awk -v n="$cookie" '$6 == n { print $7 }' "$work/jar2")"
code=$(status_of -b "$work/jar2" "$base/api/mapping?upload=$fup")
check "another full session maps this session's upload: $code (404)" test "$code" = 404
code=$(status_of -b "$work/jar2" -X POST -H "X-CSRF-Token: $csrf2" --data "upload=$fup" "$base/api/import")
check "... or imports it: $code (404)" test "$code" = 404
check "... and nothing reached the folder" test ! -e "$work/inbox/fixed-patients.csv"
code=$(status_of -b "$work/jar" -X POST -H "X-CSRF-Token: $csrf" --data "upload=$fup" "$base/api/import")
check "the session that dropped it imports it as before: $code (200)" test "$code" = 200
link=$("$agent" web-url -c "$work/dentsync.conf")
secrets="$secrets|${link##*t=}"
if [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
    timeout 300 /usr/bin/python3 "$top/tests/tools/web_import_map.py" "$link" \
        "$top/tests/data/importmap-patients.csv" auto "$outdir" >"$work/importmap.out" 2>&1
    sed 's/^\([0-9]* passed, [0-9]* failed\)$/# import-map browser: \1/' "$work/importmap.out"
    passed=$((passed + $(grep -c '^ok - ' "$work/importmap.out")))
    failed=$((failed + $(grep -c '^not ok - ' "$work/importmap.out")))
    grep -q '^[0-9]* passed, 0 failed$' "$work/importmap.out" || not_ok "the import-map browser test did not finish cleanly"
else
    not_ok "chromium-driver or python3-selenium is missing (installer/deps.sh installs them)"
fi
check "the dropped file's template is in template_dir, mapping the chosen columns" \
    test "$(jq -r '[.id, .import_type, .fields.external_id.columns[0], .fields.first_name.columns[0], .fields.email.columns[0], .fields.date_of_birth.columns[0], .dialect.date_order] | join("|")' "$work/templates/importmap-patients.json" 2>/dev/null)" \
    = "importmap-patients|patients|Ref Q7|Ruf Q7|Post Q7|Tag Q7|DMY"
check "the dropped file was imported into folder auto, 0600" \
    test "$(stat -c %a "$work/auto/importmap-patients.csv" 2>/dev/null)" = 600
wait_until 60 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'U-70%'\")\" -eq 2"
check "the dropped file's rows arrived in PostgreSQL, field by field" \
    test "$(pq "SELECT string_agg(concat_ws('|', external_id, first_name, last_name, date_of_birth, email), ' ' ORDER BY external_id) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'U-70%'")" \
    = "U-701|Upfirsta|Uplasta|1984-11-05|upa@example.com U-702|Upfirstb|Uplastb|1969-04-19|upb@example.com"
check "its job names the saved template" \
    test "$(sqlite3 -readonly "$work/state/queue.db" "SELECT j.template_id FROM jobs j JOIN files f ON f.id = j.file_id WHERE f.path LIKE '%/auto/importmap-patients.csv' ORDER BY j.created_at DESC LIMIT 1")" = importmap-patients
wait_until 30 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM import_templates WHERE practice_id = '$practice_id' AND id = 'importmap-patients'\")\" -eq 1"
check "the template is saved in the cloud for the folder's practice (import_templates)" \
    test "$(pq "SELECT concat_ws(' ', name, import_type, mapping_config->'fields'->'email'->'columns'->>0) FROM import_templates WHERE practice_id = '$practice_id' AND id = 'importmap-patients'")" \
    = "importmap-patients patients Post Q7"

# --- 4. PostgreSQL and the log -----------------------------------------------
wait_until 60 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'W%'\")\" -eq 9"
check "the 9 rows of the file dropped on the page are in PostgreSQL" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'W%'")" -eq 9
wait_until 60 sh -c "test \"\$(psql '$DS_OWNER_DB' -At -X -c \"SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'R%'\")\" -eq 5"
check "the 5 rows of the file root's link imported are in PostgreSQL" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'R%'")" -eq 5
check "the first export's 9 valid rows are in PostgreSQL too" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE 'J%'")" -eq 9
check "the imported copy in the folder is 0600" \
    test "$(stat -c %a "$work/inbox/dropped-patients.csv" 2>/dev/null)" = 600
check "no dropped file is left in the state directory" \
    test -z "$(ls -A "$work/state/web-uploads" 2>/dev/null)"
check "no patient value and no token in the agent's log" \
    sh -c "! grep -qE 'Webfirst|Weblast|Mapfirst|Maplast|Upfirst|Uplast|05.11.1984|24.12.1981|@example.com|31/31/1999|$(cat "$work/token")|$(cat "$work/secret")' '$work/agent.log'"
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
