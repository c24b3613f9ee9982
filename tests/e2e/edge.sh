#!/bin/bash
# edge.sh — what a client can make the cloud spend before and around
# authentication, checked against a real server and PostgreSQL
# (docs/security.md, "The cloud's edge"):
#   1. memory: without a token a gzip bomb is answered 401 before a byte of
#      it is read; a declared length over 32 MiB is answered 413 before the
#      body; with a token, a small gzip body of ten million empty rows is
#      refused (422) before it is parsed; the server's peak resident memory
#      stays within 64 MiB of its idle peak and other practices are served
#      meanwhile and after;
#   2. TLS: `serve --tls-cert` refuses TLS 1.0 and 1.1 and speaks 1.2 and 1.3;
#   3. behind a trusted proxy (--trusted-proxy) the per-client limit counts
#      the X-Forwarded-For address; from any other peer the header is
#      ignored.
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work edge
pids=
e2e_on_exit() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
}

e2e_pg
e2e_cloud

pa="e2e-edge-a-$$"
pb="e2e-edge-b-$$"
token_a=$(cloud_token "$pa")
token_b=$(cloud_token "$pb")
uuid() { cat /proc/sys/kernel/random/uuid; }
job_body() { # job_body ID
    printf '{"id":"%s","import_type":"patients","filename":"edge.csv","sha256":"%s","total_rows":1,"template":"generic-patients","agent":{"id":"%s","version":"0.1.0"}}' \
        "$1" "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)" "$(uuid)"
}

# serve PORT [OPTIONS...]: another server on 127.0.0.1:PORT, its pid in
# $serve_pid, up when this returns 0.
serve() {
    local port=$1
    shift
    "$CLOUD_BIN" serve --db "$DS_APP_DB" --listen "127.0.0.1:$port" "$@" \
        >>"$work/serve-$port.log" 2>&1 &
    serve_pid=$!
    pids="$pids $serve_pid"
    wait_until 10 curl -sfk -o /dev/null "http${scheme:-}://127.0.0.1:$port/v1/health"
}
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- 1. memory before authentication and before limits --------------------------------------
port=$(free_port)
serve "$port" || bail "the memory server did not start"
url=http://127.0.0.1:$port
job=$(uuid)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token_a" \
    --data-binary "$(job_body "$job")" "$url/v1/jobs")
check "practice A creates a job (got $code)" test "$code" = 201
idle=$(hwm_kb "$serve_pid")

# 40 MB of gzip members, each 64 MiB of zeros: 40 GiB once inflated.
head -c $((64 * 1024 * 1024)) /dev/zero | gzip -c >"$work/member.gz"
python3 - "$work/member.gz" "$work/bomb.gz" <<'EOF'
import sys
member = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    while f.tell() < 40 * 1000 * 1000:
        f.write(member)
EOF
start=$(date +%s)
code=$(curl -s -o "$work/bomb.out" -w '%{http_code}' -m 60 -X PUT \
    -H 'Content-Encoding: gzip' -H "Batch-Digest: $(printf %064d 0)" \
    --data-binary @"$work/bomb.gz" "$url/v1/jobs/$job/batches/1")
check "a 40 MB gzip bomb without a token is answered 401 (got $code)" test "$code" = 401
check "... at once, its body unread ($(($(date +%s) - start)) s)" test $(($(date +%s) - start)) -le 5
code=$(curl -s -o /dev/null -w '%{http_code}' -m 60 -X PUT -H 'Authorization: Bearer dsk_nope' \
    -H 'Content-Encoding: gzip' -H "Batch-Digest: $(printf %064d 0)" \
    --data-binary @"$work/bomb.gz" "$url/v1/jobs/$job/batches/1")
check "... and so with an unknown token (got $code)" test "$code" = 401
rm -f "$work/bomb.gz" "$work/member.gz"

# A declared length over the cap is refused before the body: the client
# sends the header only and gets its answer.
got=$(python3 - "$port" "$token_a" "$job" <<'EOF'
import socket, sys
port, token, job = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("PUT /v1/jobs/%s/batches/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Length: 40000000\r\n\r\n" % (job, token)).encode())
try:
    print(s.recv(200).split(b" ")[1].decode())
