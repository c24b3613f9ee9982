#!/bin/bash
# test.sh — the Windows build under wine (`make windows-test`, part of
# `make test`; docs/windows.md). One wine prefix for the whole run, under
# the work folder (its first start is most of the time).
#
#   1. the libraries (installer/win-deps.sh, seconds once cached): when they
#      cannot be built here (the mirror lacks a source), the suite is one
#      skip that says why;
#   2. holdopen.exe: an open with FILE_SHARE_WRITE only denies a reader,
#      and letting go allows it (the helper of the export-folder checks);
#   3. the service layer (svccheck.exe: agent/os/os_service_win.c with a
#      stand-in daemon) against wine's service manager: install registers
#      the virtual account and the command line, start reaches RUNNING, a
#      STOP reaches the daemon, which stops cleanly, uninstall removes it;
#   4. dentsync.exe builds (make windows) and answers --version and
#      `service status` under wine;
#   5. the unit tests of the platform layer and the readers, cross-built
#      with cmocka, each run under wine;
#   6. the installer's tables (tests/win/msi.sh);
#   7. dentsync.exe end to end against the Linux cloud and PostgreSQL
#      (tests/win/e2e.sh: a CSV, an XLSX and an XLS field by field; a kill
#      -9 in the middle of an upload loses and duplicates nothing; an
#      export held open without FILE_SHARE_READ is not taken until let go).
#
# Prints `ok - …` / `not ok - …` / `skip - …` and ends with
# `N passed, N failed[, N skipped]`.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"
cd "$top" || exit 1
e2e_work win

WIN_BUILD=${WIN_BUILD:-build-win}
WIN_CACHE=${WIN_CACHE:-/var/cache/dentsync-win}
WIN_MAKE="make --no-print-directory DEPS=0 WIN=1 BUILD=$WIN_BUILD WIN_CACHE=$WIN_CACHE"
# The unit tests that cover the platform layer and the readers.
UNIT="$(cd tests/unit && ls test_os_*.c 2>/dev/null | sed 's/\.c$//')
test_read_csv test_read_encoding test_read_ics test_read_xls test_config test_portable"
start=$(date +%s)

# --- 1. the libraries --------------------------------------------------------
if ! sh installer/deps.sh windows >"$work/deps.log" 2>&1; then
    skip "the Windows build: its tools could not be installed ($(tail -n 1 "$work/deps.log"))"
    e2e_summary
    exit
fi
if ! DS_WIN_CACHE=$WIN_CACHE sh installer/win-deps.sh >"$work/win-deps.log" 2>&1; then
    skip "the Windows build: the libraries could not be built here:" \
        "$(grep 'FAILED:\|could not be downloaded' "$work/win-deps.log" | tail -n 2 | tr '\n' ' ')"
    e2e_summary
    exit
fi
grep 'WITHOUT\|using .* from' "$work/win-deps.log" | sed 's/^/# /'

export WINEPREFIX=$work/wine WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
e2e_on_exit() { wineserver -k >/dev/null 2>&1; }
t0=$(date +%s)
if ! wineboot -i >"$work/wineboot.log" 2>&1; then
    bail "wine could not make its prefix: $(tail -n 3 "$work/wineboot.log")"
fi
# wineboot's session ends on its own a little later; the checks below
# need a session of their own.
wineserver -w
echo "# wine prefix made in $(($(date +%s) - t0)) s"
drive_c=$WINEPREFIX/drive_c
# wine CMD...: its output with \n line ends; its status.
w() {
    local rc
    wine "$@" >"$work/w.out" 2>&1
    rc=$?
    tr -d '\r' <"$work/w.out"
    return $rc
}

# --- 2. holdopen ---------------------------------------------------------------
if $WIN_MAKE -j2 "$WIN_BUILD/win/holdopen.exe" "$WIN_BUILD/win/svccheck.exe" >"$work/helpers.log" 2>&1; then
    out=$(w "$WIN_BUILD/win/holdopen.exe" --self-test 'C:\held.txt')
    check "holdopen: $(echo "$out" | tail -n 1)" grep -q '^3 passed, 0 failed' <<<"$out"
else
    bail "the helpers build: $(tail -n 5 "$work/helpers.log")"
fi
# One wine session for the rest: wine ends its service manager (and the
# services) with the last program of a session, and a new session starts
# the services marked automatic again. A program held open keeps it.
wine "$WIN_BUILD/win/holdopen.exe" 'C:\session.txt' 900 >"$work/keeper.out" 2>&1 &
keeper=$!
e2e_on_exit() {
    kill "$keeper" 2>/dev/null
    wineserver -k >/dev/null 2>&1
}
wait_until 60 grep -q held "$work/keeper.out" || bail "wine's session did not start"
cp "$WIN_BUILD/win/svccheck.exe" "$drive_c/svccheck.exe" || bail "no svccheck.exe"
svc() { w 'C:\svccheck.exe' "$1" 'C:\stopped.txt'; }
# The service manager holds its database locked while it starts wine's own
# services (tens of seconds on a busy machine).
wait_until 120 eval 'svc status | grep -q "not installed"' ||
    bail "wine's service manager did not answer: $(svc status)"
