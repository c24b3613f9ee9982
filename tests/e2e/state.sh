#!/bin/bash
# state.sh — the agent's state directory in trouble.
#
#   1. Disk full: state_dir on a small tmpfs (a private mount namespace:
#      unshare -m, as root). A filler file takes the space; a file dropped in
#      then cannot be staged: ingest pauses, `dentsync status` says
#      PAUSED (DISK_FULL), the log says why, the agent keeps running and the
#      queue passes SQLite's integrity check. Space comes back — once by
#      deleting the filler, once by growing the tmpfs (mount -o remount) —
#      and the file is delivered by itself: every row exactly once in
#      PostgreSQL, every import_job_items row once, the queue with nothing
#      left non-final, its integrity intact.
#   2. Locked queue: another process holds queue.db in an exclusive SQLite
#      transaction: `dentsync run` refuses to start, says the queue is
#      locked, and starts normally once the lock is gone. (A second agent on
#      the same state directory is refused by agent.lock: tests/e2e/sync.sh.)
#   3. Damaged queue: a queue file whose pages were overwritten in the
#      middle: `dentsync run` refuses to start and says the queue is damaged,
#      leaving the file as it was; `dentsync import FILE` without a running
#      agent starts the same way, so it refuses with the same reason and
#      leaves the file as it was too. (A file that is not a database and a
#      damaged header: tests/e2e/crash.sh part 3.)
#   4. A SIGHUP whose configuration moves state_dir: refused with
#      STATE_DIR_CHANGED; the agent runs on in the old state directory,
#      holding its lock (a second `dentsync run` there is refused), with
#      nothing created in the new one, and a file dropped in afterwards
#      lands in the old queue.
#   5. Retention of what was moved aside (retention_days = 1, after = move):
#      a delivered file goes to processed/; with a refused file and its
#      .error.txt in quarantine/, aged two days (touch -d), they are deleted
#      by the sweep of the next start, while a fresh file stays and a link
#      planted in quarantine/ is left as it is, its target intact.
#
# Part 1 needs root for its mount namespace and tmpfs; without them it is
# counted as skipped (skip_required: a failure when CI=true).
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)

# A private mount namespace for the tmpfs, entered once, before anything
# starts: the agent, the cloud and this script then all see the mount, and
# it disappears with them.
if [ -z "${DS_STATE_NS:-}" ] && [ "$(id -u)" = 0 ] &&
    unshare -m --propagation private true 2>/dev/null; then
    DS_STATE_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$top/tests/lib/e2e.sh"

e2e_work state
holder_pid=
e2e_on_exit() {
    [ -n "$holder_pid" ] && kill -9 "$holder_pid" 2>/dev/null
    mountpoint -q "$work/full/state" 2>/dev/null && umount "$work/full/state"
}

e2e_pg
e2e_cloud
agent=$BUILD/dentsync
e2e_practice "e2e-state-$$"

poll=0.2

# setup DIR: an inbox, a state dir and a config for one agent.
setup() {
    mkdir -p "$1/inbox" "$1/state"
    cat >"$1/dentsync.conf" <<EOC
[agent]
state_dir = $1/state
log_level = info
settle_seconds = 0.2
rescan_seconds = 0.3

[cloud]
url = $CLOUD_URL
batch_rows = 500
timeout_seconds = 20
retry_min_seconds = 0.2
retry_max_seconds = 1
heartbeat_seconds = 0

[practice main]
token_file = $work/token

[folder inbox]
path = $1/inbox
practice = main
import_type = patients
template = auto
EOC
}

# patients FILE PREFIX N: a patients export of N rows whose ids start with PREFIX.
patients() {
    awk -v p="$2" -v n="$3" 'BEGIN {
        print "Patient ID,First Name,Last Name,Date of Birth,Email,Notes";
        for (i = 1; i <= n; i++)
            printf "%s-%05d,First%d,Last%d,1980-01-%02d,%s%d@example.com,%s\n", p, i, i, i,
                   i % 28 + 1, tolower(p), i, "a note long enough to make the rows take some room";
    }' >"$1"
}

job_completed() { # job_completed FILENAME
    [ "$(pg_psql "SELECT count(*) FROM import_jobs WHERE practice_id = '$practice_id'
                  AND filename = '$1' AND status = 'completed'")" = 1 ]
}
rows_once() { # rows_once PREFIX N: every row once, every item once
    [ "$(pg_psql "SELECT count(*) || '/' || count(DISTINCT external_id) FROM patients
                  WHERE practice_id = '$practice_id' AND external_id LIKE '$1-%'")" = "$2/$2" ] &&
        [ "$(pg_psql "SELECT count(*) || '/' || count(DISTINCT i.row_number) FROM import_job_items i
                      JOIN import_jobs j ON j.id = i.job_id
                      WHERE j.practice_id = '$practice_id' AND j.filename = '$1.csv'")" = "$2/$2" ]
}

