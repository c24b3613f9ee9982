#!/bin/bash
# fresh.sh — `make test-fresh`: a new user's first run, on a Debian machine
# that has none of the packages dentsync needs. Run as root; before each
# release (docs/operations.md), not by `make test`.
#
#   1. a bare Debian root (debootstrap --variant=minbase, plus `make`, which
#      the README's first command presupposes) from the mirror this machine's
#      apt uses, cached as a tarball per day in FRESH_CACHE
#      (/var/cache/dentsync-fresh); it holds none of the build dependencies;
#   2. a clean `git archive` of FRESH_REV (HEAD) copied into it, as a
#      checkout would be;
#   3. `make demo` as root in a chroot, exactly as the README says: it must
#      install the packages itself (installer/deps.sh), build, and end with
#      the demo's summary and exit 0; afterwards deps.sh finds nothing
#      missing.
#
# The chroot runs in its own mount and PID namespaces (unshare): proc, sys,
# /dev/shm (PostgreSQL's shared memory) and /dev/pts are mounted there,
# unmounted by a trap, and whatever it started dies with it. Prints the time of each
# phase, `ok - …` / `not ok - …` per check and `N passed, N failed` last.
#
#   FRESH_REV=e5374ab bash tests/fresh/fresh.sh   # another commit's tree
#   FRESH_KEEP=1                                  # keep the root in /tmp
#   FRESH_TIMEOUT=3600                            # seconds before the chroot is killed
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh" # ok, not_ok, check, bail, e2e_summary

rev=${FRESH_REV:-HEAD}
cache=${FRESH_CACHE:-/var/cache/dentsync-fresh}
suite=${FRESH_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
arch=$(dpkg --print-architecture)

[ "$(id -u)" -eq 0 ] || bail "run as root (debootstrap, chroot and mounts need it)"
for c in debootstrap unshare chroot git tar; do
    command -v "$c" >/dev/null 2>&1 || bail "$c is missing (make test-fresh installs it)"
done

# The first deb.debian.org-style mirror this machine's apt uses for the
# suite (one-line .list or deb822 .sources), and its security mirror.
apt_uris() {
    # One file at a time: a line or stanza must not run on into the next file.
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$1" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[|=|\]$/) break;
                                     if ($(i + 1) == s) print $i }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" }
            { t = 0; u = ""; k = 0
              for (i = 1; i <= NF; i++) {
                  if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) t = 1
                  if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
                  if ($i ~ /^Suites:/ && (" " substr($i, 8) " ") ~ (" " s " ")) k = 1
                  if ($i ~ /^Enabled:[ \t]*no/) t = 0
              }
              if (t && k && u != "") print u }' "$f"
    done
}
mirror=${FRESH_MIRROR:-$(apt_uris "$suite" | head -n 1)}
security=$(apt_uris "$suite-security" | head -n 1)
[ -n "$mirror" ] || bail "no apt source for $suite in /etc/apt/sources.list(.d); set FRESH_MIRROR"

work=$(mktemp -d /tmp/dentsync-fresh.XXXXXX)
root=$work/root
# Nothing stays mounted (the namespaces go with their processes), but the
# root is removed only when /proc/mounts proves it, and never across a
# file system boundary.
cleanup() {
    if grep -q " $work/" /proc/mounts; then
        echo "# something is still mounted under $work; left in place"
    elif [ "${FRESH_KEEP:-0}" = 1 ] || [ "$failed" -ne 0 ]; then
        echo "# kept $work for inspection"
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s; }
t_all=$(now)

# --- 1. the bare root, from the day's cache or debootstrap ----------------------------
mkdir -p "$cache" || bail "cannot create $cache"
tarball=$cache/$suite-$arch-minbase-$(date -u +%Y%m%d).tar
mkdir "$root"
t0=$(now)
if [ -f "$tarball" ]; then
    tar -C "$root" --numeric-owner -xpf "$tarball" || bail "cannot unpack $tarball"
    echo "# bare $suite root unpacked from $tarball"
else
    echo "# debootstrap $suite ($arch, minbase + make) from $mirror"
    if ! unshare --mount --propagation private \
        debootstrap --variant=minbase --include=make "$suite" "$root" "$mirror" \
        >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log"
        bail "debootstrap failed"
    fi
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*_Packages*
    # Yesterday's roots go; today's is written whole, then renamed.
    rm -f "$cache/$suite-$arch-minbase-"*.tar
    if ! tar -C "$root" --numeric-owner -cpf "$tarball.tmp" . || ! mv "$tarball.tmp" "$tarball"; then
        rm -f "$tarball.tmp"
        echo "# could not cache the root in $tarball"
    fi
