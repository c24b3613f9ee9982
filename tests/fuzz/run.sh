#!/bin/sh
# run.sh — runs each libFuzzer target (built by `make fuzz-build` with clang,
# ASan and UBSan) over its committed corpus, then fuzzes it for SECONDS, and
# prints one line per target with libFuzzer's coverage figures at the end of
# the run (cov: edges covered, ft: features, corp: inputs in the corpus).
#
#   sh tests/fuzz/run.sh BINDIR SECONDS [WORKDIR]
#
# Each target first replays every file of tests/fuzz/corpus/NAME (NAME is
# the target's name without fuzz_), then fuzzes with that corpus as seed.
# New inputs go to WORKDIR/NAME (kept between runs of `make fuzz`); without
# WORKDIR a temporary folder is used and removed. A crash, leak or undefined
# behaviour fails the target; its input is saved as
# build-fuzz/artifacts/NAME-crash-* and libFuzzer's log as
# build-fuzz/logs/NAME.log. Leaks inside third-party libraries that are not
# built with the sanitizers are suppressed one by one in
# tests/fuzz/lsan.supp. Ends with "N passed, N failed".
set -u

bindir=$1
seconds=$2
workdir=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=""
if [ -z "$workdir" ]; then
    tmp=$(mktemp -d /tmp/ds-fuzz-XXXXXX)
    workdir=$tmp
fi
mkdir -p "$top/build-fuzz/artifacts" "$top/build-fuzz/logs"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

pass=0
fail=0
for bin in "$bindir"/fuzz_*; do
    [ -x "$bin" ] || continue
    target=${bin##*/}
    name=${target#fuzz_}
    seed="$top/tests/fuzz/corpus/$name"
    log="$top/build-fuzz/logs/$name.log"
    mkdir -p "$workdir/$name"
    ok=1
    replayed=0
    # 1. The committed corpus, each file once.
    if [ -d "$seed" ]; then
        replayed=$(find "$seed" -type f | wc -l)
        if [ "$replayed" -gt 0 ] &&
            ! find "$seed" -type f -print0 | xargs -0 "$bin" \
                -artifact_prefix="$top/build-fuzz/artifacts/$name-" >"$log" 2>&1; then
            ok=0
        fi
    fi
    # 2. A bounded fuzzing run seeded with it.
    if [ $ok -eq 1 ]; then
        set -- "$workdir/$name"
        [ -d "$seed" ] && set -- "$@" "$seed"
        if ! "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$top/build-fuzz/artifacts/$name-" \
            "$@" >>"$log" 2>&1; then
            ok=0
        fi
    fi
    # The last status line of libFuzzer: "#N DONE cov: C ft: F corp: I/S ...".
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
        sed -n 's/^#\([0-9]*\).*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\).*/\1 \2 \3 \4/p')
    set -- $stats 0 0 0 0
    if [ $ok -eq 1 ]; then
        pass=$((pass + 1))
        printf '%-22s ok: %d seed input(s), %d runs in %ss, cov %s, ft %s, corpus %s\n' \
            "$target" "$replayed" "$1" "$seconds" "$2" "$3" "$4"
    else
        fail=$((fail + 1))
        printf '%-22s FAILED after %d runs (cov %s, ft %s); log: %s\n' \
            "$target" "$1" "$2" "$3" "${log#"$top"/}"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
    fi
done
[ -n "$tmp" ] && rm -rf "$tmp"
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
