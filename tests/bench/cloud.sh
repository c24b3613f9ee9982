#!/bin/bash
# cloud.sh — the cloud's ingest speed, part of `make bench`: appointment rows
# POSTed through the real HTTP API (tests/bench/cloudload: gzip batches,
# Batch-Digest, requests in flight as the agent sends them) into a practice
# whose patients are already there, against `psql \copy` of the same rows
# (CSV) into an unindexed text table of the same server.
#
#   BUILD=build bash tests/bench/cloud.sh
#
# Environment (all optional):
#   BENCH_CLOUD_ROWS      appointment rows (default 1000000)
#   BENCH_CLOUD_PATIENTS  patients loaded first (default rows / 4)
#   BENCH_CLOUD_BATCH     rows per batch (default 2000, the agent's default)
#   BENCH_CLOUD_INFLIGHT  requests in flight (default 2, the agent's default)
#   BENCH_CLOUD_AGENTS    the numbers of agents of the concurrency figure
#                         (default "1 10 50"; "" skips it)
#   BENCH_CLOUD_AGENT_ROWS  appointments of each concurrency run, split evenly
#                         between its agents (default 20000)
#   BENCH_CLOUD_AGENT_BATCH rows per batch of each agent (default 2000, the
#                         agent's default)
#
# Prints what it does on stderr, then `name value` lines:
#   cloud_ingest_rows, cloud_ingest_s, cloud_ingest_rows_per_s
#       job created -> every batch answered -> job completed
#   cloud_copy_rows_per_s   psql \copy of the same rows, unindexed text table
#   cloud_ingest_ratio      ingest rows/s / \copy rows/s (goal >= 0.5)
#   cloud_indexed_insert_rows_per_s  INSERT ... SELECT of the same rows, typed,
#       into a copy of the appointments table with its indexes: what storing
#       the rows alone costs, without the API, matching or conflicts
#   cloud_floor_ratio       ingest rows/s / indexed insert rows/s (goal >= 0.5)
#   cloud_patients_rows_per_s  the patients' own ingest, through the API
#   cloud_agents_<N>_rows_per_s, _p50_s, _p99_s, _errors, _deadlocks,
#   _wrong_practice         N simulated agents at once, each its own
#       practice and token (tests/bench/cloudload agents): aggregate rows/s,
#       batch latency (sent -> answered), errors (answers other than 200 and
#       503, rows not created, rows missing), deadlocks PostgreSQL counted,
#       and rows (appointments, their patients, items) found in SQL in
#       another practice than the one whose token sent them
#   cloud_loadavg           the 1-minute load average at the start and the end
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
ROWS=${BENCH_CLOUD_ROWS:-1000000}
PATIENTS=${BENCH_CLOUD_PATIENTS:-$((ROWS / 4))}
BATCH=${BENCH_CLOUD_BATCH:-2000}
INFLIGHT=${BENCH_CLOUD_INFLIGHT:-2}
[ "$PATIENTS" -ge 1 ] || PATIENTS=1
load=$BUILD/tests/bench/cloudload
. "$top/tests/lib/pg.sh"

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench cloud: $*"
    exit 1
}
[ -x "$load" ] && [ -x "$BUILD/dentsync-cloud" ] ||
    die "build first: make $BUILD/dentsync-cloud $BUILD/tests/bench/cloudload"

# Its own cluster, as the other suites have theirs.
unset PG_DIR DS_OWNER_DB DS_APP_DB CLOUD_PID CLOUD_URL CLOUD_PORT
work=$(mktemp -d /tmp/dentsync-bench-cloud.XXXXXX) || die "no temp dir"
cleanup() {
    cloud_stop >/dev/null 2>&1
    pg_stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else printf "n/a" }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

load_start=$(load1)
pg_start >/dev/null || die "PostgreSQL did not start"
cloud_start "$BUILD" >/dev/null || die "the cloud did not start"
umask 077
cloud_token "bench-cloud" >"$work/token"
umask 022
[ -s "$work/token" ] || die "no token"

say "== cloud: $PATIENTS patients, then $ROWS appointments in batches of $BATCH, $INFLIGHT in flight"
out=$("$load" post "$CLOUD_URL" "$work/token" patients "$PATIENTS" "$BATCH" "$INFLIGHT") ||
    die "loading the patients failed (see $CLOUD_LOG)"
