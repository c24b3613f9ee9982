#!/bin/bash
# bench.sh — `make bench`: the agent's speed, memory and idle cost, each
# measured beside a reference on the same machine in the same run.
#
#   BUILD=build bash tests/bench/bench.sh
#
# Environment (all optional):
#   BENCH_ROWS     rows of the export file (default 1000000)
#   BENCH_SYNC_ROWS  rows of the file synced through the cloud (default BENCH_ROWS)
#   BENCH_SYNC_TIMEOUT  seconds one sync may take (default 1800); past it the
#                  sync and delta figures are reported as bounds (">") and
#                  the remaining sync runs are skipped
#   BENCH_GB       size of the file staged for peak memory (default 1; 0 skips it)
#   BENCH_RUNS     runs per figure, the median is shown (default 3)
#   BENCH_IDLE_S   how long the idle agent is watched (default 60)
#   BENCH_DIR      where the files and databases go (default a new dir in /tmp)
#   BENCH_KEEP=1   keep BENCH_DIR afterwards
#   BENCH_ONLY     sync: only the sync (and delta) and the cloud's figures;
#                  cloud: only the cloud's (tests/bench/cloud.sh); default all
#
# Figures (docs/performance.md has the goals and the latest numbers):
#   stage_ratio    agent staging rows/s (tests/bench/stage: ds_ingest_run on a
#                  fresh queue) / sqlite3 .import rows/s of the same CSV
#   stage_cpu_ratio  the same from CPU seconds (steadier on a busy machine)
#   sync_ratio     file dropped -> every row in PostgreSQL through the cloud API,
#                  / psql \copy of the same CSV into an unindexed text table
#   sync_floor_ratio  the same sync / an INSERT ... SELECT of the rows it
#                  stored into a copy of their table with its indexes (the
#                  storage floor), run by run
#   delta_ratio    the same snapshot again with 1% of rows changed / first sync
#   peak_rss_mb    peak resident set while staging a BENCH_GB file
#   read_mb_per_s, read_cpu_mb_per_s  the CSV reader alone (tests/bench/read:
#                  ds_read_next_row over the export), file MB per wall and
#                  per CPU second; read_big_peak_rss_mb the same on the
#                  BENCH_GB file (flat memory: about read_peak_rss_mb)
#   idle_cpu_s, idle_rss_mb  an agent watching 5 empty folders for BENCH_IDLE_S
#                  (idle_anon_mb: the RssAnon part of it, the agent's own memory)
#   latency_s      file settled -> its first batch acknowledged (agent log)
#   preview_s, preview_all_s  `dentsync preview` of the file, when it exists
#   preview_all_ratio  --all / libcsv alone parsing the file (tests/bench/csvparse);
#                  preview_all_cpu_ratio the same from CPU seconds
#
# The import type is appointments (the cloud needs their patients first, so
# the matching patients file is synced before each timed run) once the
# agent's configuration accepts it; until then the bench runs on patients
# and says so. Prints a table, then one `name value` line per figure.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
ROWS=${BENCH_ROWS:-1000000}
SYNC_ROWS=${BENCH_SYNC_ROWS:-$ROWS}
GB=${BENCH_GB:-1}
RUNS=${BENCH_RUNS:-3}
IDLE_S=${BENCH_IDLE_S:-60}
ONLY=${BENCH_ONLY:-all}
case $ONLY in all | sync | cloud) ;; *)
    printf 'bench: BENCH_ONLY is sync, cloud or unset\n' >&2
    exit 2
    ;;
esac
agent=$BUILD/dentsync
stage=$BUILD/tests/bench/stage
csvparse=$BUILD/tests/bench/csvparse
. "$top/tests/lib/pg.sh"

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}
for tool in sqlite3 psql awk python3 /usr/bin/time; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
if [ "$ONLY" = cloud ]; then
    # The cloud's figures alone, with their own cluster.
    BUILD=$BUILD exec bash "$top/tests/bench/cloud.sh"
fi
# want SECTION: whether BENCH_ONLY runs it (sync keeps the sync and the cloud)
want() { [ "$ONLY" = all ] || [ "$1" = sync ]; }
[ -x "$agent" ] && [ -x "$stage" ] && [ -x "$BUILD/tests/bench/read" ] && [ -x "$csvparse" ] &&
    [ -x "$BUILD/dentsync-cloud" ] ||
    die "build first: make $BUILD/dentsync $BUILD/dentsync-cloud $BUILD/tests/bench/stage $BUILD/tests/bench/read $BUILD/tests/bench/csvparse"

