#!/bin/bash
# security.sh — what docs/security.md claims, checked against a real cloud
# and PostgreSQL:
#   1. TLS: a cloud with a self-signed certificate is refused unless its
#      certificate is the configured [cloud] ca_file; plain http to anything
#      but this machine is refused by check-config;
#   2. the token: a token file others may read stops the agent; the token
#      never shows in the log (debug level), the agent's argv or
#      environment, the status commands' output or the queue file;
#   3. row-level security at the database: the application role, set to
#      practice B, neither sees nor changes practice A's jobs, items or
#      records (tests/e2e/cloud.sh checks every endpoint with B's token);
#   4. injection: quotes, SQL, Unicode and long strings in every text field
#      arrive in PostgreSQL as the same data;
#   5. paths: a symbolic link in an export folder pointing outside it is not
#      followed; a name full of dots stays a name inside its folder; links
#      planted where the agent writes (quarantine/, processed/, a reason's
#      temporary name) write nothing through them; a held file turned into a
#      link and retried, or a file swapped between settle and read, is not
#      read through the link (docs/security.md, "The export folder");
#   6. the cloud bounds the body (413), the header block, and the number of
#      connections, per client address and in all;
#   7. slow clients (slowloris): connections sending a header a byte at a
#      time are closed within the header deadline (10 s) while a normal
#      client is served throughout.
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work security
tls_pid=
e2e_on_exit() {
    [ -n "$tls_pid" ] && kill "$tls_pid" 2>/dev/null
}

e2e_pg
e2e_cloud
agent=$BUILD/dentsync

pa="e2e-sec-a-$$"
pb="e2e-sec-b-$$"
umask 077
cloud_token "$pa" >"$work/a.token"
cloud_token "$pb" >"$work/b.token"
umask 022
a_id=$(pq "SELECT id FROM practices WHERE name = '$pa'")
b_id=$(pq "SELECT id FROM practices WHERE name = '$pb'")
token=$(cat "$work/a.token")

# write_config DIR URL [EXTRA [cloud] LINES]: a config for practice A.
write_config() {
    mkdir -p "$1/inbox" "$1/state"
    cat >"$1/dentsync.conf" <<EOF
[agent]
state_dir = $1/state
log_level = debug
settle_seconds = 0.1
rescan_seconds = 0.3

[cloud]
url = $2
batch_rows = 50
timeout_seconds = 5
retry_min_seconds = 0.2
retry_max_seconds = 1
heartbeat_seconds = 0
${3:-}

[practice a]
token_file = ${TOKEN_FILE:-$work/a.token}

[folder inbox]
path = $1/inbox
practice = a
import_type = patients
template = generic-patients
EOF
}

start_agent() {
    "$agent" run -c "$1/dentsync.conf" >>"$1/agent.log" 2>&1 &
    agent_pid=$!
}
stop_agent() {
    [ -n "$agent_pid" ] || return 0
    kill -TERM "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
    agent_pid=
}
job_done() { # job_done FILENAME [STATUS]
    [ "$(pq "SELECT count(*) FROM import_jobs WHERE practice_id = '$a_id' AND filename = '$1'
             AND status = '${2:-completed}'")" = 1 ]
}
make_csv() { # make_csv PREFIX ROWS
    awk -v p="$1" -v n="$2" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email";
        for (i = 1; i <= n; i++)
            printf "%s-%04d,Secfirst%d,Seclast%d,1970-%02d-%02d,%s-%d@example.com\n",
                p, i, i, i, i % 12 + 1, i % 28 + 1, tolower(p), i;
    }'
}

# --- 1. TLS -------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.crt" \
    >/dev/null 2>&1
tls_port=$(free_port)
"$CLOUD_BIN" serve --db "$DS_APP_DB" --listen "127.0.0.1:$tls_port" --tls-cert "$work/tls.crt" \
    --tls-key "$work/tls.key" >>"$work/tls-cloud.log" 2>&1 &
tls_pid=$!
check "an HTTPS cloud with a self-signed certificate is up" \
    wait_until 10 curl -sf --cacert "$work/tls.crt" -o /dev/null "https://127.0.0.1:$tls_port/v1/health"

d=$work/tls-refused
write_config "$d" "https://127.0.0.1:$tls_port"
start_agent "$d"
make_csv TLS1 3 >"$d/inbox/tls1.csv"
check "without ca_file the agent refuses the self-signed certificate (NET_60)" \
    wait_until 15 grep -qE 'failed \(NET_(60|35|77)\)' "$d/agent.log"