pat_rps=$(printf '%s\n' "$out" | awk '$1 == "cloud_rows_per_s" { print $2 }')
say "   patients: $(printf '%s\n' "$out" | awk '$1 == "cloud_seconds" { print $2 }') s, $pat_rps rows/s"
out=$("$load" post "$CLOUD_URL" "$work/token" appointments "$PATIENTS" "$ROWS" "$BATCH" "$INFLIGHT") ||
    die "the appointments failed (see $CLOUD_LOG)"
ing_s=$(printf '%s\n' "$out" | awk '$1 == "cloud_seconds" { print $2 }')
ing_rps=$(printf '%s\n' "$out" | awk '$1 == "cloud_rows_per_s" { print $2 }')
created=$(printf '%s\n' "$out" | awk '$1 == "cloud_created" { print $2 }')
stored=$(pg_psql "SELECT count(*) FROM appointments")
say "   appointments: $ing_s s, $ing_rps rows/s ($created created, $stored stored)"
[ "$created" = "$ROWS" ] && [ "$stored" = "$ROWS" ] || die "not every row was stored"

"$load" csv "$PATIENTS" "$ROWS" "$work/appointments.csv" || die "cannot write the CSV"
cols="external_id text, patient_external_id text, start_at text, end_at text, duration_minutes text,
      status text, provider text, operatory text, appointment_type text"
pg_psql "CREATE TABLE bench_copy ($cols)" >/dev/null || die "cannot create the copy table"
t0=$(now)
psql "$DS_OWNER_DB" -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy bench_copy FROM '$work/appointments.csv' WITH (FORMAT csv, HEADER true)" ||
    die "psql \\copy failed"
t1=$(now)
copy_s=$(elapsed "$t0" "$t1")
copy_rps=$(rate "$ROWS" "$copy_s")
say "   psql \\copy: $copy_s s, $copy_rps rows/s"

# The same rows, typed, into a copy of appointments with all its indexes.
pg_psql "CREATE TABLE bench_indexed (LIKE appointments INCLUDING ALL)" \
    "CREATE TABLE bench_patients AS SELECT external_id, id FROM patients" \
    "CREATE UNIQUE INDEX ON bench_patients (external_id)" "ANALYZE bench_copy" \
    "ANALYZE bench_patients" >/dev/null || die "cannot create the indexed table"
pid=$(pg_psql "SELECT id FROM practices WHERE name = 'bench-cloud'")
t0=$(now)
pg_psql "INSERT INTO bench_indexed (practice_id, source_key, fingerprint, external_id, patient_id,
                                    patient_external_id, start_at, end_at, duration_minutes, status,
                                    provider, operatory, appointment_type)
         SELECT '$pid', 'ext:' || c.external_id, md5(c.external_id), c.external_id, p.id,
                c.patient_external_id, c.start_at::timestamptz, c.end_at::timestamptz,
                c.duration_minutes::integer, c.status, c.provider, c.operatory, c.appointment_type
           FROM bench_copy c JOIN bench_patients p ON p.external_id = c.patient_external_id" \
    >/dev/null || die "the indexed insert failed"
t1=$(now)
idx_rps=$(rate "$ROWS" "$(elapsed "$t0" "$t1")")
say "   INSERT ... SELECT into an indexed copy of appointments: $idx_rps rows/s"
ratio=$(awk -v a="$ing_rps" -v b="$copy_rps" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }')
floor_ratio=$(awk -v a="$ing_rps" -v b="$idx_rps" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }')
say "   cloud_ingest_ratio $ratio (against \\copy), cloud_floor_ratio $floor_ratio (against the indexed insert)"
pg_psql "DROP TABLE bench_copy" "DROP TABLE bench_indexed" "DROP TABLE bench_patients" >/dev/null

