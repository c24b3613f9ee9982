#!/bin/bash
# ops.sh — what an office manager or an IT contractor touches: the install
# tree, the .deb, the systemd units, the service notifications, every
# command's --help, status/jobs/job/events against a live agent, doctor,
# and a scan of every output of the run for patient values and the token.
# Run by tests/e2e/run.sh (which starts PostgreSQL); alone it starts its own.
#
#   1. `make install DESTDIR=` puts binaries, units, sysusers, man pages,
#      docs and the config in place with the right modes;
#   2. `make deb` builds a package whose control, conffiles, scripts and
#      contents are right (lintian too when it is installed);
#   3. systemd-analyze verify accepts copies of the units run from DESTDIR;
#   4. every subcommand answers --help;
#   5. a live agent under a NOTIFY_SOCKET sends READY=1, WATCHDOG=1 and
#      STOPPING=1, and status, jobs, job and events describe its work;
#   6. doctor: all OK on a good setup; exactly the one failure for a wrong
#      token, an unreadable folder, a 0644 token file;
#   7. no output of the run carries a sample patient's name, birth date,
#      phone or email, nor the token;
#   8. a member of the state directory's group (a system user made here)
#      runs status, jobs, job, events, preview (against what was synced)
#      and sync-now without root, with the agent running and stopped; a
#      user outside the group cannot; preview changes nothing in a queue;
#   9. import FILE: through the running agent, and alone (taking the
#      agent's lock), rows counted in PostgreSQL, plain progress lines
#      when stdout is not a terminal.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build_rel=${BUILD:-build}
. "$top/tests/lib/e2e.sh"