except (OSError, IndexError):
    print("none")
EOF
)
check "a Content-Length over 32 MiB is answered 413 before the body is sent (got $got)" \
    test "$got" = 413

# Ten million empty rows, about 30 MB inflated, some 130 KB of gzip.
python3 - "$work/rows.gz" <<'EOF'
import gzip, sys
with gzip.open(sys.argv[1], "wb", 9) as f:
    f.write(b'{"rows":[')
    chunk = b"{}," * 1000000
    for _ in range(10):
        f.write(chunk)
    f.write(b"{}]}")
EOF
curl -s -o "$work/rows.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $token_a" \
    -H 'Content-Encoding: gzip' -H "Batch-Digest: $(printf %064d 0)" \
    --data-binary @"$work/rows.gz" "$url/v1/jobs/$job/batches/1" >"$work/rows.code" &
rows_pid=$!
# Practice B is served while the rows arrive and are refused.
code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST -H "Authorization: Bearer $token_b" \
    --data-binary "$(job_body "$(uuid)")" "$url/v1/jobs")
check "practice B is served meanwhile (got $code)" test "$code" = 201
wait "$rows_pid"
code=$(cat "$work/rows.code")
check "ten million empty rows ($(wc -c <"$work/rows.gz") bytes of gzip) are refused with 422 (got $code)" \
    test "$code" = 422
check "... naming the rows limit" grep -q 'rows: required, an array of 1 to 10000 rows' "$work/rows.out"
peak=$(hwm_kb "$serve_pid")
check "the server's peak memory grew by $(((peak - idle) / 1024)) MiB (at most 64)" \
    test $((peak - idle)) -le $((64 * 1024))
code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -H "Authorization: Bearer $token_b" \
    "$url/v1/jobs")
check "practice B is served after (got $code)" test "$code" = 200

# A batch of 10,000 rows of 80 fields (about 800,000 values) is parsed
# whole before its digest is found wrong: memory of that size goes back to
# the system once the request is done, not only at the next quiet moment.
python3 - "$work/wide.json" <<'EOF'
import json, sys
rows = [{"row": i + 1, "key": "k%d" % i, "fingerprint": "0" * 64,
         "record": {"f%d" % j: "v%d-%d" % (i, j) for j in range(80)}} for i in range(10000)]
with open(sys.argv[1], "w") as f:
    json.dump({"rows": rows}, f)
EOF
before=$(rss_kb "$serve_pid")
code=$(curl -s -o "$work/wide.out" -w '%{http_code}' -m 60 -X PUT \
    -H "Authorization: Bearer $token_a" -H "Batch-Digest: $(printf %064d 0)" \
    --data-binary @"$work/wide.json" "$url/v1/jobs/$job/batches/1")
check "a batch of $(($(wc -c <"$work/wide.json") / 1048576)) MiB with a wrong digest is answered 422 (got $code)" \
    test "$code" = 422
check "... BAD_DIGEST: it was parsed whole" grep -q '"BAD_DIGEST"' "$work/wide.out"
rss_near() { [ "$(rss_kb "$serve_pid")" -le $((before + 8 * 1024)) ]; }
wait_until 6 rss_near
check "... and the server's resident memory comes back within 8 MiB of before ($((before / 1024)) -> $(($(rss_kb "$serve_pid") / 1024)) MiB)" \
    rss_near
rm -f "$work/wide.json"
check "the server is still running" kill -0 "$serve_pid"
kill "$serve_pid" 2>/dev/null
wait "$serve_pid" 2>/dev/null

# --- 2. TLS versions -------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.crt" \
    >/dev/null 2>&1
port=$(free_port)
scheme=s serve "$port" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" ||
    not_ok "the HTTPS server is up"