# --- 1. disk full ---------------------------------------------------------------------------

full=$work/full
setup "$full"
if [ "${DS_STATE_NS:-}" = 1 ] && mount -t tmpfs -o size=8m,mode=0700 tmpfs "$full/state" 2>/dev/null; then
    queue_sql() { sqlite3 -readonly "$full/state/queue.db" "$1" 2>/dev/null; }
    paused() { "$agent" status -c "$full/dentsync.conf" 2>/dev/null | grep -q 'PAUSED (DISK_FULL)'; }
    # fill: takes all the tmpfs's space but KEEP KiB.
    fill() {
        avail=$(df -k --output=avail "$full/state" | tail -n 1)
        dd if=/dev/zero of="$full/state/filler" bs=1024 count=$((avail - $1)) 2>/dev/null
        sync
    }
    integrity() { [ "$(queue_sql 'PRAGMA integrity_check')" = ok ]; }
    nothing_open() {
        [ "$(queue_sql "SELECT (SELECT count(*) FROM files WHERE state NOT IN ('done','duplicate','quarantined','held'))
                         + (SELECT count(*) FROM jobs WHERE state <> 'completed')
                         + (SELECT count(*) FROM batches WHERE state NOT IN ('acked','rejected'))
                         + (SELECT count(*) FROM items WHERE status IN ('valid','sent'))")" = 0 ]
    }

    "$agent" run -c "$full/dentsync.conf" >>"$full/agent.log" 2>&1 &
    agent_pid=$!
    check "disk full: the agent starts on an 8 MiB tmpfs" \
        wait_until 20 grep -q 'dentsync running' "$full/agent.log"
    # A first file proves the path before the disk fills.
    patients "$full/FIRST.csv" FIRST 50
    mv "$full/FIRST.csv" "$full/inbox/"
    check "disk full: a file is delivered while there is space" wait_until 30 job_completed FIRST.csv

    # (a) space comes back by deleting the filler.
    fill 64
    patients "$full/FULLA.csv" FULLA 1500
    mv "$full/FULLA.csv" "$full/inbox/"
    check "disk full: ingest pauses and status says PAUSED (DISK_FULL)" wait_until 30 paused
    check "disk full: the log says there is no space left, and that it resumes by itself" \
        grep -q 'no space left for the queue in .*DISK_FULL.*resumes by itself' "$full/agent.log"
    check "disk full: the agent keeps running" kill -0 "$agent_pid"
    check "disk full: the queue passes its integrity check while full" integrity
    check "disk full: nothing of the file reached the cloud" \
        test "$(pg_psql "SELECT count(*) FROM patients WHERE practice_id = '$practice_id'
                         AND external_id LIKE 'FULLA-%'")" = 0
    sleep 1
    check "disk full: still paused a second later (no busy retry)" paused
    rm -f "$full/state/filler"
    check "disk full: space freed (filler deleted): the file is delivered by itself" \
        wait_until 60 job_completed FULLA.csv
    check "disk full: every row of it exactly once in PostgreSQL, every item once" rows_once FULLA 1500
    check "disk full: status no longer says PAUSED" sh -c "! \"$agent\" status -c \"$full/dentsync.conf\" | grep -q PAUSED"
    check "disk full: the log says ingest resumed" grep -q 'ingest resumes' "$full/agent.log"

    # (b) space comes back by growing the file system.
    fill 64
    patients "$full/FULLB.csv" FULLB 1500
    mv "$full/FULLB.csv" "$full/inbox/"
    check "disk full again: ingest pauses" wait_until 30 paused
    check "disk full again: the queue passes its integrity check" integrity
    mount -o remount,size=48m "$full/state"
    check "disk full again: the tmpfs grown to 48 MiB, the file is delivered by itself" \
        wait_until 60 job_completed FULLB.csv
    check "disk full again: every row of it exactly once, every item once" rows_once FULLB 1500
    check "disk full: the first file still once" rows_once FIRST 50
    check "disk full: the queue has nothing left in a non-final state" wait_until 20 nothing_open
    kill -TERM "$agent_pid"
    wait "$agent_pid"
    st=$?
    agent_pid=
    check "disk full: the agent stops cleanly (status $st)" test "$st" = 0
    check "disk full: the queue passes its integrity check at the end" integrity
    rm -f "$full/state/filler"
    umount "$full/state"
else
    skip_required "disk full: needs root for a private mount namespace and a tmpfs (unshare -m, mount -t tmpfs)"
