# tests/lib/pg.sh — a throw-away PostgreSQL cluster and dentsync-cloud
# server for tests and the demo. POSIX sh; SOURCE it, do not run it:
#
#   . tests/lib/pg.sh
#   trap 'cloud_stop; pg_stop' EXIT INT TERM
#   pg_start                      || exit 1
#   cloud_start "${BUILD:-build}" || exit 1
#   token=$(cloud_token "Test Practice")
#   curl -H "Authorization: Bearer $token" "$CLOUD_URL/v1/health"
#
# Functions (each returns non-zero with a message on stderr when it fails;
# none of them calls exit or changes shell options):
#
#   free_port           prints a TCP port on 127.0.0.1 that nothing listens on
#   pg_start            initdb + start a cluster in a fresh /tmp dir (as the
#                       postgres system user when run as root), fsync off,
#                       and create the database "dentsync". Exports:
#                         PG_BIN       the PostgreSQL server binaries
#                         PG_DIR       the temp dir (data/, postgres.log, socket)
#                         PG_PORT      its TCP port on 127.0.0.1
#                         DS_OWNER_DB  postgresql://postgres@127.0.0.1:$PG_PORT/dentsync
#                         DS_APP_DB    postgresql://dentsync_app@127.0.0.1:$PG_PORT/dentsync
#   pg_stop             stops the cluster (immediate) and removes PG_DIR;
#                       safe to call twice or without pg_start
#   pg_pause            stops the server but keeps its data and port
#   pg_resume           starts a paused server again on the same port
#   pg_psql [SQL...]    runs each SQL argument (or stdin when none) with psql
#                       as the owner: -At -X -v ON_ERROR_STOP=1 on DS_OWNER_DB
#   pg_psql_app [SQL...]  the same as the application role (DS_APP_DB)
#   cloud_start BUILD_DIR [PORT]  (PORT: listen there, e.g. to come back
#                       after an outage on the port an agent is configured for)
#                       runs `dentsync-cloud migrate` as the owner, then
#                       `dentsync-cloud serve` as dentsync_app on PORT or a
#                       free port, in the background, and waits for GET
#                       /v1/health.
#                       Exports CLOUD_BIN, CLOUD_PORT, CLOUD_PID, CLOUD_URL
#                       (http://127.0.0.1:$CLOUD_PORT), CLOUD_LOG (its stderr;
#                       inside PG_DIR, so pg_stop removes it). Set
#                       CLOUD_WRAPPER to run the server under a tool, e.g.
#                       CLOUD_WRAPPER="valgrind --leak-check=full --error-exitcode=99"
#   cloud_stop          SIGTERM to the server, waits for it (SIGKILL after 10 s);
#                       safe to call twice or without cloud_start
#   cloud_token NAME    creates practice NAME if missing and prints a new
#                       agent token for it (needs cloud_start or CLOUD_BIN)
#
# Needs: initdb/pg_ctl/postgres (from `pg_config --bindir` or
# /usr/lib/postgresql/*/bin), psql, pg_isready, curl, and runuser when root.

