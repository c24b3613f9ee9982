#!/bin/sh
# install.sh — sets dentsync up on a practice machine (Debian or Ubuntu),
# as root:
#
#   sh install.sh --deb dentsync_0.1.0_amd64.deb \
#       --url https://api.example.com --practice main --token-file /root/main.token \
#       --folder /srv/exports/patients --type patients [--timezone America/Chicago] [--start]
#       [--reader USER]...
#
# Installs the package with apt-get (which pulls its dependencies), writes
# /etc/dentsync/dentsync.conf for one practice and one folder when there is
# none yet (an existing one is left alone), installs the token as
# /etc/dentsync/PRACTICE.token (mode 0600, owned by the service user), runs
# `dentsync doctor` as the service user, and with --start enables and
# starts the service. Each --reader USER joins the dentsync group, so that
# USER may run `dentsync status`, `jobs`, `job` and `events` without root
# (the group reads the queue, which holds patient data: only people who may
# see it). Every step can be redone: running it again changes
# only what is missing. Without --deb it installs what `make install` put
# in place already (building from source: `make && make install PREFIX=/usr`).
set -eu

deb= url= practice=main token= folder= type=patients tz= start=0 readers=
while [ $# -gt 0 ]; do
    case $1 in
    --deb) deb=$2; shift 2 ;;
    --url) url=$2; shift 2 ;;
    --practice) practice=$2; shift 2 ;;
    --token-file) token=$2; shift 2 ;;
    --folder) folder=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --timezone) tz=$2; shift 2 ;;
    --start) start=1; shift ;;
    --reader) readers="$readers $2"; shift 2 ;;
    -h|--help) sed -n '/^set -eu/q;2,$p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

if [ -n "$deb" ]; then
    case $deb in /*) ;; *) deb=$(pwd)/$deb ;; esac
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"
fi
command -v dentsync >/dev/null || { echo "install.sh: dentsync is not installed" >&2; exit 1; }
getent passwd dentsync >/dev/null || { echo "install.sh: no dentsync user (package postinst)" >&2; exit 1; }

conf=/etc/dentsync/dentsync.conf
install -d -m 0750 -o root -g dentsync /etc/dentsync
if [ -n "$token" ]; then
    install -m 0600 -o dentsync -g dentsync "$token" "/etc/dentsync/$practice.token"
fi
if [ -n "$url" ] && [ -n "$folder" ] && ! grep -q "^\[folder " "$conf" 2>/dev/null; then
    [ -z "$tz" ] && tz=$(timedatectl show -p Timezone --value 2>/dev/null || echo UTC)
    umask 027
    cat >"$conf.new" <<CONF
; dentsync configuration, written by install.sh; every key is described in
; dentsync.conf(5) and /usr/share/dentsync/dentsync.conf.example.
[agent]
state_dir = /var/lib/dentsync
log_level = info

[cloud]
url = $url

[practice $practice]
token_file = /etc/dentsync/$practice.token
timezone = $tz

[folder $type]
path = $folder
practice = $practice
import_type = $type
template = auto
after = leave
CONF
    chown root:dentsync "$conf.new"
    mv "$conf.new" "$conf"
    echo "install.sh: wrote $conf"
fi

for user in $readers; do
    usermod -a -G dentsync "$user"
    echo "install.sh: $user may now read dentsync's status (from their next login)"
done

echo "install.sh: checking (dentsync doctor, as the service user)"
if runuser -u dentsync -- dentsync doctor -c "$conf"; then
    if [ "$start" = 1 ]; then
        systemctl enable --now dentsync
        echo "install.sh: started; see 'dentsync status'"
    else
        echo "install.sh: all good; start it with: systemctl enable --now dentsync"
    fi
else
    echo "install.sh: fix what doctor reported (FAIL lines), then run it again" >&2
    exit 1
fi
