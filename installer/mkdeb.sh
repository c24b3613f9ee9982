#!/bin/sh
# mkdeb.sh — builds the dentsync .deb from a staged install tree, with
# dpkg-deb. Called by `make deb`:
#
#   sh installer/mkdeb.sh STAGE VERSION OUTDIR
#
# STAGE holds the files as `make install PREFIX=/usr DESTDIR=STAGE` put
# them. The runtime dependencies are the Debian packages that own the
# shared libraries the two binaries link (read with ldd and dpkg -S), at
# least at the installed version. /etc/dentsync/dentsync.conf is a conffile:
# kept on upgrade, removed on purge.
set -eu

stage=$1
version=$2
outdir=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)

# Debian packages of the libraries the binaries link directly (their
# NEEDED entries, found where ldd resolves them).
needed=$(for bin in "$stage/usr/bin/dentsync" "$stage/usr/bin/dentsync-cloud"; do
    readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
done | sort -u)
libs=$(ldd "$stage/usr/bin/dentsync" "$stage/usr/bin/dentsync-cloud" |
    awk '/=> \// { print $1, $3 }' | sort -u | while read -r soname path; do
        if printf '%s\n' "$needed" | grep -qxF "$soname"; then echo "$path"; fi
    done | sort -u)
deps=""
for lib in $libs; do
    real=$(readlink -f "$lib")
    pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || true)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || continue
    case " $deps " in *" $pkg "*) continue ;; esac
    deps="$deps $pkg"
done
depends=""
for pkg in $deps; do
    v=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null | head -n 1)
    # Upstream version only: any Debian revision of it will do.
    v=${v%-*}
    depends="$depends${depends:+, }$pkg (>= $v)"
done

# What Debian policy asks of a binary package: stripped binaries (the
# debugging symbols stay in the build tree) and a copyright file.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$stage/usr/bin/dentsync" "$stage/usr/bin/dentsync-cloud"
install -d "$stage/usr/share/doc/dentsync"
install -m 0644 "$here/debian/copyright" "$stage/usr/share/doc/dentsync/copyright"

mkdir -p "$stage/DEBIAN"
size=$(du -sk "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: dentsync
Version: $version
Architecture: $arch
Maintainer: dentsync maintainers <dentsync@example.com>
Installed-Size: $size
Depends: $depends, adduser, tzdata
Recommends: systemd
Section: net
Priority: optional
Homepage: https://example.com/dentsync
Description: sync dental practice-management exports to a cloud API
 dentsync watches the folders a dental practice-management program writes
 its exports to (CSV, Excel, iCalendar), maps and validates each file with a
 template, keeps the rows in a local SQLite queue and uploads them in
 batches to the practice's cloud account, resuming after any crash or
 outage, never importing a row twice.
 .
 This package holds the agent (dentsync, with its systemd unit) and the
 reference cloud API (dentsync-cloud, PostgreSQL with row-level security).
CONTROL
echo /etc/dentsync/dentsync.conf >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
mkdir -p "$outdir"
out="$outdir/dentsync_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
