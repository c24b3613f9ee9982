#!/bin/bash
# setup.sh — `dentsync setup` (a first configuration for an unattended
# install: the Windows installer runs it) and what `dentsync service` and
# `run --service` say on Linux, where the service is the systemd unit.
# Needs no PostgreSQL nor cloud: setup only writes and checks files.
#
#   1. setup writes the token (0600, the token only) and a configuration
#      that check-config accepts, pointing at them;
#   2. a second setup keeps the configuration as it is, and rewrites the
#      token; the token is never printed;
#   3. a bad URL, a bad practice name, a missing folder or no token: exit
#      2 or 3 and no configuration written;
#   4. `service status|install` and `run --service` exit 2 naming systemd.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"
e2e_work setup

ds=$BUILD/dentsync
conf=$work/etc/dentsync.conf
mkdir -p "$work/etc" "$work/exports"
tok=e2e-setup-token-$$

out=$(printf '%s\n' "$tok" | "$ds" setup -c "$conf" --cloud-url https://api.example.com \
    --practice main --folder "$work/exports" --token-stdin 2>&1)
rc=$?
check "setup exits 0 (got $rc)" test "$rc" = 0
check "the token file holds the token alone" test "$(cat "$work/etc/main.token")" = "$tok"
check "the token file is 0600" test "$(stat -c %a "$work/etc/main.token")" = 600
check "the configuration is 0600" test "$(stat -c %a "$conf")" = 600
check "check-config accepts it" "$ds" check-config -c "$conf"
check "it names the token file" grep -qx "token_file = $work/etc/main.token" "$conf"
check "it names the folder" grep -qx "path = $work/exports" "$conf"
check "it names the URL" grep -qx "url = https://api.example.com" "$conf"
check "the token is not in setup's output" test "${out#*"$tok"}" = "$out"
check "no file is left aside" test "$(ls "$work/etc")" = "dentsync.conf
main.token"

before=$(sha256sum <"$conf")
out=$("$ds" setup -c "$conf" --cloud-url https://other.example.com --practice main \
    --folder "$work/exports" --token "$tok-2" 2>&1)
rc=$?
check "a second setup exits 0" test "$rc" = 0
check "it keeps the configuration" test "$(sha256sum <"$conf")" = "$before"
check "it says so" grep -q 'kept as it is' <<<"$out"
check "it rewrites the token" test "$(cat "$work/etc/main.token")" = "$tok-2"

bad() { # bad DESC STATUS ARGS...: exits STATUS, writes no configuration
    local desc=$1 want=$2
    shift 2
    rm -rf "$work/b" && mkdir -p "$work/b"
    "$ds" setup -c "$work/b/dentsync.conf" "$@" </dev/null >/dev/null 2>&1
    local rc=$?
    check "$desc: exit $want (got $rc)" test "$rc" = "$want"
    check "$desc: no configuration" test ! -e "$work/b/dentsync.conf" -a ! -e "$work/b/dentsync.conf.new"
}
bad "plain http to a remote host" 3 --cloud-url http://api.example.com --practice main \
    --folder "$work/exports" --token x
bad "a missing export folder" 3 --cloud-url https://api.example.com --practice main \
    --folder "$work/nowhere" --token x
bad "a practice name with a bracket" 2 --cloud-url https://api.example.com --practice 'a]b' \
    --folder "$work/exports" --token x
bad "no token on stdin" 2 --cloud-url https://api.example.com --practice main \
    --folder "$work/exports" --token-stdin
bad "a URL with a comment sign" 2 --cloud-url 'https://api.example.com/#x' --practice main \
    --folder "$work/exports" --token x

for verb in status install; do
    out=$("$ds" service "$verb" -c "$conf" 2>&1)
    rc=$?
    check "service $verb on Linux: exit 2 (got $rc)" test "$rc" = 2
    check "service $verb names systemd" grep -q 'systemd unit dentsync.service' <<<"$out"
done
out=$("$ds" run --service -c "$conf" 2>&1)
rc=$?
check "run --service on Linux: exit 2, no daemon (got $rc)" test "$rc" = 2
check "run --service names systemd" grep -q systemd <<<"$out"
check "run --service started nothing" test ! -e "$work/etc/state"
check "service with no verb: usage, exit 2" test "$("$ds" service >/dev/null 2>&1; echo $?)" = 2

e2e_summary