echo "# wine's session and service manager up after $(($(date +%s) - t0)) s"

# --- 3. the service layer --------------------------------------------------------
out=$(svc install)
rc=$?
reg=$(w reg query 'HKLM\System\CurrentControlSet\Services\dentsync')
check "service install: registered with the virtual account" \
    grep -q 'ObjectName.*NT SERVICE\\dentsync' <<<"$reg"
check "service install: automatic start (Start 2)" grep -q 'Start.*REG_DWORD.*0x2$' <<<"$reg"
check "service install: runs run --service -c CONFIG" \
    grep -q 'ImagePath.*"C:\\svccheck.exe" run --service -c "C:\\stopped.txt"' <<<"$reg"
if [ "$rc" = 0 ]; then
    ok "service install: delayed start, recovery actions and service identifier set"
elif grep -q 'error 124' <<<"$out"; then
    skip "service install: delayed start, recovery actions and service identifier: wine's" \
        "ChangeServiceConfig2W knows none of them (ERROR_INVALID_LEVEL); checked in the" \
        "installer's tables instead"
else
    not_ok "service install: $out"
fi
out=$(svc start)
# Now and then wine's service manager answers a first start with
# ERROR_INTERNAL_ERROR (1359): seen once in five runs of this suite, on an
# idle machine, while wine's own services of the session were starting;
# its cause inside wine was not found. The start is asked once more, and
# the retry is said; a second failure fails the check.
if grep -q 'error 1359' <<<"$out"; then
    echo "# service start: wine's service manager answered 1359; asking once more"
    sleep 2
    out=$(svc start)
fi
check "service start: running ($out)" grep -q 'service running (pid' <<<"$out"
out=$(svc status)
check "service status: running" grep -q 'service running' <<<"$out"
out=$(svc stop)
check "service stop: stopped ($out)" grep -q 'service stopped' <<<"$out"
check "service stop: the daemon got the stop and ended cleanly" \
    grep -q 'stopped cleanly' "$drive_c/stopped.txt"
out=$(svc status)
check "service status: stopped" grep -q 'service stopped' <<<"$out"
out=$(svc uninstall)
check "service uninstall: removed" grep -q 'service removed' <<<"$out"
out=$(svc status)
check "service status after uninstall: not installed, exit 1" \
    test "$?" = 1 -a -n "$(grep 'not installed' <<<"$out")"
out=$(w "$WIN_BUILD/win/svccheck.exe" run --service -c 'C:\x.txt')
check "run --service outside the service manager: exit 2, says so" \
    test "$?" = 2 -a -n "$(grep 'is for the service manager' <<<"$out")"

# --- 4. dentsync.exe -----------------------------------------------------------------
exe_ok=0
lib_ok=0
if $WIN_MAKE -j2 "$WIN_BUILD/libdentsync.a" >"$work/lib.log" 2>&1; then
    lib_ok=1
else
    not_ok "the agent's library builds for Windows: $(grep -c 'error:' "$work/lib.log") error(s);" \
        "the first: $(grep -m 3 'error:' "$work/lib.log" | tr '\n' ' ')"
fi
if [ "$lib_ok" = 1 ] && $WIN_MAKE "$WIN_BUILD/dentsync.exe" windows-zoneinfo >"$work/agent.log" 2>&1; then
    ok "dentsync.exe builds ($(stat -c %s "$WIN_BUILD/dentsync.exe") bytes)"
    exe_ok=1
    out=$(w "$WIN_BUILD/dentsync.exe" --version)
    check "dentsync.exe --version under wine ($out)" grep -q '^dentsync [0-9]' <<<"$out"
    out=$(w "$WIN_BUILD/dentsync.exe" service status)
    check "dentsync service status: not installed, exit 1" \
        test "$?" = 1 -a -n "$(grep 'not installed' <<<"$out")"
    # The installer's setup step (as the MSI runs it, at the data folder
    # it makes): the token and the configuration land there, the folder
    # is made the agent's own, and the token passes the privacy check of
    # check-config and doctor. Wine keeps no DACL (it derives one from the
    # mode bits), so which accounts the folder grants is not seen here.
    mkdir -p "$work/exports" "$drive_c/ProgramData/dentsync"
    data='C:\ProgramData\dentsync'
    out=$(w "$WIN_BUILD/dentsync.exe" setup -c "$data\dentsync.conf" --cloud-url https://api.example.com \
        --practice main --folder "Z:$(tr / '\\' <<<"$work/exports")" --token e2e-setup-token-$$)
    check "setup at the installer's data folder: exit 0, token and configuration written ($out)" \
        test "$?" = 0 -a -f "$drive_c/ProgramData/dentsync/main.token" \
        -a -f "$drive_c/ProgramData/dentsync/dentsync.conf"
    check "setup: the token is not in its output" test -z "$(grep "e2e-setup-token-$$" <<<"$out")"
    out=$(w "$WIN_BUILD/dentsync.exe" check-config -c "$data\dentsync.conf")
    check "setup: check-config accepts what it wrote ($out)" grep -q 'OK (1 practice(s), 1 folder(s))' <<<"$out"
    out=$(w "$WIN_BUILD/dentsync.exe" doctor -c "$data\dentsync.conf")
    check "setup: doctor finds the token private" \
        grep -q '^OK .*token_file .*main.token' <<<"$out"
    out=$(w "$WIN_BUILD/dentsync.exe" setup -c "$data\dentsync.conf" --cloud-url https://api.example.com \
        --practice main --folder "Z:$(tr / '\\' <<<"$work/exports")" --token e2e-setup-token2-$$)
    check "setup again (a repair or an upgrade): exit 0, the new token in place" \
        test "$?" = 0 -a "$(tr -d '\r\n' <"$drive_c/ProgramData/dentsync/main.token")" = "e2e-setup-token2-$$"
