#!/bin/bash
# alloc-loop.sh — the allocation-failure mode looped over the unit tests:
# each binary runs again and again with DS_UNIT_FAIL_ALLOC=N (the Nth
# allocation of libuv, jansson, SQLite or libcurl fails; tests/unit/alloc_env.c)
# until a run passes without reaching N. Meant for the ASan+UBSan build.
#
#   bash tests/tools/alloc-loop.sh BUILD_DIR [BINARY...]
#
# A run may fail its tests (an assertion sees the error the failure caused),
# but it must never:
#   - crash: a signal, an AddressSanitizer or UBSan report, a cmocka
#     "exception", a run without its closing `# alloc:` line;
#   - hang past ALLOC_TIMEOUT seconds (default 120);
#   - leak, when every test of the run passed (the failure was absorbed):
#     LeakSanitizer must report nothing. A run whose test failed stopped
#     that test half-way (cmocka jumps out of it), so the objects the test
#     still held are not freed by design; those runs are counted apart.
#
# Bounded run time: N = 1..ALLOC_DENSE (default 5), then ALLOC_RUNS (default
# 20) values spread over the binary's allocations with a stride (the count
# comes from a first run with N = 0), shifted by ALLOC_SEED (default 0), then
# on by the stride until a run does not reach N. With ALLOC_RUNS=0 every N
# is tried (slow: test_store makes ~150,000 allocations).
#
# test_alloc is skipped: it is the same torture, scenario by scenario, with
# its own exact leak count. test_control too: each control request runs a
# libuv loop of its own, and libuv 1.44 aborts when an allocation in
# uv_loop_init fails (it cannot grow its watcher array), which is libuv's
# choice, not a failure this mode could find in the agent. test_watch for the
# same reason: its loop test starts a libuv loop, and its other tests
# allocate nothing. Each run gets a private /tmp (unshare -m and a
# tmpfs) when it can, since a test that fails half-way leaves its files.
#
# Prints one line per binary and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: alloc-loop.sh BUILD_DIR [BINARY...]}
shift
dense=${ALLOC_DENSE:-5}
budget=${ALLOC_RUNS:-20}
seed=${ALLOC_SEED:-0}
limit=${ALLOC_TIMEOUT:-120}
# The runs get a private /tmp (below), which hides the tree when it lies
# under /tmp itself: run from the tree and name it relatively, through the
# working directory, which the new mount does not hide.
cd "$top" || exit 1
export DS_TEST_SRCDIR=.
# Leaks are looked for at exit; a report ends the run with exit code 23.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=23}

if [ $# -eq 0 ]; then
    set -- "$build"/tests/test_*
fi

private_tmp=0
if [ "$(id -u)" = 0 ] && unshare -m sh -c 'mount -t tmpfs -o size=256m tmpfs /tmp' 2>/dev/null; then
    private_tmp=1
fi

# Binaries are looped ALLOC_JOBS at a time (default: the cores), each
# with its own output file; their lines are printed in the order given.
jobs_max=${ALLOC_JOBS:-$(nproc 2>/dev/null || echo 1)}
results=$(mktemp -d /tmp/dentsync-alloc-loop.XXXXXX)
trap 'rm -rf "$results"' EXIT

# run BIN N: runs BIN with the Nth allocation failing, output in $out (the
# caller's).
run() {
    if [ "$private_tmp" = 1 ]; then
        DS_UNIT_FAIL_ALLOC=$2 timeout "$limit" unshare -m sh -c \
            'mount -t tmpfs -o size=256m tmpfs /tmp && exec "$0"' "$1" >"$out" 2>&1
    else
        DS_UNIT_FAIL_ALLOC=$2 timeout "$limit" "$1" >"$out" 2>&1
    fi
}

# loop_one BIN: the loop over one binary; prints its `ok -`/`not ok -` line.
loop_one() {
    local bin=$1 name=${1##*/} out="$results/${1##*/}.out"
    local rc total stride runs absorbed test_failed leaky_failed bad n report

    [ -x "$bin" ] || { echo "not ok - $name: no such binary"; return; }
    # The count of a run without failure sets the stride.
    run "$bin" 0
    rc=$?
    total=$(sed -n 's/^# alloc: \([0-9]*\) allocation.*/\1/p' "$out" | tail -n 1)
    if [ "$rc" != 0 ] || [ -z "$total" ]; then
        echo "not ok - $name: fails without any allocation failing (exit $rc)"
        tail -n 20 "$out"
        return
    fi
    stride=1
    if [ "$budget" -gt 0 ] && [ "$total" -gt $((dense + budget)) ]; then
        stride=$(((total - dense + budget - 1) / budget))
    fi
    runs=0 absorbed=0 test_failed=0 leaky_failed=0 bad=
    n=1
    while :; do
        run "$bin" "$n"
        rc=$?
        runs=$((runs + 1))
        report=$(grep '^# alloc: ' "$out" | tail -n 1)
        if [ "$rc" = 124 ]; then
            bad="allocation $n failing: hangs past ${limit}s"
        elif grep -qE 'ERROR: AddressSanitizer|runtime error:|Test failed with exception' "$out"; then
            bad="allocation $n failing: $(grep -m 1 -E 'ERROR: AddressSanitizer|runtime error:|exception' "$out")"
        elif [ "$rc" -ge 128 ] || [ -z "$report" ]; then
            bad="allocation $n failing: the run died (exit $rc) without its report"
        elif grep -q 'ERROR: LeakSanitizer' "$out"; then
            if grep -qE '^\[  (FAILED|ERROR) ' "$out"; then
                leaky_failed=$((leaky_failed + 1))
            else
                bad="allocation $n failing: every test passed but memory leaked"
            fi
        fi
        if [ -n "$bad" ]; then
            break
        fi
        if grep -qE '^\[  (FAILED|ERROR) ' "$out"; then
            test_failed=$((test_failed + 1))
        else
            absorbed=$((absorbed + 1))
        fi
        case $report in
        *"not reached")
            [ "$rc" = 0 ] && break
            bad="allocation $n (past the last) not reached, yet the run failed (exit $rc)"
            break
            ;;
        esac
        if [ "$n" -lt "$dense" ] || [ "$stride" = 1 ]; then
            n=$((n + 1))
        elif [ "$n" = "$dense" ]; then
            n=$((dense + 1 + seed % stride))
        else
            n=$((n + stride))
        fi
    done
    if [ -n "$bad" ]; then
        echo "not ok - $name: $bad (reproduce: DS_UNIT_FAIL_ALLOC=$n $bin)"
        grep -A 12 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|exception' "$out" | head -n 40
    else
        echo "ok - $name: $total allocation(s), $runs run(s) (stride $stride): $absorbed passed, $test_failed failed a test cleanly ($leaky_failed of them left the test's objects behind), none crashed"
    fi
}

names=()
for bin in "$@"; do
    name=${bin##*/}
    [ "$name" = test_alloc ] && continue
    [ "$name" = test_control ] && continue
    [ "$name" = test_watch ] && continue
    names+=("$name")
    loop_one "$bin" >"$results/$name.line" 2>&1 &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
        wait -n
    done
done
wait
passed=0
failed=0
for name in ${names[@]+"${names[@]}"}; do
    cat "$results/$name.line"
    if head -n 1 "$results/$name.line" | grep -q '^ok - '; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