fi

# --- 2. a locked queue ------------------------------------------------------------------------

lk=$work/locked
setup "$lk"
# A first run creates the queue; then an outside process locks it.
"$agent" run -c "$lk/dentsync.conf" >>"$lk/agent.log" 2>&1 &
agent_pid=$!
wait_until 20 grep -q 'dentsync running' "$lk/agent.log"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
mkfifo "$lk/hold"
# sqlite3 takes an exclusive lock and keeps it until the fifo is written.
{ printf 'BEGIN EXCLUSIVE;\nCREATE TABLE IF NOT EXISTS outsider(x);\n'; cat "$lk/hold"; printf 'ROLLBACK;\n'; } |
    sqlite3 "$lk/state/queue.db" >/dev/null 2>&1 &
holder_pid=$!
sleep 1
start=$(date +%s)
timeout 120 "$agent" run -c "$lk/dentsync.conf" >"$lk/locked.log" 2>&1
st=$?
took=$(($(date +%s) - start))
check "locked queue: dentsync run refuses to start (exit $st after ${took}s)" test "$st" -ne 0 -a "$st" -ne 124
check "locked queue: it says the queue is locked" grep -qi 'locked\|busy' "$lk/locked.log"
grep -i 'locked\|busy\|cannot' "$lk/locked.log" | head -n 3 | sed 's/^/# /'
echo >"$lk/hold"
wait "$holder_pid"
holder_pid=
"$agent" run -c "$lk/dentsync.conf" >>"$lk/agent.log" 2>&1 &
agent_pid=$!
check "locked queue: once the lock is gone the agent starts" \
    wait_until 20 sh -c "grep -c 'dentsync running' '$lk/agent.log' | grep -q 2"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=

# --- 3. a damaged queue ------------------------------------------------------------------------

dm=$work/damaged
setup "$dm"
patients "$dm/inbox/DMG.csv" DMG 1000
"$agent" run -c "$dm/dentsync.conf" >>"$dm/agent.log" 2>&1 &
agent_pid=$!
wait_until 60 job_completed DMG.csv
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
sqlite3 "$dm/state/queue.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
pages=$(($(stat -c %s "$dm/state/queue.db") / 4096))
# Garbage over the pages of the middle of the file, the header left intact.
dd if=/dev/urandom of="$dm/state/queue.db" bs=4096 seek=$((pages / 3)) count=$((pages / 3)) \
    conv=notrunc 2>/dev/null
before=$(sha256sum "$dm/state/queue.db" | cut -d' ' -f1)
timeout 120 "$agent" run -c "$dm/dentsync.conf" >"$dm/damaged.log" 2>&1
st=$?
check "damaged queue: dentsync run refuses to start (exit $st)" test "$st" -ne 0 -a "$st" -ne 124
check "damaged queue: it says the queue is damaged" grep -qi 'damaged\|malformed\|corrupt' "$dm/damaged.log"
grep -i 'damaged\|malformed\|corrupt' "$dm/damaged.log" | head -n 2 | sed 's/^/# /'
check "damaged queue: the file is left as it was" \
    test "$(sha256sum "$dm/state/queue.db" | cut -d' ' -f1)" = "$before"

# `dentsync import` with no agent running does the agent's work itself: it
# must refuse the queue `dentsync run` refused, for the same reason.
reason=$(sed -n 's/.* AGENT_START_FAILED cannot run: //p' "$dm/damaged.log" | head -n 1)
patients "$dm/IMPORT.csv" IMP 10
timeout 120 "$agent" import -c "$dm/dentsync.conf" --folder inbox "$dm/IMPORT.csv" \
    >"$dm/import.log" 2>&1
st=$?
check "damaged queue: dentsync import without an agent refuses too (exit $st)" \
    test "$st" -ne 0 -a "$st" -ne 124
check "damaged queue: import gives the reason run gave" \
    sh -c '[ -n "$1" ] && grep -qF -- "dentsync import: $1" "$2"' _ "$reason" "$dm/import.log"
sed 's/^/# import: /' "$dm/import.log" | head -n 3
check "damaged queue: import leaves the file as it was" \
    test "$(sha256sum "$dm/state/queue.db" | cut -d' ' -f1)" = "$before"

# --- 4. a SIGHUP that moves state_dir ---------------------------------------------------------