# hello VERSION: the protocol a handshake offering only VERSION agreed on,
# or "failed". SECLEVEL=0 lets OpenSSL itself offer TLS 1.0 and 1.1.
hello() {
    local out
    out=$(openssl s_client -connect "127.0.0.1:$port" "-$1" -cipher 'DEFAULT@SECLEVEL=0' \
        </dev/null 2>&1)
    # "Protocol :" names the version up to 1.2; for 1.3 only "New, TLSv1.3"
    # does (before 1.3 that line names the cipher's version).
    if [ $? -eq 0 ] && printf '%s' "$out" | grep -q '^New, TLSv'; then
        { printf '%s\n' "$out" | sed -n 's/^ *Protocol *: *\(TLSv[0-9.]*\).*/\1/p'
          printf '%s\n' "$out" | sed -n 's/^New, \(TLSv[0-9.]*\), .*/\1/p'; } | head -n 1
    else
        echo failed
    fi
}
got=$(hello tls1)
check "a TLS 1.0 handshake is refused (got $got)" test "$got" = failed
got=$(hello tls1_1)
check "a TLS 1.1 handshake is refused (got $got)" test "$got" = failed
got=$(hello tls1_2)
check "a TLS 1.2 handshake succeeds (got $got)" test "$got" = TLSv1.2
got=$(hello tls1_3)
check "a TLS 1.3 handshake succeeds (got $got)" test "$got" = TLSv1.3
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/tls.crt" "https://127.0.0.1:$port/v1/health")
check "an HTTPS request is served (got $code)" test "$code" = 200
kill "$serve_pid" 2>/dev/null
wait "$serve_pid" 2>/dev/null

# --- 3. per-client limits behind a trusted proxy ---------------------------------------------
# held PORT N SAME: opens N connections each sending the header of a PUT
# whose 2-byte body it holds back (with X-Forwarded-For 10.9.0.I, or
# 10.9.9.9 on all when SAME is 1); prints how many were answered 503 at once
# or closed, then how many, their body sent, got an answer other than 503.
held() {
    python3 - "$1" "$2" "$3" "$token_a" "$job" <<'EOF'
import socket, sys, time
port, n, same, token, job = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5]
socks = []
for i in range(n):
    xff = "10.9.9.9" if same else "10.9.%d.%d" % (i // 200, i % 200 + 1)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(("PUT /v1/jobs/%s/batches/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "X-Forwarded-For: 198.51.100.7, %s\r\nContent-Length: 2\r\n\r\n"
                   % (job, token, xff)).encode())
        socks.append(s)
    except OSError:
        socks.append(None)
    time.sleep(0.02)
time.sleep(1)
refused, served = 0, 0
live = []
for s in socks:
    if s is None:
        refused += 1
        continue
    s.setblocking(False)
    try:
        data = s.recv(200)
        refused += 1  # answered before its body, or closed
    except BlockingIOError:
        live.append(s)
    except OSError:
        refused += 1
for s in live:
    s.setblocking(True)
    s.settimeout(10)
    try:
        s.sendall(b"{}")
        data = s.recv(200)
        if data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 503"):
            served += 1
    except OSError:
        pass
for s in socks:
    if s is not None:
        s.close()
print(refused, served)
EOF
}
port=$(free_port)
serve "$port" --trusted-proxy 127.0.0.1 || not_ok "the server behind a proxy is up"
got=$(held "$port" 80 0)
check "with --trusted-proxy, 80 requests in flight from 80 forwarded addresses are all served (refused, served: $got)" \
    test "$got" = "0 80"
got=$(held "$port" 80 1)
check "... and of 80 from one forwarded address, 64 are served and 16 refused (refused, served: $got)" \
    test "$got" = "16 64"
check "... with 503 and Retry-After" grep -q 'error=UNAVAILABLE' "$work/serve-$port.log"
got=$(held "$port" 80 0)
check "... and once they are done, 80 from 80 addresses are served again (refused, served: $got)" \
    test "$got" = "0 80"
kill "$serve_pid" 2>/dev/null
wait "$serve_pid" 2>/dev/null
got=$(held "$CLOUD_PORT" 80 0)
check "without --trusted-proxy X-Forwarded-For is ignored: 64 served, 16 refused (refused, served: $got)" \
    test "$got" = "16 64"
check "the cloud answers once they are gone" wait_until 10 curl -sf -o /dev/null "$CLOUD_URL/v1/health"

e2e_summary