_pg_bin_dir()
{
    _d=$(pg_config --bindir 2>/dev/null)
    if [ -n "$_d" ] && [ -x "$_d/initdb" ]; then
        printf '%s\n' "$_d"
        return 0
    fi
    # The highest major version installed.
    _best=
    for _d in /usr/lib/postgresql/*/bin; do
        _v=${_d#/usr/lib/postgresql/}
        _v=${_v%/bin}
        if [ -x "$_d/initdb" ] && { [ -z "$_best" ] || [ "$_v" -gt "$_bestv" ]; }; then
            _best=$_d
            _bestv=$_v
        fi
    done
    if [ -n "$_best" ]; then
        printf '%s\n' "$_best"
        return 0
    fi
    echo "pg.sh: no PostgreSQL server binaries (initdb) found" >&2
    return 1
}

# Runs a command as the postgres system user when we are root, from /: the
# caller's directory (a checkout in /root, say) may be closed to postgres,
# and pg_ctl and initdb complain when they cannot enter it.
_pg_as()
{
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

free_port()
{
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' &&
            return 0
    fi
    # No python3: pick random ports until one has no listener.
    _n=0
    while [ $_n -lt 50 ]; do
        _p=$(( ($(od -An -N2 -tu2 /dev/urandom) % 20000) + 30000 ))
        if ! ss -Htln "sport = :$_p" 2>/dev/null | grep -q .; then
            printf '%s\n' "$_p"
            return 0
        fi
        _n=$((_n + 1))
    done
    echo "pg.sh: no free port found" >&2
    return 1
}

# Starts the server of PG_DIR on PG_PORT and waits until it accepts
# connections.
_pg_server_start()
{
    if ! _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 \
        -o "-k $PG_DIR -h 127.0.0.1 -p $PG_PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null; then
        return 1
    fi
    _n=0
    while ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; do
        _n=$((_n + 1))
        if [ $_n -ge 100 ]; then
            echo "pg.sh: PostgreSQL did not become ready on port $PG_PORT" >&2
            return 1
        fi
        sleep 0.1
    done
}

pg_start()
{
    if [ -n "${PG_DIR:-}" ]; then
        echo "pg.sh: a cluster is running already ($PG_DIR); pg_stop first" >&2
        return 1
    fi
    PG_BIN=$(_pg_bin_dir) || return 1
    PG_DIR=$(mktemp -d /tmp/dentsync-pg.XXXXXX) || return 1
    export PG_BIN PG_DIR
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR" || { pg_stop; return 1; }
    fi
    if ! _pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync -E UTF8 \
        --locale=C >"$PG_DIR/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        cat "$PG_DIR/initdb.log" >&2
        pg_stop
        return 1
    fi
    # Another process may take the port between free_port and the bind: retry.
    _try=0
    while :; do
        PG_PORT=$(free_port) || { pg_stop; return 1; }
        export PG_PORT
        if _pg_server_start; then
            break
        fi
        _try=$((_try + 1))
        if [ $_try -ge 3 ]; then
            echo "pg.sh: PostgreSQL did not start:" >&2
            tail -n 20 "$PG_DIR/postgres.log" >&2
            pg_stop
            return 1
        fi
    done
    DS_OWNER_DB="postgresql://postgres@127.0.0.1:$PG_PORT/dentsync"
    DS_APP_DB="postgresql://dentsync_app@127.0.0.1:$PG_PORT/dentsync"
    export DS_OWNER_DB DS_APP_DB
    if ! psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
        -c 'CREATE DATABASE dentsync' >/dev/null; then
        echo "pg.sh: cannot create the database dentsync" >&2
        pg_stop
        return 1
    fi
}

pg_pause()
{
    [ -n "${PG_DIR:-}" ] || { echo "pg.sh: no cluster" >&2; return 1; }
    [ -n "${PG_BIN:-}" ] || PG_BIN=$(_pg_bin_dir) || return 1
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
}

pg_resume()
{
    [ -n "${PG_DIR:-}" ] || { echo "pg.sh: no cluster" >&2; return 1; }
    [ -n "${PG_BIN:-}" ] || PG_BIN=$(_pg_bin_dir) || return 1
    _pg_server_start
}

pg_stop()
{
    if [ -z "${PG_DIR:-}" ]; then
        return 0
    fi
    [ -n "${PG_BIN:-}" ] || PG_BIN=$(_pg_bin_dir)
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    fi
    case "$PG_DIR" in
    /tmp/dentsync-pg.*) rm -rf "$PG_DIR" ;;
    esac
    unset PG_DIR PG_PORT DS_OWNER_DB DS_APP_DB CLOUD_LOG
}

# _pg_run URL [SQL...]: psql on URL, each SQL argument as one -c, all in
# one session (so a SET carries over to the next argument).
_pg_run()
{
    _url=$1
    shift
    if [ $# -eq 0 ]; then
        psql "$_url" -At -X -q -v ON_ERROR_STOP=1
        return
    fi
    # Rotate "$@" into: -c SQL1 -c SQL2 ...
    _n=$#
    while [ "$_n" -gt 0 ]; do
        set -- "$@" -c "$1"
        shift
        _n=$((_n - 1))
    done
    psql "$_url" -At -X -q -v ON_ERROR_STOP=1 "$@"
}

pg_psql()
{
    [ -n "${DS_OWNER_DB:-}" ] || { echo "pg.sh: no cluster (pg_start)" >&2; return 1; }
    _pg_run "$DS_OWNER_DB" "$@"
}

pg_psql_app()
{
    [ -n "${DS_APP_DB:-}" ] || { echo "pg.sh: no cluster (pg_start)" >&2; return 1; }
    _pg_run "$DS_APP_DB" "$@"
}

cloud_start()
{
    _build=${1:-build}
    _want_port=${2:-}
    if [ -n "${CLOUD_PID:-}" ]; then
        echo "pg.sh: dentsync-cloud is running already (pid $CLOUD_PID); cloud_stop first" >&2
        return 1
    fi
    [ -n "${DS_OWNER_DB:-}" ] || { echo "pg.sh: no cluster (pg_start)" >&2; return 1; }
    CLOUD_BIN=$_build/dentsync-cloud
    export CLOUD_BIN
    if [ ! -x "$CLOUD_BIN" ]; then
        echo "pg.sh: $CLOUD_BIN not built (make $CLOUD_BIN)" >&2
        return 1
    fi
    CLOUD_LOG=$PG_DIR/cloud.log
    export CLOUD_LOG
    if ! "$CLOUD_BIN" migrate --db "$DS_OWNER_DB" >>"$CLOUD_LOG" 2>&1; then
        echo "pg.sh: dentsync-cloud migrate failed:" >&2
        tail -n 20 "$CLOUD_LOG" >&2
        return 1
    fi
    _try=0
    while [ $_try -lt 3 ]; do
        _try=$((_try + 1))
        if [ -n "$_want_port" ]; then
            CLOUD_PORT=$_want_port
        else
            CLOUD_PORT=$(free_port) || return 1
        fi
        CLOUD_URL=http://127.0.0.1:$CLOUD_PORT
        export CLOUD_PORT CLOUD_URL
        # shellcheck disable=SC2086 # CLOUD_WRAPPER is a command line, split on purpose
        ${CLOUD_WRAPPER:-} "$CLOUD_BIN" serve --db "$DS_APP_DB" --listen "127.0.0.1:$CLOUD_PORT" \
            >>"$CLOUD_LOG" 2>&1 &
        CLOUD_PID=$!
        export CLOUD_PID
        _n=0
        while [ $_n -lt 400 ]; do
            if curl -sf -o /dev/null "$CLOUD_URL/v1/health"; then
                return 0
            fi
            if ! kill -0 "$CLOUD_PID" 2>/dev/null; then
                break # it exited: most likely the port was taken, try again
            fi
            sleep 0.05
            _n=$((_n + 1))
        done
        cloud_stop
        [ -n "$_want_port" ] && sleep 0.5 # give the port time to be released
    done
    echo "pg.sh: dentsync-cloud serve did not come up:" >&2
    tail -n 20 "$CLOUD_LOG" >&2
    return 1
}

cloud_stop()
{
    if [ -z "${CLOUD_PID:-}" ]; then
        return 0
    fi
    kill -TERM "$CLOUD_PID" 2>/dev/null
    _n=0
    while kill -0 "$CLOUD_PID" 2>/dev/null && [ $_n -lt 200 ]; do
        sleep 0.05
        _n=$((_n + 1))
    done
    if kill -0 "$CLOUD_PID" 2>/dev/null; then
        kill -KILL "$CLOUD_PID" 2>/dev/null
    fi
    wait "$CLOUD_PID" 2>/dev/null
    unset CLOUD_PID CLOUD_PORT CLOUD_URL
    return 0
}

cloud_token()
{
    [ -n "${1:-}" ] || { echo "pg.sh: cloud_token NAME" >&2; return 1; }
    if [ -z "${CLOUD_BIN:-}" ] || [ -z "${DS_OWNER_DB:-}" ]; then
        echo "pg.sh: cloud_token needs cloud_start first" >&2
        return 1
    fi
    # The practice may exist already; only the token's success matters.
    "$CLOUD_BIN" practice create "$1" --db "$DS_OWNER_DB" >/dev/null 2>&1
    "$CLOUD_BIN" token create --practice "$1" --name test --db "$DS_OWNER_DB" 2>/dev/null |
        tail -n 1
}