hup=$work/moved
setup "$hup"
cp "$hup/dentsync.conf" "$hup/first.conf"
"$agent" run -c "$hup/dentsync.conf" >>"$hup/agent.log" 2>&1 &
agent_pid=$!
check "moved state_dir: the agent starts" wait_until 20 grep -q 'dentsync running' "$hup/agent.log"
sed -i "s|^state_dir = .*|state_dir = $hup/state2|" "$hup/dentsync.conf"
kill -HUP "$agent_pid"
check "moved state_dir: SIGHUP is refused with STATE_DIR_CHANGED" \
    wait_until 10 grep -q 'warn  STATE_DIR_CHANGED' "$hup/agent.log"
grep 'STATE_DIR_CHANGED' "$hup/agent.log" | head -n 1 | sed 's/^/# /'
check "moved state_dir: the agent runs on" kill -0 "$agent_pid"
check "moved state_dir: it still holds the old state directory's lock" \
    sh -c '! flock -n "$1" true' _ "$hup/state/agent.lock"
patients "$hup/AFTER.csv" AFTER 20
mv "$hup/AFTER.csv" "$hup/inbox/"
check "moved state_dir: a file dropped in afterwards is delivered" wait_until 30 job_completed AFTER.csv
# (queue_sql of tests/lib/e2e.sh is redefined by part 1: sqlite3 itself here.)
in_old_queue() {
    [ "$(sqlite3 -readonly "$hup/state/queue.db" "SELECT count(*) FROM files
          WHERE path LIKE '%/AFTER.csv' AND state = 'done'" 2>/dev/null)" = 1 ]
}
check "moved state_dir: it went through the old queue" wait_until 20 in_old_queue
check "moved state_dir: nothing created in the new state directory (no queue, no lock)" \
    test -z "$(ls -A "$hup/state2" 2>/dev/null)"
timeout 60 "$agent" run -c "$hup/first.conf" >"$hup/second.log" 2>&1
st=$?
check "moved state_dir: a second dentsync run on the old state directory is refused (exit $st)" \
    test "$st" -ne 0 -a "$st" -ne 124
check "moved state_dir: ... as locked by the running agent" \
    grep -q 'another dentsync is already running on the state directory' "$hup/second.log"
kill -TERM "$agent_pid"
wait "$agent_pid"
st=$?
agent_pid=
check "moved state_dir: the agent stops cleanly (status $st)" test "$st" = 0

# --- 5. retention of quarantine/ and processed/ --------------------------------------------------

ret=$work/retention
setup "$ret"
sed -i -e 's/^log_level = info$/&\nretention_days = 1/' -e 's/^template = auto$/&\nafter = move/' \
    "$ret/dentsync.conf"
"$agent" run -c "$ret/dentsync.conf" >>"$ret/agent.log" 2>&1 &
agent_pid=$!
patients "$ret/KEEP.csv" KEEP 5
mv "$ret/KEEP.csv" "$ret/inbox/"
check "retention: the delivered file is moved to processed/" \
    wait_until 30 test -f "$ret/inbox/processed/KEEP.csv"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=
# A quarantine folder as the agent leaves it: a refused file and its reason.
q=$ret/inbox/quarantine
mkdir -m 700 "$q"
printf 'Account,Amount\n1,2\n' >"$q/refused.csv"
printf 'code:   MAPPING_ERROR\n' >"$q/refused.csv.error.txt"
echo "not the agent's to delete" >"$ret/outside.txt"
ln -s "$ret/outside.txt" "$q/planted.csv"
echo "fresh" >"$q/fresh.csv"
touch -d '2 days ago' "$ret/inbox/processed/KEEP.csv" "$q/refused.csv" "$q/refused.csv.error.txt" \
    "$ret/outside.txt"
touch -h -d '2 days ago' "$q/planted.csv"
"$agent" run -c "$ret/dentsync.conf" >>"$ret/agent.log" 2>&1 &
agent_pid=$!
check "retention: the sweep deletes the processed file older than retention_days" \
    wait_until 20 test ! -e "$ret/inbox/processed/KEEP.csv"
check "retention: ... and the quarantined file and its .error.txt" \
    sh -c 'test ! -e "$1/refused.csv" && test ! -e "$1/refused.csv.error.txt"' _ "$q"
check "retention: a fresh quarantined file stays" test -f "$q/fresh.csv"
check "retention: the planted link is not followed: it stays, its target intact" \
    sh -c 'test -L "$1/planted.csv" && [ "$(cat "$2")" = "not the agent'"'"'s to delete" ]' _ "$q" \
    "$ret/outside.txt"
check "retention: the log counts them by folder" \
    sh -c 'grep -q "RETENTION_SWEEP .* 1 file(s) past retention_days deleted from its processed" "$1" &&
           grep -q "RETENTION_SWEEP .* 2 file(s) past retention_days deleted from its quarantine" "$1"' \
    _ "$ret/agent.log"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=

e2e_summary