e2e_work ops
listener_pid=
grp=
e2e_on_exit() {
    if [ -n "$grp" ]; then
        userdel "$grp-in" 2>/dev/null
        userdel "$grp-out" 2>/dev/null
        groupdel "$grp" 2>/dev/null
    fi
    [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
}

agent=$BUILD/dentsync
# Every output of the run lands in $work/out/ for the final scan.
mkdir -p "$work/out"
out() { echo "$work/out/$1"; }

# --- 1. make install into a DESTDIR -----------------------------------------------
root=$work/root
make -C "$top" -s --no-print-directory DEPS=0 BUILD="$build_rel" install PREFIX=/usr \
    DESTDIR="$root" >"$(out install.log)" 2>&1
check "make install DESTDIR= succeeds" test $? -eq 0
for f in usr/bin/dentsync usr/bin/dentsync-cloud etc/dentsync/dentsync.conf \
    usr/lib/systemd/system/dentsync.service usr/lib/systemd/system/dentsync-cloud.service \
    usr/lib/sysusers.d/dentsync.conf usr/lib/tmpfiles.d/dentsync.conf \
    usr/share/man/man1/dentsync.1 usr/share/man/man5/dentsync.conf.5 \
    usr/share/man/man8/dentsync-cloud.8 usr/share/doc/dentsync/operations.md \
    usr/share/doc/dentsync/cli.md usr/share/dentsync/templates/generic-patients.json; do
    [ -f "$root/$f" ] || { not_ok "the install tree lacks $f"; }
done
check "the install tree holds binaries, units, sysusers, tmpfiles, man pages, docs, templates" \
    test "$(find "$root" -type f | wc -l)" -gt 25
check "the binaries are 0755 and the config 0640" \
    test "$(stat -c %a "$root/usr/bin/dentsync") $(stat -c %a "$root/etc/dentsync/dentsync.conf")" = "755 640"
check "the unit runs /usr/bin/dentsync as Type=notify with a watchdog" \
    grep -q '^ExecStart=/usr/bin/dentsync run' "$root/usr/lib/systemd/system/dentsync.service"
for key in Type=notify WatchdogSec= Restart=on-failure User=dentsync StateDirectory=dentsync \
    ConfigurationDirectory=dentsync UMask=0077 NoNewPrivileges=yes ProtectSystem=strict \
    PrivateTmp=yes RestrictAddressFamilies= SystemCallFilter=@system-service; do
    grep -q "^$key" "$root/usr/lib/systemd/system/dentsync.service" ||
        not_ok "the unit lacks $key"
done
check "sysusers.d creates the dentsync user" \
    grep -q '^u dentsync ' "$root/usr/lib/sysusers.d/dentsync.conf"
check "the man pages render without warnings" \
    sh -c "for m in $root/usr/share/man/man*/*; do man -l -Tutf8 \"\$m\" 2>&1 >/dev/null | grep -q . && exit 1; done; exit 0"
# A second install keeps an edited config.
echo "; edited" >>"$root/etc/dentsync/dentsync.conf"
make -C "$top" -s --no-print-directory DEPS=0 BUILD="$build_rel" install PREFIX=/usr \
    DESTDIR="$root" >>"$(out install.log)" 2>&1
check "make install again keeps an edited config" \
    grep -q '^; edited' "$root/etc/dentsync/dentsync.conf"

# --- 2. the .deb ---------------------------------------------------------------
make -C "$top" -s --no-print-directory DEPS=0 BUILD="$build_rel" deb >"$(out deb.log)" 2>&1
deb=$(ls "$BUILD"/dentsync_*.deb 2>/dev/null | head -n 1)
check "make deb builds a package" test -n "$deb" -a -s "${deb:-/nonexistent}"
if [ -n "$deb" ]; then
    dpkg-deb --info "$deb" >"$work/deb.info"
    dpkg-deb --contents "$deb" >"$work/deb.contents"
    dpkg-deb --field "$deb" Depends >"$work/deb.depends"
    check "its Depends name the runtime libraries (libuv1, libcurl4, libsqlite3-0, libpq5)" \
        sh -c "grep -q 'libuv1 (>=' $work/deb.depends && grep -q libcurl4 $work/deb.depends && grep -q libsqlite3-0 $work/deb.depends && grep -q libpq5 $work/deb.depends"
    check "its Depends carry no -dev package" sh -c "! grep -q -- '-dev' $work/deb.depends"
    check "the config is a conffile (kept on upgrade)" \
        sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/dentsync/dentsync.conf"
    check "postinst creates the user and directories; postrm purges the config" \
        sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./postinst | grep -q 'adduser --system' && dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./postrm | grep -q 'rm -rf /etc/dentsync'"
    check "it holds the binaries, the units, sysusers and compressed man pages" \
        sh -c "grep -q './usr/bin/dentsync\$' $work/deb.contents && grep -q 'system/dentsync.service' $work/deb.contents && grep -q 'sysusers.d/dentsync.conf' $work/deb.contents && grep -q 'man1/dentsync.1.gz' $work/deb.contents"
    check "files in it are owned by root" sh -c "! awk '{print \$2}' $work/deb.contents | grep -v '^root/root\$' | grep -q ."
    if command -v lintian >/dev/null 2>&1; then
        lintian --no-tag-display-limit "$deb" >"$work/lintian.log" 2>&1
        check "lintian finds no error" sh -c "! grep -q '^E:' $work/lintian.log"
    else
        skip "lintian finds no error (lintian is not installed)"
    fi
fi

# --- 3. systemd-analyze verify on copies of the units ---------------------------
mkdir -p "$work/units"
for u in dentsync.service dentsync-cloud.service; do
    sed "s|/usr/bin/|$root/usr/bin/|g" "$root/usr/lib/systemd/system/$u" >"$work/units/$u"
done
if command -v systemd-analyze >/dev/null 2>&1; then
    MANPATH=$root/usr/share/man systemd-analyze verify "$work/units/dentsync.service" \
        "$work/units/dentsync-cloud.service" >"$work/verify.log" 2>&1
    check "systemd-analyze verify accepts both units" test $? -eq 0
    [ -s "$work/verify.log" ] && sed 's/^/# /' "$work/verify.log"
else
    not_ok "systemd-analyze is missing (installer/deps.sh installs systemd)"
fi

# --- 4. --help of every command ----------------------------------------------
cmds=$("$agent" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
check "dentsync --help lists status, jobs, job, events and doctor" \
    sh -c "echo '$cmds' | grep -qx status && echo '$cmds' | grep -qx jobs && echo '$cmds' | grep -qx job && echo '$cmds' | grep -qx events && echo '$cmds' | grep -qx doctor"
help_bad=0
for c in $cmds; do
    if ! "$agent" "$c" --help >"$work/help.out" 2>&1 || ! grep -q "^usage: dentsync $c" "$work/help.out"; then
        help_bad=$((help_bad + 1))
        echo "# dentsync $c --help failed"
    fi
done
check "every command ($(echo $cmds | wc -w)) answers --help with its usage" test "$help_bad" -eq 0
check "dentsync --version" sh -c "'$agent' --version | grep -q '^dentsync '"

# --- templates ------------------------------------------------------------------------
"$agent" templates list >"$(out templates-list.txt)" 2>&1
check "templates list: the built-in templates" \
    sh -c "grep -q '^generic-patients  *patients' '$(out templates-list.txt)' && [ \$(wc -l <'$(out templates-list.txt)') -gt 8 ]"
"$agent" templates show generic-patients >"$(out templates-show.txt)" 2>&1
check "templates show ID: its fields and columns" \
    sh -c "grep -q '^id  *generic-patients' '$(out templates-show.txt)' && grep -q '^first_name  *yes' '$(out templates-show.txt)'"
"$agent" templates show no-such-template >/dev/null 2>&1
check "templates show with an unknown id: exit 1" test $? -eq 1
"$agent" templates test "$top/samples/patients.csv" --type patients >"$(out templates-test.txt)" 2>&1
status=$?
check "templates test FILE: the sample is detected as generic-patients, which binds" \
    sh -c "[ $status -eq 0 ] && grep -q '^detected: generic-patients' '$(out templates-test.txt)' && grep -q '^generic-patients  *patients  *yes' '$(out templates-test.txt)'"
printf 'Account,Amount\n1,2\n' >"$work/odd.csv"
"$agent" templates test "$work/odd.csv" >"$(out templates-test-odd.txt)" 2>&1
status=$?
check "templates test on a file no template reads: exit 1, says so" \
    sh -c "[ $status -eq 1 ] && grep -q 'no template reads this file' '$(out templates-test-odd.txt)'"

# --- 5. a live agent: notifications, status, jobs, job, events --------------------
e2e_pg
e2e_cloud
e2e_practice "e2e-ops-$$"
token=$(cat "$work/token")
check "the cloud gave a token" test -n "$token"

mkdir -p "$work/inbox" "$work/state"
# The state directory as the package makes it: 0750, the service's group
# (here a group made for the test, with one member and one outsider;
# setgid so that what the agent, run as root here, creates is that group's,
# as it is for the service user whose own group it is).
grp=dse2e$$
groupadd -r "$grp" && useradd -r -M -N -g nogroup -G "$grp" -s /usr/sbin/nologin "$grp-in" &&
    useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$grp-out" || grp=
chgrp "${grp:-root}" "$work/state"
chmod 2750 "$work/state"
write_config() { # write_config TOKEN_FILE FOLDER
    cat <<EOF
[agent]
state_dir = $work/state
log_level = debug
log_file = $work/out/agent-file.log
log_max_kb = 1
log_keep = 2
settle_seconds = 0.2
rescan_seconds = 0.5
stale_hours = 26

[cloud]
url = $CLOUD_URL
batch_rows = 10
timeout_seconds = 5
retry_min_seconds = 0.1
retry_max_seconds = 0.5
heartbeat_seconds = 0

[practice main]
token_file = $1

[folder patients]
path = $2
practice = main
import_type = patients
template = generic-patients
EOF
}
write_config "$work/token" "$work/inbox" >"$work/dentsync.conf"
conf=$work/dentsync.conf

"$agent" status -c "$conf" >"$(out status-before.txt)" 2>&1
check "status before the first run says the agent is not running and there is no queue" \
    sh -c "grep -q 'NOT RUNNING' '$(out status-before.txt)' && grep -q 'queue: *none yet' '$(out status-before.txt)'"

# systemd's side of sd_notify: a datagram socket that records what arrives.
sock=$work/notify.sock
python3 - "$sock" "$work/notify.log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1] + ".tmp")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a") as log:
    while True:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        log.write(m.replace("\n", "|") + "\n")
        log.flush()
EOF
listener_pid=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 "$agent" run -c "$conf" >>"$(out agent.log)" 2>&1 &
agent_pid=$!

poll=0.2
check "the agent sends READY=1 on NOTIFY_SOCKET" wait_until 10 grep -q '^READY=1' "$work/notify.log"
check "and WATCHDOG=1 with a STATUS line (at half of WATCHDOG_USEC)" \
    wait_until 5 sh -c "[ \$(grep -c '^WATCHDOG=1|STATUS=' '$work/notify.log') -ge 2 ]"

sample=$top/samples/patients.csv
cp "$sample" "$work/inbox/patients.csv"
printf 'Account,Amount\n1,2\n' >"$work/inbox/not-patients.csv"
job_done() { "$agent" jobs -c "$conf" --json 2>/dev/null | grep -q '"filename":"patients.csv".*"state":"completed'; }
check "the sample's job completes (dentsync jobs --json)" wait_until 60 job_done
check "the unreadable file is quarantined" \
    wait_until 20 sh -c "'$agent' status -c '$conf' --json | grep -q '\"state\":\"quarantined\"'"

"$agent" status -c "$conf" >"$(out status.txt)" 2>&1
check "status: exit 0" test $? -eq 0
cat "$(out status.txt)" | sed 's/^/# /'
check "status: the agent is running" grep -q '^agent: *running (pid' "$(out status.txt)"
check "status: the folder's last file and a sync time, not stale" \
    sh -c "grep -E '^patients +main +' '$(out status.txt)' | grep -v never | grep -q . && ! grep -q STALE '$(out status.txt)'"
check "status: the practice is uploading" grep -q '^practice main: uploading' "$(out status.txt)"
check "status: the quarantined file with its reason code" \
    sh -c "grep -q 'not-patients.csv' '$(out status.txt)' && grep -qE '^ +[A-Z_]+: ' '$(out status.txt)'"
"$agent" status -c "$conf" --json >"$(out status.json)" 2>&1
check "status --json: running, a last sync, not stale, not paused" \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = d["folders"][0]
assert d["agent"] == "running" and d["stale"] is False
assert f["name"] == "patients" and f["last_synced_at"] and f["quarantined"] == 1
assert d["practices"][0]["paused"] is False
' "$(out status.json)"

"$agent" jobs -c "$conf" >"$(out jobs.txt)" 2>&1
check "jobs: a table with the sample's job" grep -q 'patients.csv *patients *generic-patients *completed' "$(out jobs.txt)"
job_id=$("$agent" jobs -c "$conf" --json | python3 -c 'import json,sys; print([j["id"] for j in map(json.loads, sys.stdin) if j["filename"] == "patients.csv"][0])')
"$agent" job -c "$conf" "${job_id:0:8}" >"$(out job.txt)" 2>&1
check "job PREFIX: the job in detail, with its batches" \
    sh -c "grep -q '^job *$job_id' '$(out job.txt)' && grep -q '^batches .* acked' '$(out job.txt)'"
"$agent" job -c "$conf" --json "$job_id" >"$(out job.json)" 2>&1
rows=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8-sig"))))' "$sample") - 1))
check "job --json: every row of the sample accounted for ($rows)" \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rows"]
done = r["created"] + r["updated"] + r["unchanged"] + r["duplicate"] + r["invalid"] + r["conflict"] + r["needs_review"] + r["rejected"]
assert d["state"].startswith("completed") and r["total"] == int(sys.argv[2]) and done == r["total"], d
' "$(out job.json)" "$rows"
"$agent" job -c "$conf" 00000000-0000 >/dev/null 2>&1
check "job with an unknown id: exit 1" test $? -eq 1
"$agent" events -c "$conf" --since 1h >"$(out events.txt)" 2>&1
check "events --since 1h: the file seen, the job created, completed" \
    sh -c "grep -q file_seen '$(out events.txt)' && grep -q job_created '$(out events.txt)' && grep -q job_completed '$(out events.txt)'"
"$agent" events -c "$conf" --json --limit 3 >"$(out events.json)" 2>&1
check "events --json --limit 3: three JSON lines" \
    sh -c "[ \$(wc -l <'$(out events.json)') -eq 3 ] && python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '$(out events.json)'"
"$agent" events -c "$conf" --since tomorrow >/dev/null 2>&1
check "events --since with a bad time: usage error (2)" test $? -eq 2

# --- 9. import FILE through the running agent ------------------------------------------
# Files of their own (ids prefixed so PostgreSQL can count them), outside
# the watched folder, so only the import takes them.
mkdir -p "$work/imports"
make_import() { # make_import PREFIX ROWS FILE: a generated export, ids PREFIX + id
    sh "$top/samples/generate.sh" -n "$2" | python3 -c '
import csv, sys
rows = list(csv.reader(open(0, encoding="utf-8-sig", newline="")))
w = csv.writer(open(sys.argv[2], "w", encoding="utf-8", newline=""))
w.writerow(rows[0])
for r in rows[1:]:
    if r[0]:
        r[0] = sys.argv[1] + r[0]
    w.writerow(r)
' "$1" "$3"
}
with_id() { python3 -c 'import csv,sys; print(sum(1 for r in list(csv.reader(open(sys.argv[1], encoding="utf-8")))[1:] if r[0]))' "$1"; }
practice_id=$(pg_psql "SELECT id FROM practices WHERE name = '$practice'")
in_pg() { pg_psql "SELECT count(*) FROM patients WHERE practice_id = '$practice_id' AND external_id LIKE '$1%'"; }
make_import A 400 "$work/imports/a.csv"
"$agent" import -c "$conf" "$work/imports/a.csv" >"$(out import-agent.txt)" 2>"$(out import-agent.err)"
status=$?
sed 's/^/# /' "$(out import-agent.txt)" | head -n 8
check "import through the running agent: exit 0, handed to the agent, the job completed" \
    sh -c "[ $status -eq 0 ] && grep -q '^import: .* handed to the running agent' '$(out import-agent.txt)' && grep -qE '^import: job [0-9a-f-]+ completed' '$(out import-agent.txt)'"
check "... every row with an id is in PostgreSQL ($(with_id "$work/imports/a.csv"))" \
    test "$(in_pg A)" -eq "$(with_id "$work/imports/a.csv")"
check "... the agent logged the request (IMPORT_REQUESTED) and staged the job" \
    sh -c "grep -q 'IMPORT_REQUESTED import: $work/imports/a.csv' '$(out agent.log)' && grep -q 'JOB_STAGED $work/imports/a.csv' '$(out agent.log)'"
check "... plain progress lines, not a bar, when stdout is not a terminal" \
    sh -c "grep -qE '^import: (staging: [0-9]+ rows read|uploading: [0-9]+ of [0-9]+ rows answered)' '$(out import-agent.txt)' && ! grep -q \"\$(printf '\\r')\" '$(out import-agent.txt)' && ! grep -vq '^import: ' '$(out import-agent.txt)'"
check "... and the file is left where it was" test -f "$work/imports/a.csv"
"$agent" import -c "$conf" "$work/imports/a.csv" >"$(out import-again.txt)" 2>&1
status=$?
check "importing the same content again: exit 0, nothing sent again" \
    sh -c "[ $status -eq 0 ] && grep -q 'same content as a file taken before' '$(out import-again.txt)'"
"$agent" import -c "$conf" --type appointments "$work/imports/a.csv" >"$(out import-type.txt)" 2>&1
status=$?
check "import --type with no folder of that type: usage error (2), says so" \
    sh -c "[ $status -eq 2 ] && grep -q 'no folder of .* imports appointments' '$(out import-type.txt)'"

# --- 8. the dentsync group: read-only commands without root -------------------------
check "a system group with a member and a user outside it were made" test -n "$grp"
cp "$agent" "$work/dentsync-any"
chmod 755 "$work/dentsync-any"
chmod 711 "$work"
as_user() { # as_user USER OUTPUT COMMAND ARGS...: the command as USER, its output kept
    _u=$1
    _o=$2
    shift 2
    runuser -u "$_u" -- "$work/dentsync-any" "$@" >"$(out "$_o")" 2>&1
}
group_reads() { # group_reads TAG: status, jobs, job and events as the member
    as_user "$grp-in" "group-status-$1.txt" status -c "$conf" &&
        grep -qE '^patients +main' "$(out "group-status-$1.txt")" &&
        as_user "$grp-in" "group-jobs-$1.txt" jobs -c "$conf" &&
        grep -q 'patients.csv *patients *generic-patients *completed' "$(out "group-jobs-$1.txt")" &&
        as_user "$grp-in" "group-job-$1.txt" job -c "$conf" "$job_id" &&
        grep -q '^batches .* acked' "$(out "group-job-$1.txt")" &&
        as_user "$grp-in" "group-events-$1.txt" events -c "$conf" --since 1h &&
        grep -q job_completed "$(out "group-events-$1.txt")"
}
check "the queue, its -wal and -shm are 0640 of the group; the control socket 0660" \
    sh -c "[ \"\$(stat -c '%a %G' '$work/state/queue.db' '$work/state/queue.db-wal' '$work/state/queue.db-shm' | sort -u)\" = '640 $grp' ] && [ \"\$(stat -c '%a %G' '$work/state/control.sock')\" = '660 $grp' ]"
check "agent.lock and agent-id stay 0600" \
    sh -c "[ \"\$(stat -c %a '$work/state/agent.lock' '$work/state/agent-id' | sort -u)\" = 600 ]"
check "a member of the group runs status, jobs, job, events (agent running)" group_reads running
check "... and status says the agent runs (it reached the control socket)" \
    grep -q '^agent: *running (pid' "$(out group-status-running.txt)"
# preview prints the file's values: its output stays out of $work/out (the
# scan of part 7 is for what must never carry them).
chmod 755 "$work/imports"
runuser -u "$grp-in" -- "$work/dentsync-any" preview -c "$conf" --all "$work/imports/a.csv" \
    >"$work/group-preview.txt" 2>&1
check "a member of the group previews a file against what was synced (its rows unchanged)" \
    grep -qE '^[0-9]+ row\(s\) previewed .*, [1-9][0-9]* unchanged' "$work/group-preview.txt"
as_user "$grp-in" group-sync-now.txt sync-now -c "$conf"
check "a member of the group may ask for sync-now" test $? -eq 0
as_user "$grp-in" group-retry.txt retry -c "$conf" --rejected
check "but not change the queue (retry --rejected fails)" test $? -ne 0
cp "$work/imports/a.csv" "$work/imports/a-copy.csv"
chmod 755 "$work/imports"
as_user "$grp-in" group-import.txt import -c "$conf" "$work/imports/a-copy.csv"
status=$?
check "but not import a file (the agent refuses: root or the service user only)" \
    sh -c "[ $status -eq 1 ] && grep -q 'import needs root or the service user' '$(out group-import.txt)'"
as_user "$grp-out" outsider-status.txt status -c "$conf"
s1=$?
as_user "$grp-out" outsider-jobs.txt jobs -c "$conf"
s2=$?
check "a user outside the group gets neither status nor jobs (exit 1, permission denied)" \
    sh -c "[ $s1 -eq 1 ] && [ $s2 -eq 1 ] && grep -q 'Permission denied' '$(out outsider-jobs.txt)' && ! grep -q 'patients.csv' '$(out outsider-jobs.txt)' && ! grep -q 'running (pid' '$(out outsider-status.txt)'"
as_user "$grp-out" outsider-sync-now.txt sync-now -c "$conf"
check "nor reaches the control socket (sync-now fails)" test $? -ne 0

# --- 6. doctor ---------------------------------------------------------------------
"$agent" doctor -c "$conf" >"$(out doctor-good.txt)" 2>&1
status=$?
sed 's/^/# /' "$(out doctor-good.txt)"
check "doctor on a good setup: exit 0, no FAIL" \
    sh -c "[ $status -eq 0 ] && ! grep -q '^FAIL' '$(out doctor-good.txt)'"
check "doctor checked the token and the clock against the cloud" \
    sh -c "grep -q '^OK .*accepts the token' '$(out doctor-good.txt)' && grep -q '^OK .*clock' '$(out doctor-good.txt)'"

umask 077
echo "not-a-real-token-$$" >"$work/bad.token"
umask 022
write_config "$work/bad.token" "$work/inbox" >"$work/bad-token.conf"
"$agent" doctor -c "$work/bad-token.conf" >"$(out doctor-badtoken.txt)" 2>&1
status=$?
check "doctor with a wrong token: exit 1, exactly one FAIL, the token refused" \
    sh -c "[ $status -eq 1 ] && [ \$(grep -c '^FAIL' '$(out doctor-badtoken.txt)') -eq 1 ] && grep -q '^FAIL .*refused the token' '$(out doctor-badtoken.txt)'"

check "the agent stops cleanly on SIGTERM" sh -c "kill -TERM $agent_pid && wait_pid=0; for i in \$(seq 100); do kill -0 $agent_pid 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
wait "$agent_pid" 2>/dev/null
agent_pid=
check "the agent sent STOPPING=1" wait_until 5 grep -q '^STOPPING=1' "$work/notify.log"
"$agent" status -c "$conf" >"$(out status-stopped.txt)" 2>&1
check "status after the stop: NOT RUNNING, said plainly, the queue still shown" \
    sh -c "grep -q 'NOT RUNNING' '$(out status-stopped.txt)' && grep -q 'practice main: uploads unknown (agent not running)' '$(out status-stopped.txt)' && grep -qE '^patients +main' '$(out status-stopped.txt)'"

check "a member of the group still reads status, jobs, job, events with the agent stopped" \
    group_reads stopped
check "... and status says plainly that it does not run" \
    grep -q 'NOT RUNNING' "$(out group-status-stopped.txt)"

# preview writes nothing to the queue, even one an agent would change on
# opening it: a copy made as a queue from before incremental auto-vacuum
# (an agent's open would VACUUM it).
mkdir -p "$work/pv-state"
cp "$work/state/queue.db" "$work/pv-state/queue.db"
sqlite3 "$work/pv-state/queue.db" 'PRAGMA auto_vacuum = NONE; VACUUM;'
sed "s|^state_dir = .*|state_dir = $work/pv-state|" "$conf" >"$work/pv.conf"
pv_before=$(sha256sum <"$work/pv-state/queue.db")
"$agent" preview -c "$work/pv.conf" --all "$work/imports/a.csv" >"$work/pv-preview.txt" 2>&1
check "preview compares with the queue's synced rows (its rows unchanged)" \
    grep -qE '^[0-9]+ row\(s\) previewed .*, [1-9][0-9]* unchanged' "$work/pv-preview.txt"
check "... and leaves the queue as it was: the same sha256, no VACUUM, no -wal made" \
    sh -c "[ \"\$(sha256sum <'$work/pv-state/queue.db')\" = '$pv_before' ] && [ \"\$(sqlite3 '$work/pv-state/queue.db' 'PRAGMA auto_vacuum')\" = 0 ] && ! [ -s '$work/pv-state/queue.db-wal' ]"

# --- 9. import FILE alone: no agent runs, the command does the work ---------------------
make_import B 400 "$work/imports/b.csv"
"$agent" import -c "$conf" "$work/imports/b.csv" >"$(out import-alone.txt)" 2>"$(out import-alone.err)"
status=$?
sed 's/^/# /' "$(out import-alone.txt)" | head -n 8
check "import with no agent: exit 0, done by the command itself, the job completed" \
    sh -c "[ $status -eq 0 ] && grep -q 'no agent runs, so this command sends it' '$(out import-alone.txt)' && grep -qE '^import: job [0-9a-f-]+ completed' '$(out import-alone.txt)'"
check "... every row with an id is in PostgreSQL ($(with_id "$work/imports/b.csv"))" \
    test "$(in_pg B)" -eq "$(with_id "$work/imports/b.csv")"
check "... plain progress lines only" \
    sh -c "grep -qE '^import: (staging: [0-9]+ rows read|uploading: [0-9]+ of [0-9]+ rows answered)' '$(out import-alone.txt)' && ! grep -vq '^import: ' '$(out import-alone.txt)'"
check "... its log lines went to stderr, each with a level and an event code" \
    sh -c "grep -q 'JOB_STAGED' '$(out import-alone.err)' && ! grep -vqE '^[0-9T:.-]+Z (error|warn |info |debug) [A-Z][A-Z_]+ ' '$(out import-alone.err)'"
check "... and the status of the queue shows the job (jobs)" \
    sh -c "'$agent' jobs -c '$conf' | grep -q 'b.csv *patients *generic-patients *completed'"
flock "$work/state/agent.lock" "$agent" import -c "$conf" "$work/imports/a-copy.csv" \
    >"$(out import-locked.txt)" 2>&1
status=$?
check "import alone takes the agent's lock: while another holds it, exit 1, says so" \
    sh -c "[ $status -eq 1 ] && grep -q 'an agent holds .* but does not answer' '$(out import-locked.txt)'"
printf 'Account,Amount\n1,2\n' >"$work/imports/odd.csv"
"$agent" import -c "$conf" "$work/imports/odd.csv" >"$(out import-odd.txt)" 2>&1
status=$?
check "import of a file the template cannot read: exit 1, quarantined with its reason" \
    sh -c "[ $status -eq 1 ] && grep -q 'odd.csv quarantined (MAPPING_ERROR)' '$(out import-odd.txt)'"
check "... and the file, outside its folder, is left where it was" \
    sh -c "[ -f '$work/imports/odd.csv' ] && [ ! -e '$work/imports/quarantine' ] && [ ! -e '$work/inbox/quarantine/odd.csv' ]"
# On a terminal: one line redrawn with a bar, rows/s and an ETA.
make_import C 400 "$work/imports/c.csv"
TERM=dumb script -qec "'$agent' import -c '$conf' '$work/imports/c.csv'" /dev/null >"$(out import-tty.txt)" 2>&1
status=$?
check "import on a terminal: exit 0, a bar redrawn in place with rows/s and an ETA" \
    sh -c "[ $status -eq 0 ] && grep -q \"\$(printf '\\r')\" '$(out import-tty.txt)' && grep -qE '(uploading  \\[[#.]{30}\\] [0-9]+/[0-9]+ rows  [0-9]+ rows/s  ETA|staging    [0-9]+ rows read)' '$(out import-tty.txt)' && grep -qE 'import: job [0-9a-f-]+ completed' '$(out import-tty.txt)'"
check "... every row with an id is in PostgreSQL ($(with_id "$work/imports/c.csv"))" \
    test "$(in_pg C)" -eq "$(with_id "$work/imports/c.csv")"

# An unprivileged user, for the folder the service cannot read (root reads
# everything). Its own copy of the binary, config, state and token.
nb=$work/nobody
mkdir -p "$nb/inbox" "$nb/state"
cp "$agent" "$nb/dentsync"
cp "$work/token" "$nb/token"
chmod 755 "$work" "$nb" "$nb/inbox"
chmod 700 "$nb/state"
chmod 600 "$nb/token"
chown nobody "$nb/state" "$nb/token"
sed -e "s|$work/state|$nb/state|" -e "s|$work/out/agent-file.log|$nb/state/agent.log|" \
    "$conf" >"$nb/dentsync.conf"
write_config "$nb/token" "$nb/inbox" | sed -e "s|$work/state|$nb/state|" \
    -e "s|$work/out/agent-file.log|$nb/state/agent.log|" >"$nb/dentsync.conf"
chmod 644 "$nb/dentsync.conf"
runuser -u nobody -- "$nb/dentsync" doctor -c "$nb/dentsync.conf" >"$(out doctor-nobody.txt)" 2>&1
status=$?
check "doctor as an unprivileged user on a good setup: exit 0" \
    sh -c "[ $status -eq 0 ] || { sed 's/^/# /' '$(out doctor-nobody.txt)'; exit 1; }"
chmod 000 "$nb/inbox"
runuser -u nobody -- "$nb/dentsync" doctor -c "$nb/dentsync.conf" >"$(out doctor-unreadable.txt)" 2>&1
status=$?
chmod 755 "$nb/inbox"
check "doctor with an unreadable folder: exit 1, exactly one FAIL, naming the folder" \
    sh -c "[ $status -eq 1 ] && [ \$(grep -c '^FAIL' '$(out doctor-unreadable.txt)') -eq 1 ] && grep -q '^FAIL  folder patients: .* cannot be read' '$(out doctor-unreadable.txt)'"
chmod 644 "$nb/token"
runuser -u nobody -- "$nb/dentsync" doctor -c "$nb/dentsync.conf" >"$(out doctor-0644.txt)" 2>&1
status=$?
check "doctor with a 0644 token file: exit 3, exactly one FAIL, saying chmod 600" \
    sh -c "[ $status -eq 3 ] && [ \$(grep -c '^FAIL' '$(out doctor-0644.txt)') -eq 1 ] && grep -q '^FAIL .*token_file.*chmod 600' '$(out doctor-0644.txt)'"
chmod 600 "$nb/token"
chmod 770 "$nb/state"
runuser -u nobody -- "$nb/dentsync" doctor -c "$nb/dentsync.conf" >"$(out doctor-0770.txt)" 2>&1
status=$?
chmod 700 "$nb/state"
check "doctor with a group-writable state_dir: exactly one FAIL, its mode and chmod 750" \
    sh -c "[ $status -ne 0 ] && [ \$(grep -c '^FAIL' '$(out doctor-0770.txt)') -eq 1 ] && grep -q '^FAIL  state_dir .*, mode 0770: others may read the queue - fix: chmod 750' '$(out doctor-0770.txt)'"
check "doctor on the good state_dir: writable, its mode" \
    grep -q "^OK    state_dir $nb/state: writable, mode 0700" "$(out doctor-nobody.txt)"

# --- the log file ---------------------------------------------------------------------
check "the log file was written (0600) and rotated at log_max_kb" \
    sh -c "[ \$(stat -c %a '$work/out/agent-file.log') = 600 ] && [ -f '$work/out/agent-file.log.1' ] && [ \$(stat -c %s '$work/out/agent-file.log') -le 1024 ]"
check "no more rotated files than log_keep" test ! -e "$work/out/agent-file.log.3"

# --- 7. no patient value, no token, in any output ----------------------------------------
for f in "$work"/inbox/quarantine/*.error.txt; do
    [ -f "$f" ] && cp "$f" "$work/out/"
done
cp "$work/notify.log" "$work/out/"
python3 - "$sample" >"$work/values" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
header, data = rows[0], rows[1:]
want = {"first name", "last name", "middle name", "preferred name", "date of birth",
        "email", "mobile phone", "home phone", "work phone"}
seen = set()
for r in data:
    for h, v in zip(header, r):
        v = v.strip()
        if h.strip().lower() in want and len(v) >= 4 and v not in seen:
            seen.add(v)
            print(v)
EOF
echo "$token" >>"$work/values"
leaks=0
while IFS= read -r value; do
    if grep -rqF -- "$value" "$work/out"; then
        leaks=$((leaks + 1))
        echo "# a sample value or the token appears in: $(grep -rlF -- "$value" "$work/out" | tr '\n' ' ')"
    fi
done <"$work/values"
check "no output of the run ($(ls "$work/out" | wc -l) files: logs, status, jobs, job, events, doctor, .error.txt) carries any of $(wc -l <"$work/values") patient values or the token" \
    test "$leaks" -eq 0 -a "$(wc -l <"$work/values")" -gt 20

e2e_summary