# --- N agents at once, each its own practice and token ---------------------------
AGENTS=${BENCH_CLOUD_AGENTS-1 10 50}
AGENT_ROWS=${BENCH_CLOUD_AGENT_ROWS:-20000}
AGENT_BATCH=${BENCH_CLOUD_AGENT_BATCH:-2000}
agent_lines=
for n in $AGENTS; do
    per=$((AGENT_ROWS / n))
    [ "$per" -ge 1 ] || per=1
    npat=$((per / 4))
    [ "$npat" -ge 1 ] || npat=1
    say "== $n agents at once: $per appointments each (batches of $AGENT_BATCH, $INFLIGHT in flight), $npat patients each"
    : >"$work/tokens-$n"
    for k in $(seq 1 "$n"); do
        pre="n${n}k$k-"
        umask 077
        cloud_token "bench-n${n}k$k" >"$work/tok" || die "no token"
        umask 022
        printf '%s %s\n' "$pre" "$(cat "$work/tok")" >>"$work/tokens-$n"
        CLOUDLOAD_PREFIX=$pre "$load" post "$CLOUD_URL" "$work/tok" patients "$npat" "$AGENT_BATCH" \
            "$INFLIGHT" >/dev/null 2>&1 || die "loading the patients of agent $k failed (see $CLOUD_LOG)"
    done
    rm -f "$work/tok"
    dl0=$(pg_psql "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    out=$("$load" agents "$CLOUD_URL" "$work/tokens-$n" "$npat" "$per" "$AGENT_BATCH" "$INFLIGHT") ||
        die "the agents' run failed (see $CLOUD_LOG)"
    sleep 1 # the statistics of the last transactions
    dl1=$(pg_psql "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    get() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
    # Every row where its token put it: the practice named bench-nNkK holds
    # only ids, keys and patients that start with nNkK-.
    wrong=$(pg_psql "SELECT (SELECT count(*) FROM appointments a
                               JOIN practices p ON p.id = a.practice_id
                               JOIN patients q ON q.practice_id = a.practice_id AND q.id = a.patient_id
                              WHERE p.name LIKE 'bench-n${n}k%'
                                AND (a.external_id NOT LIKE substr(p.name, 7) || '-%'
                                     OR a.source_key NOT LIKE 'ext:' || substr(p.name, 7) || '-%'
                                     OR q.external_id NOT LIKE substr(p.name, 7) || '-%'))
                          + (SELECT count(*) FROM import_job_items i
                               JOIN practices p ON p.id = i.practice_id
                              WHERE p.name LIKE 'bench-n${n}k%'
                                AND i.key NOT LIKE 'ext:' || substr(p.name, 7) || '-%')")
    stored=$(pg_psql "SELECT count(*) FROM appointments a JOIN practices p ON p.id = a.practice_id
                       WHERE p.name LIKE 'bench-n${n}k%'")
    errors=$(($(get agents_errors) + n * per - $(get agents_created)))
    [ "$stored" = $((n * per)) ] || errors=$((errors + n * per - stored))
    dead=$((dl1 - dl0))
    say "   $(get agents_rows_per_s) rows/s in all ($(get agents_seconds) s), batch p50 $(get agents_batch_p50_s) s," \
        "p99 $(get agents_batch_p99_s) s, max $(get agents_batch_max_s) s; errors $errors" \
        "($(get agents_busy_503) retried 503), deadlocks $dead, rows in a wrong practice $wrong," \
        "$stored stored (load $(load1))"
    agent_lines="${agent_lines}cloud_agents_${n}_rows_per_s $(get agents_rows_per_s)
cloud_agents_${n}_p50_s $(get agents_batch_p50_s)
cloud_agents_${n}_p99_s $(get agents_batch_p99_s)
cloud_agents_${n}_errors $errors
cloud_agents_${n}_busy_503 $(get agents_busy_503)
cloud_agents_${n}_deadlocks $dead
cloud_agents_${n}_wrong_practice $wrong
"
done
load_end=$(load1)

echo "cloud_ingest_rows $ROWS"
echo "cloud_ingest_s $ing_s"
echo "cloud_ingest_rows_per_s $ing_rps"
echo "cloud_copy_rows_per_s $copy_rps"
echo "cloud_ingest_ratio $ratio"
echo "cloud_indexed_insert_rows_per_s $idx_rps"
echo "cloud_floor_ratio $floor_ratio"
echo "cloud_patients_rows_per_s $pat_rps"
printf '%s' "$agent_lines"
echo "cloud_loadavg $load_start $load_end"
