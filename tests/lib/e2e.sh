# tests/lib/e2e.sh — what the end-to-end suites (tests/e2e/*.sh) share: the
# checks, their counters and the closing `N passed, N failed[, N skipped]`
# line; a work
# folder that stays for inspection when a check failed; a PostgreSQL cluster
# of the suite's own when run alone (tests/e2e/run.sh starts one for all);
# a practice and its agent token; polling helpers. bash; SOURCE it:
#
#   top=$(cd "$(dirname "$0")/../.." && pwd)
#   . "$top/tests/lib/e2e.sh"     # also sources tests/lib/pg.sh
#   e2e_work NAME                 # $work; the EXIT trap cleans up
#   e2e_pg                        # unless run.sh started the cluster
#   e2e_cloud                     # cloud_start "$BUILD", or bail
#   e2e_practice e2e-NAME-$$      # $practice, $practice_id, $work/token
#   check "what must hold" test "$(pq "SELECT ...")" = 3
#   e2e_summary                   # the last line; its status is the suite's
#
# Sets BUILD (absolute; default $top/build), passed, failed, skipped,
# own_cluster, agent_pid. Functions:
#
#   ok DESC / not_ok DESC   count a check and print `ok - DESC` / `not ok - DESC`
#   check DESC COMMAND...   ok when COMMAND succeeds, else not_ok
#   skip DESC               a check this machine cannot run: counted, printed
#                           `skip - DESC`
#   skip_required DESC      the same for a check docs/reliability.md relies
#                           on; with CI=true (.ci/run) it is a failure instead
#   bail DESC               not_ok, the summary line, exit 1
#   e2e_summary             prints `N passed, N failed` (`, N skipped` when
#                           some were); non-zero if any failed
#   e2e_work NAME           makes $work (/tmp/dentsync-e2e-NAME.*) and sets the
#                           EXIT trap to e2e_cleanup: kill -9 of $agent_pid,
#                           e2e_on_exit when the suite defines it (its own
#                           processes, mounts, users), cloud_stop, pg_stop of
#                           our own cluster, and $work removed unless a check
#                           failed
#   e2e_pg                  pg_start unless DS_OWNER_DB is set (run.sh)
#   e2e_cloud               cloud_start "$BUILD", or bail
#   e2e_practice NAME       after e2e_cloud: creates practice NAME, its token
#                           in $work/token (0600), sets practice, practice_id
#   e2e_practice_migrated NAME  the same without a running server: migrates
#                           the schema first (dentsync-cloud migrate), with
#                           a token of no name; call e2e_cloud after it
#   pq SQL                  pg_psql as the owner
#   queue_sql [DIR] SQL     sqlite3 -readonly on DIR/state/queue.db (errors
#                           hidden), or on $work/state/queue.db (errors shown)
#   not_final_sql           counts the queue's rows not in a final state
#   wait_done DIR FILES SECONDS  until DIR's queue has FILES files done and
#                           not_final_sql is 0; polls every $poll seconds
#   wait_until SECONDS COMMAND...  polls every $poll seconds (default 0.1)
#                           until COMMAND succeeds; non-zero when time ran out
#   wait_for SECONDS SQL EXPECTED  polls PostgreSQL until SQL prints EXPECTED;
#                           says what it got when time ran out
#   wait_queue DIR SECONDS SQL EXPECTED  the same on DIR's queue

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
. "$top/tests/lib/pg.sh"

passed=0
failed=0
skipped=0
own_cluster=0
agent_pid=
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
skip() { skipped=$((skipped + 1)); echo "skip - $*"; }
skip_required() { # skip_required DESC: skip, but a failure in CI
    if [ "${CI:-}" = true ]; then
        not_ok "$* (skipped, and CI=true requires it: docs/reliability.md)"
    else
        skip "$* (required in CI: docs/reliability.md)"
    fi
}
e2e_summary() {
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
}
bail() {
    not_ok "$1"
    e2e_summary
    exit 1
}