stop_agent
check "... and nothing reached the cloud" \
    test "$(pq "SELECT count(*) FROM import_jobs WHERE filename = 'tls1.csv'")" = 0

d=$work/tls-ca
write_config "$d" "https://127.0.0.1:$tls_port" "ca_file = $work/tls.crt"
start_agent "$d"
make_csv TLS2 3 >"$d/inbox/tls2.csv"
check "with the certificate as ca_file the agent delivers over HTTPS" wait_until 20 job_done tls2.csv
stop_agent
kill "$tls_pid" 2>/dev/null
wait "$tls_pid" 2>/dev/null
tls_pid=

d=$work/plain
for url in http://192.0.2.10:8080 http://example.com/ http://10.0.0.5; do
    write_config "$d" "$url"
    "$agent" check-config -c "$d/dentsync.conf" >"$d/check.out" 2>&1
    st=$?
    check "check-config refuses plain http to $url (status $st)" \
        test "$st" != 0 -a "$(grep -ci 'http' "$d/check.out")" -gt 0
done
write_config "$d" "http://127.0.0.1:9"
check "check-config accepts plain http to 127.0.0.1" "$agent" check-config -c "$d/dentsync.conf"
# Hosts that only look like this machine: the check parses the URL's host.
for url in 'http://127.evil.example/' 'http://localhost:80@evil.example/' 'http://[::1]@evil.example/'; do
    write_config "$d" "$url"
    "$agent" check-config -c "$d/dentsync.conf" >/dev/null 2>&1
    st=$?
    check "check-config refuses plain http to $url, which only looks local (status $st)" \
        test "$st" != 0
done

# --- 2. the token -------------------------------------------------------------------------
d=$work/token-mode
cp "$work/a.token" "$work/open.token"
chmod 644 "$work/open.token"
TOKEN_FILE=$work/open.token write_config "$d" "$CLOUD_URL"
timeout 10 "$agent" run -c "$d/dentsync.conf" >"$d/agent.log" 2>&1
st=$?
check "a token file readable by others stops dentsync run (status $st)" \
    test "$st" != 0 -a "$st" != 124
check "... and says which file and why" grep -q 'open.token.*readable by others' "$d/agent.log"

d=$work/token-leak
write_config "$d" "$CLOUD_URL"
start_agent "$d"
make_csv TOK 60 >"$d/inbox/tok.csv"
check "an agent at log level debug delivers a file" wait_until 20 job_done tok.csv
check "the token is not in the agent's argv" \
    sh -c "! tr '\0' '\n' </proc/$agent_pid/cmdline | grep -qF -- '$token'"
check "the token is not in the agent's environment" \
    sh -c "! tr '\0' '\n' </proc/$agent_pid/environ | grep -qF -- '$token'"
for cmd in status jobs events doctor; do
    if "$agent" help 2>&1 | grep -qw "$cmd"; then
        "$agent" "$cmd" -c "$d/dentsync.conf" >"$d/$cmd.out" 2>&1
        check "the token is not in the output of dentsync $cmd" \
            sh -c "! grep -qF -- '$token' '$d/$cmd.out'"
    fi
done
stop_agent
check "the token is not in the agent's log (debug level)" \
    sh -c "! grep -qF -- '$token' '$d/agent.log'"
check "the token is not in the queue" \
    sh -c "! cat '$d'/state/* 2>/dev/null | grep -aqF -- '$token'"

# --- 3. row-level security at the database -------------------------------------------------
as_b() { # as_b SQL: as the application role, inside practice B's transaction
    pg_psql_app "BEGIN" "SELECT set_config('app.practice_id', '$b_id', true)" "$1" "COMMIT" |
        tail -n 1
}
check "RLS: practice B sees none of A's jobs" \
    test "$(as_b "SELECT count(*) FROM import_jobs WHERE practice_id = '$a_id'")" = 0
check "RLS: practice B sees none of A's items" \
    test "$(as_b "SELECT count(*) FROM import_job_items WHERE practice_id = '$a_id'")" = 0
check "RLS: practice B sees none of A's patients" \
    test "$(as_b "SELECT count(*) FROM patients WHERE practice_id = '$a_id'")" = 0
