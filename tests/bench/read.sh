#!/bin/sh
# read.sh — `make bench-read`: the CSV reader's speed and memory alone
# (tests/bench/read: every row through ds_read_next_row, nothing after it),
# without PostgreSQL, in about a minute. `make bench` measures the same
# among its other figures.
#
#   BUILD=build sh tests/bench/read.sh
#
# BENCH_ROWS (default 1000000) rows of samples/generate-bench.sh
# appointments (UTF-8 with BOM, CRLF, quotes where needed, as Excel writes
# CSV) are read BENCH_RUNS (default 3) times; then a file four times as
# large is read once, to show the peak memory does not grow with the file.
# Wall-clock speed depends on the machine's load, printed with each run;
# the speed from CPU time is the steadier figure. Prints `name value` lines
# at the end (medians).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
ROWS=${BENCH_ROWS:-1000000}
RUNS=${BENCH_RUNS:-3}
bin=$BUILD/tests/bench/read
[ -x "$bin" ] || {
    echo "bench-read: build first: make $BUILD/tests/bench/read" >&2
    exit 1
}
work=$(mktemp -d /tmp/dentsync-bench-read.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

field() { awk -v k="$1" '$1 == k { print $2 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

sh "$top/samples/generate-bench.sh" -t appointments -n "$ROWS" -o "$work/a.csv"
size=$(stat -c %s "$work/a.csv")
echo "== $ROWS rows, $size bytes, $(nproc) CPU(s)"
cat "$work/a.csv" >/dev/null
wall=""
cpu=""
for r in $(seq 1 "$RUNS"); do
    out=$("$bin" "$work/a.csv")
    w=$(printf '%s\n' "$out" | field read_mb_per_s)
    c=$(printf '%s\n' "$out" | field read_cpu_mb_per_s)
    rss=$(printf '%s\n' "$out" | field read_peak_rss_mb)
    wall="$wall $w"
    cpu="$cpu $c"
    echo "   run $r: $w MB/s wall, $c MB/s CPU, peak RSS $rss MB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
rm -f "$work/a.csv"
sh "$top/samples/generate-bench.sh" -t appointments -n $((ROWS * 4)) -o "$work/b.csv"
big=$(stat -c %s "$work/b.csv")
out=$("$bin" "$work/b.csv")
big_rss=$(printf '%s\n' "$out" | field read_peak_rss_mb)
echo "== $((ROWS * 4)) rows, $big bytes: $(printf '%s\n' "$out" | field read_mb_per_s) MB/s wall, peak RSS $big_rss MB"
# shellcheck disable=SC2086
echo "read_mb_per_s $(median $wall)"
# shellcheck disable=SC2086
echo "read_cpu_mb_per_s $(median $cpu)"
echo "read_peak_rss_mb $rss"
echo "read_big_peak_rss_mb $big_rss"