fi
t_root=$(($(now) - t0))

# What the README presupposes, and what it must not: make is there, and
# none of the packages deps.sh installs for the build and the demo.
need=$(sed -n '/^PACKAGES="/,/^"/p' "$top/installer/deps.sh" |
    tr ' ' '\n' | grep -E -e '-dev$' -e '^(pkg-config|build-essential|postgresql|sqlite3)$')
# shellcheck disable=SC2086 # one package a word
present=$(chroot "$root" dpkg-query -W -f='${Package} ${Status}\n' $need 2>/dev/null |
    awk '/ installed$/ { print $1 }')
check "the bare root has make" chroot "$root" sh -c 'command -v make >/dev/null'
check "the bare root has none of the build dependencies (pkg-config, gcc, the -dev packages, postgresql)" \
    test -z "$present$(chroot "$root" sh -c 'command -v pkg-config cc gcc psql' 2>/dev/null)"

# --- 2. the project, as a fresh checkout ----------------------------------------------
git -C "$top" rev-parse --verify -q "$rev^{commit}" >/dev/null || bail "no commit $rev"
mkdir -p "$root/root/dentsync"
git -C "$top" archive --format=tar "$rev" | tar -C "$root/root/dentsync" -xf - ||
    bail "git archive $rev failed"
echo "# $(git -C "$top" log -1 --format='%h %s' "$rev") in /root/dentsync"

# The machine's own apt sources (the suite, its updates and security), its
# resolver, and the chroot convention that package scripts start no service.
{
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    [ -n "$security" ] && echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

# --- 3. make demo, as the README says ---------------------------------------------------
# In new mount and PID namespaces: the mounts are the namespace's, and the
# demo's PostgreSQL and agent die with it even if this script is killed.
inner='
root=$1
shift
mount -t proc proc "$root/proc" || exit 90
trap "umount \"$root/dev/ptmx\" \"$root/dev/pts\" \"$root/dev/shm\" \"$root/sys\" \"$root/proc\" 2>/dev/null" EXIT
mount -t sysfs sys "$root/sys" || echo "# sysfs not mounted (not needed)"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm" || exit 90
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts" &&
    mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx" || echo "# devpts not mounted (apt logs less)"
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
'
in_root() {
    timeout "${FRESH_TIMEOUT:-3600}" unshare --mount --pid --fork --kill-child --propagation private \
        bash -c "$inner" inner "$root" "$@"
}

t0=$(now)
t_deps=
t_build=
echo "# make demo in the chroot (log: $work/demo.log)"
in_root sh -c 'cd /root/dentsync && make demo' </dev/null 2>&1 |
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$work/demo.log"
        case $line in
        "deps: done") now >"$work/t_deps" ;;
        "[1/"*) now >"$work/t_build" ;;
        esac
        printf '   | %s\n' "$line"
    done
rc=${PIPESTATUS[0]}
t_end=$(now)
[ -f "$work/t_deps" ] && t_deps=$(cat "$work/t_deps")
[ -f "$work/t_build" ] && t_build=$(cat "$work/t_build")

check "make demo exits 0 (it exited $rc)" test "$rc" -eq 0
check "make demo installed the missing packages itself (deps: installing …, deps: done)" \
    grep -qx 'deps: done' "$work/demo.log"
check "make demo built both binaries (no link error)" \
    test -x "$root/root/dentsync/build/dentsync" -a -x "$root/root/dentsync/build/dentsync-cloud"
check "the demo ends with its summary: 40 patients, 5 completed import jobs in PostgreSQL" \
    grep -qE '^ +in PostgreSQL: +40 patients, 5 completed import job' "$work/demo.log"
check "… and the status page's one-time link" \
    grep -qE '^ +http://127\.0\.0\.1:[0-9]+/login\?t=[0-9a-f]+$' "$work/demo.log"
check "afterwards installer/deps.sh finds nothing missing" \
    test -z "$(in_root sh -c 'cd /root/dentsync && sh installer/deps.sh' 2>&1 </dev/null)"

if [ -n "$t_deps" ] && [ -n "$t_build" ]; then
    echo "# times: bare root $t_root s, apt install (deps.sh) $((t_deps - t0)) s," \
        "build $((t_build - t_deps)) s, demo $((t_end - t_build)) s; whole check $((t_end - t_all)) s"
else
    echo "# times: bare root $t_root s, make demo $((t_end - t0)) s; whole check $((t_end - t_all)) s"
fi
e2e_summary