e2e_cleanup() {
    [ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
    declare -F e2e_on_exit >/dev/null && e2e_on_exit
    cloud_stop >/dev/null 2>&1
    [ "$own_cluster" = 1 ] && pg_stop >/dev/null 2>&1
    if [ "$failed" -eq 0 ]; then rm -rf "$work"; else echo "# kept $work for inspection"; fi
}
e2e_work() {
    work=$(mktemp -d "/tmp/dentsync-e2e-$1.XXXXXX")
    trap e2e_cleanup EXIT
}

e2e_pg() {
    if [ -z "${DS_OWNER_DB:-}" ]; then
        pg_start >/dev/null || bail "PostgreSQL did not start"
        own_cluster=1
    fi
}
e2e_cloud() {
    cloud_start "$BUILD" >/dev/null || bail "cloud did not start"
}

e2e_practice() {
    practice=$1
    umask 077
    cloud_token "$practice" >"$work/token"
    umask 022
    practice_id=$(pg_psql "SELECT id FROM practices WHERE name = '$practice'")
}
e2e_practice_migrated() {
    local cloud=$BUILD/dentsync-cloud
    "$cloud" migrate --db "$DS_OWNER_DB" >"$work/migrate.log" 2>&1 ||
        { cat "$work/migrate.log"; echo "0 passed, 1 failed"; exit 1; }
    practice=$1
    "$cloud" practice create "$practice" --db "$DS_OWNER_DB" >/dev/null 2>>"$work/migrate.log"
    umask 077
    "$cloud" token create --practice "$practice" --db "$DS_OWNER_DB" 2>>"$work/migrate.log" |
        tail -n 1 >"$work/token"
    umask 022
    practice_id=$(pg_psql "SELECT id FROM practices WHERE name = '$practice'")
}

pq() { pg_psql "$1"; }
queue_sql() { # queue_sql [DIR] SQL
    if [ $# -ge 2 ]; then
        sqlite3 -readonly "$1/state/queue.db" "$2" 2>/dev/null
    else
        sqlite3 -readonly "$work/state/queue.db" "$1"
    fi
}

# Rows of the queue in a state that is not final: files, jobs, batches, items.
# (A rejected batch waits for an admin; nothing here is rejected.)
not_final_sql="SELECT (SELECT count(*) FROM files WHERE state NOT IN ('done', 'duplicate', 'quarantined'))
    + (SELECT count(*) FROM jobs WHERE state NOT IN ('completed', 'completed_with_errors'))
    + (SELECT count(*) FROM batches WHERE state NOT IN ('acked', 'split'))
    + (SELECT count(*) FROM items WHERE status IN ('valid', 'sent'))"

# wait_done DIR FILES SECONDS: until the queue of DIR has FILES files done
# and nothing in a non-final state; polls every $poll seconds.
wait_done() {
    local deadline=$(($(date +%s) + $3))
    while [ "$(date +%s)" -le "$deadline" ]; do
        if [ "$(queue_sql "$1" "SELECT count(*) FROM files WHERE state = 'done'")" = "$2" ] &&
            [ "$(queue_sql "$1" "$not_final_sql")" = 0 ]; then
            return 0
        fi
        sleep "${poll:-0.1}"
    done
    echo "# $1: waited $3s; files: $(queue_sql "$1" "SELECT group_concat(state) FROM files")," \
        "not final: $(queue_sql "$1" "$not_final_sql")"
    return 1
}

wait_until() { # wait_until SECONDS COMMAND...
    local deadline=$(($(date +%s) + $1))
    shift
    while [ "$(date +%s)" -le "$deadline" ]; do
        "$@" && return 0
        sleep "${poll:-0.1}"
    done
    return 1
}
wait_for() { # wait_for SECONDS SQL EXPECTED
    local deadline=$(($(date +%s) + $1))
    while [ "$(date +%s)" -le "$deadline" ]; do
        [ "$(pq "$2")" = "$3" ] && return 0
        sleep 0.1
    done
    echo "# waited $1s for [$2] = $3, got $(pq "$2")"
    return 1
}
wait_queue() { # wait_queue DIR SECONDS SQL EXPECTED
    local deadline=$(($(date +%s) + $2))
    while [ "$(date +%s)" -le "$deadline" ]; do
        [ "$(queue_sql "$1" "$3")" = "$4" ] && return 0
        sleep 0.1
    done
    echo "# waited $2s for [$3] = $4, got $(queue_sql "$1" "$3")"
    return 1
}

# patients_tsv_sql WHERE: the SQL that lists the patients WHERE selects one
# per line, the fields of tests/e2e/expected/patients.tsv joined by |, absent
# ones empty, a newline inside a value as \n (tests/e2e/expected/README).
patients_tsv_sql() {
    _sel=""
    for _f in external_id first_name last_name middle_name preferred_name date_of_birth gender \
        email phone_mobile phone_home phone_work address_line1 address_line2 city state \
        postal_code country status provider_external_id first_visit_date last_visit_date notes; do
        _sel="$_sel${_sel:+, }replace(coalesce($_f::text, ''), E'\\n', '\\n')"
    done
    echo "SELECT concat_ws('|', $_sel) FROM patients WHERE $1"
}