elif [ "$lib_ok" = 1 ]; then
    not_ok "dentsync.exe builds; the first errors: $(grep -m 5 'error' "$work/agent.log")"
else
    not_ok "dentsync.exe builds (its library does not)"
fi

# --- 5. the unit tests -------------------------------------------------------------------
for t in $UNIT; do
    [ -e "tests/unit/$t.c" ] || continue
    if [ "$lib_ok" = 0 ]; then
        not_ok "$t builds for Windows (the agent's library does not)"
        continue
    fi
    if ! $WIN_MAKE "$WIN_BUILD/tests/$t.exe" >"$work/$t.build.log" 2>&1; then
        not_ok "$t builds for Windows: $(grep -m 3 'error' "$work/$t.build.log")"
        continue
    fi
    # The exit status is the test binary's (a status taken after out=$(… | tr)
    # would be tr's); a FAILED line fails the check as well.
    DS_TEST_SRCDIR="Z:$top" timeout 300 wine "$WIN_BUILD/tests/$t.exe" >"$work/$t.out" 2>&1
    rc=$?
    out=$(tr -d '\r' <"$work/$t.out")
    if [ "$rc" = 0 ] && grep -q '^\[  FAILED  \]' <<<"$out"; then
        rc=1
    fi
    sum=$(grep -E '^\[  (PASSED|FAILED)  \]' <<<"$out" | tr '\n' ' ')
    # A test that cannot hold under wine calls cmocka's skip() after a line
    # `skipped: REASON`: each is a skip of this suite, with its reason.
    awk '/^skipped: / { r = substr($0, 10) }
         /^\[  SKIPPED \] [A-Za-z0-9_]+$/ && !seen[$4]++ {
             print $4 ": " (r != "" ? r : "(no reason given)"); r = "" }' <<<"$out" >"$work/$t.skips"
    while read -r line; do
        skip "$t under wine: $line"
    done <"$work/$t.skips"
    if [ "$rc" = 0 ]; then
        ok "$t under wine: $sum"
    else
        not_ok "$t under wine (exit $rc): $sum $(grep '^\[  FAILED  \] ' <<<"$out" | tr '\n' ' ')"
    fi
done

# --- 6. the installer ------------------------------------------------------------------------
if [ "$exe_ok" = 1 ] && $WIN_MAKE windows-msi >"$work/msi.log" 2>&1; then
    version=$(sed -n 's/^#define DS_VERSION "\(.*\)"/\1/p' agent/core/version.h)
    msi="$WIN_BUILD/dentsync-$version-x64.msi"
    check "the installer is named for the version (${msi##*/})" test -n "$version" -a -f "$msi"
    out=$(sh tests/win/msi.sh "$msi")
    echo "$out" | grep -v '^ok' | sed 's/^/# /'
    check "the installer's tables: $(echo "$out" | tail -n 1)" test "$(echo "$out" | tail -n 1 | cut -d' ' -f3)" = 0
else
    not_ok "the installer builds: $(tail -n 3 "$work/msi.log" 2>/dev/null || echo 'no dentsync.exe')"
fi

# --- 7. end to end ---------------------------------------------------------------------------
# dentsync.exe against the Linux cloud and PostgreSQL (tests/win/e2e.sh), in
# this prefix and session; its checks count as this suite's.
if [ "$exe_ok" = 1 ]; then
    t1=$(date +%s)
    WIN_BUILD=$WIN_BUILD bash tests/win/e2e.sh >"$work/e2e.out" 2>&1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/e2e.out" | tail -n 1)
    grep -vE '^[0-9]+ passed, [0-9]+ failed' "$work/e2e.out"
    if [ -z "$line" ]; then
        not_ok "tests/win/e2e.sh ended without its summary"
    else
        echo "# tests/win/e2e.sh: $line in $(($(date +%s) - t1)) s"
        passed=$((passed + ${line%% passed*}))
        f=${line#*passed, }
        failed=$((failed + ${f%% failed*}))
        case $line in
        *skipped*)
            s=${line#*failed, }
            skipped=$((skipped + ${s%% skipped*}))
            ;;
        esac
    fi
else
    not_ok "the end-to-end run under wine (dentsync.exe does not build)"
fi

echo "# the Windows suite took $(($(date +%s) - start)) s"
e2e_summary