if [ -n "${BENCH_DIR:-}" ]; then
    work=$BENCH_DIR
    mkdir -p "$work" || die "cannot create $work"
else
    work=$(mktemp -d /tmp/dentsync-bench.XXXXXX) || die "no temp dir"
fi
agent_pids=
cleanup() {
    for p in $agent_pids; do
        kill -9 "$p" 2>/dev/null
    done
    cloud_stop >/dev/null 2>&1
    pg_stop >/dev/null 2>&1
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
# elapsed START END -> seconds with 3 decimals
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# median V... (of numbers; "n/a" when none)
median() {
    [ $# -gt 0 ] || {
        echo n/a
        return
    }
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%s", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }'; }
# An ISO timestamp of the agent log (2026-01-02T03:04:05.678Z) in epoch seconds.
log_epoch() { date -d "$1" +%s.%N; }

# --- the import type ---------------------------------------------------------
mkdir -p "$work/probe"
printf 'tok\n' >"$work/token"
chmod 600 "$work/token"
cat >"$work/probe.conf" <<EOF
[agent]
state_dir = $work/probe
[cloud]
url = http://127.0.0.1:9
[practice main]
token_file = $work/token
[folder a]
path = $work/probe
practice = main
import_type = appointments
template = generic-appointments
EOF
if "$agent" check-config -c "$work/probe.conf" >/dev/null 2>&1; then
    type=appointments
    type_note="appointments (generic-appointments)"
else
    type=patients
    type_note="patients (generic-patients): this build does not accept import_type = appointments yet"
fi
table=$type
[ "$type" = patients ] || table=appointments

# --- the files -----------------------------------------------------------------
say "== generating $ROWS $type rows in $work"
gen() { sh "$top/samples/generate-bench.sh" "$@"; }
npat=$((ROWS / 4))
[ "$npat" -ge 1 ] || npat=1
gen -t "$type" -n "$ROWS" -m "$npat" -o "$work/export.csv" || die "generator failed"
if [ "$SYNC_ROWS" = "$ROWS" ]; then
    ln -s export.csv "$work/sync.csv"
else
    gen -t "$type" -n "$SYNC_ROWS" -m "$npat" -o "$work/sync.csv" || die "generator failed"
fi
gen -t "$type" -n "$SYNC_ROWS" -m "$npat" -c 1 -o "$work/sync-changed.csv" || die "generator failed"
if [ "$type" = appointments ]; then
    gen -t patients -n "$npat" -o "$work/patients.csv" || die "generator failed"
fi
size=$(stat -c %s "$work/export.csv")
ncols=$(head -n 1 "$work/export.csv" | tr -cd , | wc -c)
ncols=$((ncols + 1))

# --- agent configuration ----------------------------------------------------
# write_conf FILE STATE_DIR URL TOKEN_FILE LOG_LEVEL SETTLE FOLDER_DIR...
write_conf() {
    _f=$1 _state=$2 _url=$3 _tok=$4 _lvl=$5 _settle=$6
    shift 6
    {
        printf '[agent]\nstate_dir = %s\nlog_level = %s\nsettle_seconds = %s\nrescan_seconds = 5\n\n' \
            "$_state" "$_lvl" "$_settle"
        printf '[cloud]\nurl = %s\n\n[practice main]\ntoken_file = %s\n\n' "$_url" "$_tok"
        _i=0
        for _d in "$@"; do
            _i=$((_i + 1))
            _t=$type
            case $_d in *-patients) _t=patients ;; esac
            printf '[folder f%d]\npath = %s\npractice = main\nimport_type = %s\ntemplate = generic-%s\n\n' \
                "$_i" "$_d" "$_t" "$_t"
        done
    } >"$_f"
}

# --- 1. staging against sqlite3 .import -------------------------------------
say "== staging: agent vs sqlite3 .import ($RUNS runs)"
stage_rps=()
import_rps=()
stage_ratios=()
stage_cpu_ratios=()
for r in $(want stage && seq 1 "$RUNS"); do
    rm -f "$work/import.db"
    t0=$(now)
    /usr/bin/time -f '%U %S' -o "$work/import.cpu" \
        sqlite3 "$work/import.db" ".mode csv" ".import $work/export.csv t" || die "sqlite3 .import failed"
    t1=$(now)
    n=$(sqlite3 "$work/import.db" "SELECT count(*) FROM t")
    irps=$(awk -v n="$n" -v s="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }')
    rm -f "$work/import.db"

    rm -rf "$work/stage-state" && mkdir -p "$work/stage-state" "$work/stage-in"
    write_conf "$work/stage.conf" "$work/stage-state" http://127.0.0.1:9 "$work/token" warn 1 \
        "$work/stage-in"
    out=$("$stage" "$work/stage.conf" f1 "$work/export.csv") || die "staging failed"
    srps=$(printf '%s\n' "$out" | awk '$1 == "stage_rows_per_s" { print $2 }')
    srows=$(printf '%s\n' "$out" | awk '$1 == "stage_rows" { print $2 }')
    svalid=$(printf '%s\n' "$out" | awk '$1 == "stage_valid" { print $2 }')
    scpu=$(printf '%s\n' "$out" | awk '$1 == "stage_cpu_s" { print $2 }')
    icpu=$(awk 'END { print $1 + $2 }' "$work/import.cpu")
    # The same ratio from CPU time alone: steadier on a busy machine.
    if awk -v c="$icpu" 'BEGIN { exit !(c > 0) }'; then
        stage_cpu_ratios+=("$(ratio "$icpu" "$scpu")")
    fi
    rm -rf "$work/stage-state"
    stage_rps+=("$srps")
    import_rps+=("$irps")
    stage_ratios+=("$(ratio "$srps" "$irps")")
    say "   run $r: agent $srps rows/s, $scpu s CPU ($srows rows, $svalid valid); sqlite3 .import $irps rows/s, $icpu s CPU ($n rows)"
done

# --- 1b. the CSV reader alone (tests/bench/read) ---------------------------------
say "== reading: the CSV reader alone ($RUNS runs)"
read_mbs=()
read_cpu_mbs=()
read_rss=n/a
for r in $(want read && seq 1 "$RUNS"); do
    out=$("$BUILD/tests/bench/read" "$work/export.csv") || die "reading failed"
    read_mbs+=("$(printf '%s\n' "$out" | awk '$1 == "read_mb_per_s" { print $2 }')")
    read_cpu_mbs+=("$(printf '%s\n' "$out" | awk '$1 == "read_cpu_mb_per_s" { print $2 }')")
    read_rss=$(printf '%s\n' "$out" | awk '$1 == "read_peak_rss_mb" { print $2 }')
    say "   run $r: ${read_mbs[-1]} MB/s wall, ${read_cpu_mbs[-1]} MB/s CPU, peak RSS $read_rss MB (load $(cut -d' ' -f1 /proc/loadavg))"
done
read_big_rss=n/a

# --- 2. peak memory on a large file --------------------------------------------
peak_rss=n/a
if want memory && awk -v g="$GB" 'BEGIN { exit !(g > 0) }'; then
    big_rows=$(awk -v g="$GB" -v s="$size" -v n="$ROWS" 'BEGIN { printf "%d", g * 1073741824 / (s / n) }')
    say "== peak memory: staging $big_rows rows (about $GB GB)"
    gen -t "$type" -n "$big_rows" -m "$npat" -o "$work/big.csv" || die "generator failed"
    rm -rf "$work/stage-state" && mkdir -p "$work/stage-state"
    out=$("$stage" "$work/stage.conf" f1 "$work/big.csv") || die "staging the large file failed"
    peak_rss=$(printf '%s\n' "$out" | awk '$1 == "stage_peak_rss_mb" { print $2 }')
    big_rps=$(printf '%s\n' "$out" | awk '$1 == "stage_rows_per_s" { print $2 }')
    say "   $(stat -c %s "$work/big.csv") bytes, peak RSS $peak_rss MB, $big_rps rows/s"
    read_big_rss=$("$BUILD/tests/bench/read" "$work/big.csv" | awk '$1 == "read_peak_rss_mb" { print $2 }')
    say "   reading it alone: peak RSS $read_big_rss MB (the $size-byte file: $read_rss MB)"
    rm -rf "$work/stage-state" "$work/big.csv"
fi

# --- 3. sync against psql \copy, and the delta ----------------------------------
say "== sync: $SYNC_ROWS rows, file -> PostgreSQL through the cloud vs psql \\copy ($RUNS runs)"
pg_start >/dev/null || die "PostgreSQL did not start"
cloud_start "$BUILD" >/dev/null || die "the cloud did not start"

if grep -q ds_store_job_mark_unchanged "$top/agent/service/ingest.c" 2>/dev/null; then
    have_delta=1
else
    have_delta=0
fi

# wait_log LOG PATTERN TIMEOUT -> the first matching line
wait_log() {
    _deadline=$(($(date +%s) + $3))
    while [ "$(date +%s)" -le "$_deadline" ]; do
        _l=$(grep -m 1 -E "$2" "$1" 2>/dev/null) && {
            printf '%s\n' "$_l"
            return 0
        }
        sleep 0.1
    done
    return 1
}
# job_of LOG FILE_BASENAME -> the job id staged from that file
job_of() { sed -n "s|.*/$2: job \([0-9a-f-]*\) staged.*|\1|p" "$1" | head -n 1; }
# done_at LOG FILE TIMEOUT -> epoch seconds of that file's job completion
done_at() {
    wait_log "$1" "/$2: job [0-9a-f-]* staged" "$3" >/dev/null || return 1
    _job=$(job_of "$1" "$2")
    _l=$(wait_log "$1" "job $_job: completed" "$3") || return 1
    log_epoch "${_l%% *}"
}

cols=$(seq 1 "$ncols" | sed 's/^/c/; s/$/ text/' | paste -sd, -)
sync_s=()
copy_s=()
sync_ratios=()
floor_s=()
sync_floor_ratios=()
delta_s=()
delta_ratios=()
delta_sent=()
timeout=${BENCH_SYNC_TIMEOUT:-1800}
sync_bound= # ">" once a sync ran out of time
for r in $(seq 1 "$RUNS"); do
    pg_psql "SET client_min_messages = warning" "DROP TABLE IF EXISTS bench_copy" \
        "CREATE TABLE bench_copy ($cols)" >/dev/null ||
        die "cannot create the copy table"
    t0=$(now)
    psql "$DS_OWNER_DB" -X -q -v ON_ERROR_STOP=1 \
        -c "\\copy bench_copy FROM '$work/sync.csv' WITH (FORMAT csv, HEADER true)" ||
        die "psql \\copy failed"
    t1=$(now)
    cs=$(elapsed "$t0" "$t1")
    pg_psql "DROP TABLE bench_copy" >/dev/null

    practice="bench-$r-$$"
    umask 077
    cloud_token "$practice" >"$work/token-$r"
    umask 022
    pid_sql="SELECT id FROM practices WHERE name = '$practice'"
    practice_id=$(pg_psql "$pid_sql")
    run=$work/run-$r
    rm -rf "$run" && mkdir -p "$run/state" "$run/in" "$run/in-patients"
    write_conf "$run/agent.conf" "$run/state" "$CLOUD_URL" "$work/token-$r" debug 0.5 \
        "$run/in" "$run/in-patients"
    "$agent" run -c "$run/agent.conf" >"$run/agent.log" 2>&1 &
    apid=$!
    agent_pids="$agent_pids $apid"
    if [ "$type" = appointments ]; then
        cp "$work/patients.csv" "$run/patients.tmp" && mv "$run/patients.tmp" "$run/in-patients/patients.csv"
        done_at "$run/agent.log" patients.csv "$timeout" >/dev/null ||
            die "the patients file did not sync (see $run/agent.log)"
    fi
    cp "$work/sync.csv" "$run/export.tmp"
    t0=$(now)
    mv "$run/export.tmp" "$run/in/export.csv"
    if t1=$(done_at "$run/agent.log" export.csv "$timeout"); then
        ss=$(elapsed "$t0" "$t1")
    else
        ss=$(elapsed "$t0" "$(now)")
        sync_bound=">"
    fi
    got=$(pg_psql "SELECT count(*) FROM $table WHERE practice_id = '$practice_id'")
    sync_s+=("$ss")
    copy_s+=("$cs")
    sync_ratios+=("$(ratio "$ss" "$cs")")
    if [ -n "$sync_bound" ]; then
        say "   run $r: sync not done after $ss s ($got of $SYNC_ROWS rows in $table), psql \\copy $cs s;" \
            "the figure is a lower bound and the other runs are skipped (BENCH_SYNC_ROWS, BENCH_SYNC_TIMEOUT)"
    else
        statuses=$(pg_psql "SELECT string_agg(n || ' ' || status, ', ' ORDER BY n DESC)
                              FROM (SELECT status, count(*) AS n FROM import_job_items
                                    WHERE practice_id = '$practice_id' GROUP BY status) s")
        say "   run $r: sync $ss s ($got rows in $table; items: $statuses), psql \\copy $cs s"
        # The floor: the rows the sync stored, inserted again into a copy of
        # their table with all its indexes (no API, matching or items).
        pg_psql "SET client_min_messages = warning" "DROP TABLE IF EXISTS bench_floor" \
            "CREATE TABLE bench_floor (LIKE $table INCLUDING ALL)" >/dev/null ||
            die "cannot create the floor table"
        t0=$(now)
        pg_psql "INSERT INTO bench_floor SELECT * FROM $table WHERE practice_id = '$practice_id'" \
            >/dev/null || die "the floor insert failed"
        t1=$(now)
        fs=$(elapsed "$t0" "$t1")
        pg_psql "DROP TABLE bench_floor" >/dev/null
        floor_s+=("$fs")
        sync_floor_ratios+=("$(ratio "$ss" "$fs")")
        say "   run $r: indexed INSERT ... SELECT of the same $got rows $fs s: sync_floor_ratio ${sync_floor_ratios[-1]}"
    fi

    if [ "$have_delta" = 1 ] && [ -z "$sync_bound" ]; then
        before=$(pg_psql "SELECT count(*) FROM import_job_items WHERE practice_id = '$practice_id'")
        cp "$work/sync-changed.csv" "$run/changed.tmp"
        t0=$(now)
        mv "$run/changed.tmp" "$run/in/export-changed.csv"
        t1=$(done_at "$run/agent.log" export-changed.csv "$timeout") ||
            die "the changed snapshot did not sync (see $run/agent.log)"
        ds=$(elapsed "$t0" "$t1")
        after=$(pg_psql "SELECT count(*) FROM import_job_items WHERE practice_id = '$practice_id'")
        delta_s+=("$ds")
        delta_ratios+=("$(ratio "$ds" "$ss")")
        delta_sent+=("$((after - before))")
        say "   run $r: delta $ds s, $((after - before)) rows sent"
    fi
    kill -TERM "$apid" 2>/dev/null
    wait "$apid" 2>/dev/null
    agent_pids=
    [ "$r" = 1 ] && cp "$run/agent.log" "$work/agent-sync.log"
    rm -rf "$run"
    [ -z "$sync_bound" ] || break
done

# --- 4. latency: settled -> first batch acknowledged ------------------------------
say "== latency: file settled -> first batch acknowledged ($RUNS files)"
lat=()
if want latency; then
run=$work/latency
rm -rf "$run" && mkdir -p "$run/state" "$run/in"
write_conf "$run/agent.conf" "$run/state" "$CLOUD_URL" "$work/token-1" debug 0.5 "$run/in"
"$agent" run -c "$run/agent.conf" >"$run/agent.log" 2>&1 &
apid=$!
agent_pids=$apid
sleep 1
for r in $(seq 1 "$RUNS"); do
    # A small file of rows the practice has not seen (new ids).
    gen -t "$type" -n 100 -s $((SYNC_ROWS + 100 * (r - 1) + 1)) -m "$npat" -o "$run/small.tmp" ||
        die "generator failed"
    mv "$run/small.tmp" "$run/in/small-$r.csv"
    wait_log "$run/agent.log" "/small-$r.csv: job [0-9a-f-]* staged" 120 >/dev/null || die "small file $r not staged"
    job=$(job_of "$run/agent.log" "small-$r.csv")
    l1=$(wait_log "$run/agent.log" "small-$r.csv settled" 5) || die "no settle line"
    l2=$(wait_log "$run/agent.log" "job $job batch [0-9]+: acknowledged" 120) || die "small file $r not acknowledged"
    lat+=("$(elapsed "$(log_epoch "${l1%% *}")" "$(log_epoch "${l2%% *}")")")
    say "   file $r: ${lat[-1]} s"
done
kill -TERM "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
agent_pids=
fi

# --- 5. idle: 5 empty folders -------------------------------------------------------
say "== idle: $RUNS agents watching 5 empty folders for $IDLE_S s (side by side)"
tck=$(getconf CLK_TCK)
idle_cpu=()
idle_rss=()
idle_anon=() # the agent's own memory, without the shared libraries' pages
pids=()
for r in $(want idle && seq 1 "$RUNS"); do
    run=$work/idle-$r
    rm -rf "$run" && mkdir -p "$run/state" "$run/a" "$run/b" "$run/c" "$run/d" "$run/e"
    write_conf "$run/agent.conf" "$run/state" "$CLOUD_URL" "$work/token-1" info 2 \
        "$run/a" "$run/b" "$run/c" "$run/d" "$run/e"
    "$agent" run -c "$run/agent.conf" >"$run/agent.log" 2>&1 &
    pids+=("$!")
    agent_pids="$agent_pids $!"
done
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
start=()
if want idle; then
    sleep 3 # start-up: migrations, the first scan, the templates pulled
    for p in "${pids[@]}"; do start+=("$(cpu_of "$p")"); done
    sleep "$IDLE_S"
fi
i=0
for p in ${pids[@]+"${pids[@]}"}; do
    end=$(cpu_of "$p")
    idle_cpu+=("$(awk -v a="${start[$i]}" -v b="$end" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')")
    idle_rss+=("$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$p/status")")
    idle_anon+=("$(awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' "/proc/$p/status")")
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    i=$((i + 1))
done
agent_pids=

# --- 6. preview -------------------------------------------------------------------
# --all against libcsv alone parsing the same file (tests/bench/csvparse),
# run by run, in wall time and in CPU time (user + system).
preview=n/a
preview_all=n/a
csv_s=n/a
preview_all_ratio=n/a
preview_all_cpu_ratio=n/a
if want preview && "$agent" --help 2>&1 | grep -qE '^ +preview '; then
    say "== preview: the default and --all, against libcsv alone ($RUNS runs)"
    pv=()
    pva=()
    pcsv=()
    pvr=()
    pvcr=()
    for r in $(seq 1 "$RUNS"); do
        t0=$(now)
        "$agent" preview -c "$work/stage.conf" "$work/export.csv" >/dev/null 2>&1 || break
        t1=$(now)
        /usr/bin/time -f '%U %S' -o "$work/preview.cpu" \
            "$agent" preview -c "$work/stage.conf" --all "$work/export.csv" >/dev/null 2>&1 || break
        t2=$(now)
        /usr/bin/time -f '%U %S' -o "$work/csv.cpu" "$csvparse" "$work/export.csv" >/dev/null || break
        t3=$(now)
        pv+=("$(elapsed "$t0" "$t1")")
        pva+=("$(elapsed "$t1" "$t2")")
        pcsv+=("$(elapsed "$t2" "$t3")")
        pvr+=("$(ratio "$(elapsed "$t1" "$t2")" "$(elapsed "$t2" "$t3")")")
        pcpu=$(awk 'END { print $1 + $2 }' "$work/preview.cpu")
        ccpu=$(awk 'END { print $1 + $2 }' "$work/csv.cpu")
        pvcr+=("$(ratio "$pcpu" "$ccpu")")
        say "   run $r: preview $(elapsed "$t0" "$t1") s, --all $(elapsed "$t1" "$t2") s ($pcpu s CPU), libcsv alone $(elapsed "$t2" "$t3") s ($ccpu s CPU)"
    done
    if [ "${#pv[@]}" -gt 0 ]; then
        preview=$(median "${pv[@]}")
        preview_all=$(median "${pva[@]}")
        csv_s=$(median "${pcsv[@]}")
        preview_all_ratio=$(median "${pvr[@]}")
        preview_all_cpu_ratio=$(median "${pvcr[@]}")
    fi
fi

# --- the report -----------------------------------------------------------------
stage_ratio=$(median "${stage_ratios[@]}")
sync_ratio=$sync_bound$(median "${sync_ratios[@]}")
sync_floor_ratio=$(median ${sync_floor_ratios[@]+"${sync_floor_ratios[@]}"})
if [ -n "$sync_bound" ]; then
    delta_ratio="n/a (the first sync ran out of time)"
elif [ "$have_delta" = 1 ]; then
    delta_ratio=$(median "${delta_ratios[@]}")
else
    delta_ratio="n/a (no delta yet)"
fi
idle_cpu_s=$(median "${idle_cpu[@]}")
idle_rss_mb=$(median "${idle_rss[@]}")
latency_s=$(median "${lat[@]}")

cat <<EOF

dentsync bench: $ROWS rows of $type_note
file $size bytes, $ncols columns; median of $RUNS runs; $(nproc) CPU(s), $(uname -sr)

  figure          value        goal      reference
  stage_ratio     $(printf '%-12s' "$stage_ratio") >= 1.0    agent $(median "${stage_rps[@]}") rows/s, sqlite3 .import $(median "${import_rps[@]}") rows/s
  stage_cpu_ratio $(printf '%-12s' "$(median "${stage_cpu_ratios[@]}")") >= 1.0    the same from CPU seconds (steadier on a busy machine)
  sync_ratio      $(printf '%-12s' "$sync_ratio") <= 2.0    $SYNC_ROWS rows: sync $sync_bound$(median "${sync_s[@]}") s, psql \\copy $(median "${copy_s[@]}") s
  sync_floor_ratio $(printf '%-11s' "$sync_floor_ratio") <= 2.0    the same sync / indexed INSERT ... SELECT of the rows it stored, $(median ${floor_s[@]+"${floor_s[@]}"}) s
  delta_ratio     $(printf '%-12s' "${delta_ratio%% *}") <= 0.25   $([ "$have_delta" = 1 ] && [ -z "$sync_bound" ] && echo "delta $(median "${delta_s[@]}") s, rows sent $(median "${delta_sent[@]}")" || echo "${delta_ratio#n/a }")
  peak_rss_mb     $(printf '%-12s' "$peak_rss") <= 64     staging a $GB GB file
  read_mb_per_s   $(printf '%-12s' "$(median "${read_mbs[@]}")") >= 200    CSV reader alone, wall; from CPU time $(median "${read_cpu_mbs[@]}") MB/s
  read_rss_mb     $(printf '%-12s' "$read_big_rss") flat     CSV reader alone on the $GB GB file ($read_rss MB on the $size-byte one)
  idle_cpu_s      $(printf '%-12s' "$idle_cpu_s") <= 0.05   5 folders, $IDLE_S s
  idle_rss_mb     $(printf '%-12s' "$idle_rss_mb") <= 16     of it the agent's own (RssAnon): $(median "${idle_anon[@]}") MB
  latency_s       $(printf '%-12s' "$latency_s") <= 1.0    settled -> first batch acknowledged
  preview_s       $(printf '%-12s' "$preview") <= 0.2    $([ "$preview" = n/a ] && echo "no dentsync preview yet")
  preview_all_s   $(printf '%-12s' "$preview_all") <= 2x libcsv  libcsv alone $csv_s s: ratio $preview_all_ratio (CPU: $preview_all_cpu_ratio)

EOF
echo "bench_type $type"
echo "bench_rows $ROWS"
echo "stage_rows_per_s $(median "${stage_rps[@]}")"
echo "sqlite_import_rows_per_s $(median "${import_rps[@]}")"
echo "stage_ratio $stage_ratio"
echo "stage_cpu_ratio $(median "${stage_cpu_ratios[@]}")"
echo "sync_rows $SYNC_ROWS"
echo "sync_s $sync_bound$(median "${sync_s[@]}")"
echo "psql_copy_s $(median "${copy_s[@]}")"
echo "sync_ratio $sync_ratio"
echo "sync_floor_s $(median ${floor_s[@]+"${floor_s[@]}"})"
echo "sync_floor_ratio $sync_floor_ratio"
echo "delta_ratio $delta_ratio"
echo "peak_rss_mb $peak_rss"
echo "read_mb_per_s $(median "${read_mbs[@]}")"
echo "read_cpu_mb_per_s $(median "${read_cpu_mbs[@]}")"
echo "read_peak_rss_mb $read_rss"
echo "read_big_peak_rss_mb $read_big_rss"
echo "idle_cpu_s $idle_cpu_s"
echo "idle_rss_mb $idle_rss_mb"
echo "idle_anon_mb $(median "${idle_anon[@]}")"
echo "latency_s $latency_s"
echo "preview_s $preview"
echo "preview_all_s $preview_all"
echo "csv_parse_s $csv_s"
echo "preview_all_ratio $preview_all_ratio"
echo "preview_all_cpu_ratio $preview_all_cpu_ratio"
# The cloud ingest figure (cloud_ingest_ratio), with its own cluster.
BUILD=$BUILD bash "$top/tests/bench/cloud.sh"