as_b "UPDATE patients SET first_name = 'changed' WHERE practice_id = '$a_id'" >/dev/null 2>&1
as_b "DELETE FROM import_job_items WHERE practice_id = '$a_id'" >/dev/null 2>&1
check "RLS: practice B's UPDATE and DELETE leave A's rows as they were" \
    test "$(pq "SELECT count(*) FILTER (WHERE first_name = 'changed') || '/' ||
                       (SELECT count(*) FROM import_job_items WHERE practice_id = '$a_id')
                FROM patients WHERE practice_id = '$a_id'")" = "0/$(pq "SELECT count(*)
                FROM import_job_items WHERE practice_id = '$a_id'")"
check "RLS: without a practice set, the application role sees no patients" \
    test "$(pg_psql_app "SELECT count(*) FROM patients" 2>/dev/null || echo error)" != \
    "$(pq "SELECT count(*) FROM patients")"

# --- 4. injection ---------------------------------------------------------------------------
d=$work/inject
write_config "$d" "$CLOUD_URL"
long=$(head -c 190 /dev/zero | tr '\0' 'x')
too_long=$(head -c 3000 /dev/zero | tr '\0' 'y')
# Values as they must arrive: each row puts one hostile value into every
# text field.
cat >"$d/values" <<EOF
Robert'); DROP TABLE patients;--
O"Brien, "Jr"
\\'; SELECT pg_sleep(10); --
Zoë Ñúñez 測試 😀
\$\$ \$body\$ %s %n {{x}} \${HOME}
<script>alert(1)</script>
$long
EOF
{
    echo 'Patient ID,First Name,Last Name,Middle Name,Preferred Name,Address,Address 2,City'
    n=0
    while IFS= read -r v; do
        n=$((n + 1))
        q=${v//\"/\"\"}
        printf 'INJ-%d,"%s","%s","%s","%s","%s","%s","%s"\n' "$n" "$q" "$q" "$q" "$q" "$q" "$q" "$q"
    done <"$d/values"
    printf 'INJ-LONG,%s,%s,,,%s,,\n' "$too_long" "$too_long" "$too_long"
} >"$d/inject.csv"
start_agent "$d"
mv "$d/inject.csv" "$d/inbox/inject.csv"
check "a file of hostile values is delivered" \
    wait_until 20 job_done inject.csv
stop_agent
n=0
while IFS= read -r v; do
    n=$((n + 1))
    got=$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id' AND external_id = 'INJ-$n'
              AND first_name = \$v\$${v}\$v\$ AND last_name = \$v\$${v}\$v\$
              AND middle_name = \$v\$${v}\$v\$ AND preferred_name = \$v\$${v}\$v\$
              AND address_line1 = \$v\$${v}\$v\$ AND address_line2 = \$v\$${v}\$v\$
              AND city = \$v\$${v}\$v\$" 2>&1)
    check "hostile value $n (${v:0:24}…) arrives unchanged in every text field" test "$got" = 1
done <"$d/values"
# The agent applies the cloud's rules (proto/rules.c): the row the cloud
# would reject is invalid before it is sent, with the cloud's reason.
check "a 3000-byte value is refused by the agent with the cloud's reason" \
    test "$(queue_sql "$d" "SELECT i.status || ' ' || i.outbound || ' ' || i.error FROM items i
                            JOIN jobs j ON j.id = i.job_id
                            WHERE j.filename = 'inject.csv' AND i.row = 8")" = \
    "invalid 0 first_name: longer than 200 bytes"
check "... never sent: the cloud holds no item and no record of it" \
    test "$(pq "SELECT count(*) FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id
                WHERE j.practice_id = '$a_id' AND j.filename = 'inject.csv'
                AND i.row_number = 8")/$(pq "SELECT count(*) FROM patients
                WHERE practice_id = '$a_id' AND external_id = 'INJ-LONG'")" = 0/0
check "the patients table is still there, whole" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id' AND external_id LIKE 'INJ-%'")" = 7

# --- 5. paths -------------------------------------------------------------------------------
d=$work/paths
write_config "$d" "$CLOUD_URL"
mkdir -p "$work/outside"
make_csv OUT 3 >"$work/outside/secret.csv"
ln -s "$work/outside/secret.csv" "$d/inbox/link.csv"
ln -s "$work/outside" "$d/inbox/linkdir.csv"
make_csv DOT 3 >"$d/inbox/x..dots..csv"
start_agent "$d"
check "a file named x..dots..csv is an ordinary file of its folder" \
    wait_until 20 job_done x..dots..csv
sleep 1
stop_agent
check "a symbolic link to a file outside the folder is not followed" \
    test "$(pq "SELECT count(*) FROM import_jobs WHERE filename IN ('link.csv', 'secret.csv')")" = 0 \
    -a "$(sqlite3 -readonly "$d/state/queue.db" "SELECT count(*) FROM files WHERE path LIKE '%link%'")" = 0
check "... and the file it points to is left alone" test -f "$work/outside/secret.csv"

# --- 5b. planted links: writes ---------------------------------------------------------------
# Whoever can write into an export folder plants links where the agent
# writes: NAME.error.txt.tmp in quarantine/ (to a sentinel file, and to the
# queue itself), a quarantine/ that is a link elsewhere, a processed/ that
# is one. Nothing is written through any of them; the queue stays whole.
d=$work/links-w
mkdir -p "$d/inbox" "$d/state" "$d/in2" "$d/in3" "$d/elsewhere" "$d/elsewhere3"
write_config "$d" "$CLOUD_URL"
cat >>"$d/dentsync.conf" <<EOF2

[folder in2]
path = $d/in2
practice = a
import_type = patients
template = generic-patients

[folder in3]
path = $d/in3
practice = a
import_type = patients
template = generic-patients
after = move
EOF2
echo 'the sentinel: left exactly as it is' >"$d/sentinel"
cp "$d/sentinel" "$d/sentinel.orig"
mkdir -m 700 "$d/inbox/quarantine"
ln -s "$d/sentinel" "$d/inbox/quarantine/bad.csv.error.txt.tmp"
ln -s "$d/state/queue.db" "$d/inbox/quarantine/badq.csv.error.txt.tmp"
ln -s "$d/elsewhere" "$d/in2/quarantine"
ln -s "$d/elsewhere3" "$d/in3/processed"
make_csv LNKW 3 >"$d/good.csv"
start_agent "$d"
wait_until 20 test -s "$d/state/queue.db"
printf 'Nothing,Useful\n1,2\n' >"$d/inbox/bad.csv"
printf 'Nothing,Useful\n3,4\n' >"$d/inbox/badq.csv"
printf 'Nothing,Useful\n5,6\n' >"$d/in2/bad2.csv"
cp "$d/good.csv" "$d/in3/good3.csv"
check "a refused file is moved to quarantine/ with its reason beside it" \
    wait_until 20 test -f "$d/inbox/quarantine/bad.csv.error.txt" -a \
    -f "$d/inbox/quarantine/badq.csv.error.txt"
check "... the reason is a file of its own, not the planted link" \
    test ! -L "$d/inbox/quarantine/bad.csv.error.txt" -a ! -L "$d/inbox/quarantine/badq.csv.error.txt"
check "... and names the code" grep -q '^code:' "$d/inbox/quarantine/bad.csv.error.txt"
check "a link planted as NAME.error.txt.tmp: the file it points to is unchanged" \
    cmp -s "$d/sentinel" "$d/sentinel.orig"
check "a link planted to the queue: the queue is whole, and knows each file" \
    test "$(sqlite3 -readonly "$d/state/queue.db" 'PRAGMA integrity_check')" = ok -a \
    "$(sqlite3 -readonly "$d/state/queue.db" \
        "SELECT count(*) FROM files WHERE path LIKE '%/inbox/bad%' AND state = 'quarantined'")" = 2
check "a quarantine/ that is a link: the file is held in place, DISPOSE_DIR_UNSAFE" \
    wait_until 20 grep -q 'DISPOSE_DIR_UNSAFE.*bad2.csv' "$d/agent.log"
check "... nothing is written where it points" test -z "$(ls -A "$d/elsewhere")" -a -f "$d/in2/bad2.csv"
check "a processed/ that is a link: the file is delivered" wait_until 30 job_done good3.csv
check "... and held in place, DISPOSE_DIR_UNSAFE" \
    wait_until 20 grep -q 'DISPOSE_DIR_UNSAFE.*good3.csv' "$d/agent.log"
check "... nothing is written where it points" \
    test -z "$(ls -A "$d/elsewhere3")" -a -f "$d/in3/good3.csv"
check "the agent runs on" kill -0 "$agent_pid"
stop_agent
check "the agent starts again on its queue" \
    sh -c "'$agent' status -c '$d/dentsync.conf' >/dev/null 2>&1"

# --- 5c. planted links: reads -----------------------------------------------------------------
# A held file replaced by a link to another practice's export, then
# `dentsync retry`: nothing of the other file is read; the link is refused
# (NOT_REGULAR_FILE). A file swapped between settle and read (the agent
# paused there by DENTSYNC_PAUSE_AT): for a link, nothing is read; for
# another regular file, it is settled anew and the job carries the hash of
# the bytes it staged.
d=$work/links-r
mkdir -p "$d/inbox" "$d/state" "$d/other"
write_config "$d" "$CLOUD_URL"
sed -i 's/^template = generic-patients$/template = auto/' "$d/dentsync.conf"
make_csv OTHERPRAC 4 >"$d/other/export.csv"
start_agent "$d"
printf 'Nothing,Useful\n1,2\n' >"$d/inbox/held.csv"
held() { [ "$(queue_sql "$d" "SELECT state FROM files WHERE path LIKE '%/held.csv'")" = held ]; }
check "a file no template knows is held" wait_until 20 held
rm "$d/inbox/held.csv"
ln -s "$d/other/export.csv" "$d/inbox/held.csv"
check "dentsync retry takes the held file up again" \
    sh -c "'$agent' retry -c '$d/dentsync.conf' '$d/inbox/held.csv' >/dev/null"
refused() {
    [ "$(queue_sql "$d" "SELECT reason_code FROM files WHERE path LIKE '%/held.csv'")" = NOT_REGULAR_FILE ]
}
check "... it is now a link: refused, NOT_REGULAR_FILE" wait_until 20 refused
sleep 1
check "... nothing of the file it points to reaches the cloud" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id'
                AND external_id LIKE 'OTHERPRAC-%'")" = 0
check "... and the file it points to is left alone" test -f "$d/other/export.csv"
stop_agent

sed -i 's/^template = auto$/template = generic-patients/' "$d/dentsync.conf"
: >"$d/pause.log"
DENTSYNC_PAUSE_AT=ingest_before_open:2500 DENTSYNC_CRASH_LOG=$d/pause.log start_agent "$d"
paused() { [ "$(grep -c ingest_before_open "$d/pause.log")" -ge "$1" ]; }
make_csv SWAPA 3 >"$d/inbox/swap.csv"
check "the agent pauses between settle and read" wait_until 20 paused 1
# The decoy has the size and mtime of the file it replaces.
make_csv DECOY 3 >"$d/other/decoy.csv"
touch -r "$d/inbox/swap.csv" "$d/other/decoy.csv"
ln -s "$d/other/decoy.csv" "$d/swap.link"
mv -T "$d/swap.link" "$d/inbox/swap.csv"
check "a file swapped for a link before it is read: not read, it will settle again" \
    wait_until 20 grep -q 'FILE_CHANGED.*swap.csv' "$d/agent.log"
sleep 1
check "... nothing of the file the link points to reaches the cloud" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id'
                AND external_id LIKE 'DECOY-%'")" = 0
make_csv SWAPB 3 >"$d/inbox/swap2.csv"
make_csv SWAPC 3 >"$d/swap2.new"
touch -r "$d/inbox/swap2.csv" "$d/swap2.new"
check "the agent pauses before reading the next file" wait_until 20 paused 2
mv -T "$d/swap2.new" "$d/inbox/swap2.csv"
settled_twice() { [ "$(grep -c 'FILE_SETTLED.*swap2.csv' "$d/agent.log")" -ge 2 ]; }
check "a file swapped for another of the same size and mtime: settled anew" \
    wait_until 20 settled_twice
check "... and delivered" wait_until 30 job_done swap2.csv
want=$(sha256sum "$d/inbox/swap2.csv" | cut -d' ' -f1)
check "... its job carries the hash of the bytes it staged" \
    test "$(queue_sql "$d" "SELECT sha256 FROM jobs WHERE filename = 'swap2.csv'")" = "$want"
check "... which are the new file's" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id'
                AND external_id LIKE 'SWAPC-%'")" = 3 -a \
    "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$a_id'
           AND external_id LIKE 'SWAPB-%'")" = 0
stop_agent

# --- 6. the cloud's bounds ------------------------------------------------------------------
head -c $((33 * 1024 * 1024)) /dev/zero >"$work/big.body"
code=$(curl -s -o "$work/big.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' --data-binary @"$work/big.body" "$CLOUD_URL/v1/jobs")
check "a body over 32 MiB is answered 413 (got $code)" test "$code" = 413
head -c $((64 * 1024 * 1024)) /dev/zero | gzip -c >"$work/bomb.gz"
code=$(curl -s -o "$work/bomb.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
    --data-binary @"$work/bomb.gz" "$CLOUD_URL/v1/jobs")
check "a gzip body inflating past 32 MiB is answered 413 (got $code)" test "$code" = 413
rm -f "$work/big.body" "$work/bomb.gz"
{ printf 'X-Filler: '; head -c 200000 /dev/zero | tr '\0' a; echo; } >"$work/big.header"
code=$(curl -s -o /dev/null -w '%{http_code}' -H @"$work/big.header" "$CLOUD_URL/v1/health")
check "a 200 KB header is refused (got ${code:-no answer})" test "$code" != 200
check "the cloud still answers after the oversized requests" curl -sf -o /dev/null "$CLOUD_URL/v1/health"
# 300 idle connections from one address: the server keeps at most its
# per-client limit open.
held=$(python3 - "$CLOUD_PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(300):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        pass
time.sleep(1)
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        alive += 0 if s.recv(1) == b"" else 1
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(alive)
for s in socks:
    s.close()
EOF
)
check "of 300 idle connections from one client the cloud keeps at most 64 (kept $held)" test "${held:-999}" -le 64
check "the cloud answers once they are gone" wait_until 10 curl -sf -o /dev/null "$CLOUD_URL/v1/health"

# 300 idle connections from five addresses (60 each, under the per-client
# limit): the server keeps at most its 256 in all.
held=$(python3 - "$CLOUD_PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
socks = []
for a in range(2, 7):
    for _ in range(60):
        try:
            s = socket.socket()
            s.bind(("127.0.0.%d" % a, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            socks.append(s)
        except OSError:
            pass
time.sleep(1)
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        alive += 0 if s.recv(1) == b"" else 1
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(len(socks), alive)
for s in socks:
    s.close()
EOF
)
check "of 300 idle connections from five addresses the cloud keeps at most 256 (opened, kept: $held)" \
    test "${held#* }" -le 256 -a "${held#* }" -ge 200
check "the cloud answers once they are gone" wait_until 10 curl -sf -o /dev/null "$CLOUD_URL/v1/health"

# --- 7. slow clients (slowloris) --------------------------------------------------------------
# 60 connections send a request header a byte every 0.5 s and never finish
# it; meanwhile a normal client asks /v1/health every second from another
# address. Each slow connection must be closed by the server within the
# header deadline (10 s, plus the watchdog's second and some slack), well
# before the 30 s idle timeout could, and every normal request answered.
slow=$(python3 - "$CLOUD_PORT" <<'EOF'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
header = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
conns = []
for _ in range(60):
    s = socket.socket()
    s.bind(("127.0.0.8", 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    conns.append([s, 0, None])
start = time.time()
served = asked = 0
next_probe = start
while time.time() - start < 25 and any(c[2] is None for c in conns):
    now = time.time()
    for c in conns:
        if c[2] is not None:
            continue
        try:
            if c[0].recv(1) == b"":
                c[2] = now - start
                continue
        except BlockingIOError:
            pass
        except OSError:
            c[2] = now - start
            continue
        try:
            c[0].send(header[c[1] % len(header):c[1] % len(header) + 1])
            c[1] += 1
        except OSError:
            c[2] = now - start
    if now >= next_probe:
        next_probe = now + 1
        asked += 1
        try:
            req = urllib.request.Request("http://127.0.0.1:%d/v1/health" % port)
            with urllib.request.urlopen(req, timeout=5) as r:
                served += r.status == 200
        except OSError:
            pass
    time.sleep(0.5)
closed = [c[2] for c in conns if c[2] is not None]
print(len(conns), len(closed), "%.1f" % (max(closed) if closed else -1),
      min(c[1] for c in conns), served, asked)
EOF
)
set -- $slow
check "slowloris: all ${1:-?} slow connections closed by the server (closed ${2:-?}, the last after ${3:-?} s)" \
    test "${1:-0}" = 60 -a "${2:-0}" = 60
check "slowloris: ... within the header deadline, not the idle timeout (last after ${3:-?} s <= 15)" \
    awk -v t="${3:--1}" 'BEGIN { exit !(t >= 9 && t <= 15) }'
check "slowloris: each sent its header a byte at a time until then (at least ${4:-?} bytes)" \
    test "${4:-0}" -ge 15
check "slowloris: a normal client was served throughout (${5:-?} of ${6:-?})" \
    test "${6:-0}" -ge 9 -a "${5:-x}" = "${6:-y}"
check "slowloris: the server logged the closings" grep -q 'no whole request header within 10 s' "$CLOUD_LOG"

e2e_summary
