#!/bin/sh
# deps.sh — installs, with apt-get, every Debian package that building,
# testing and the demo need and that is missing. Quick when all are present:
# one dpkg-query, no apt-get. `make`, `make test` and `make demo` call it.
set -eu

PACKAGES="
build-essential pkg-config
libuv1-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
libsqlite3-dev sqlite3 libjansson-dev libcsv-dev libinih-dev
libmicrohttpd-dev libpq-dev postgresql postgresql-client postgresql-15-pgtap pgbouncer
libcmocka-dev
libzip-dev libexpat1-dev libfreexl-dev libical-dev libxlsxwriter-dev
curl ca-certificates procps util-linux python3 openssl valgrind
systemd man-db lintian passwd
chromium chromium-driver python3-selenium
"

# `deps.sh fuzz` adds what `make fuzz` needs (clang's libFuzzer);
# `deps.sh fresh` what `make test-fresh` needs (debootstrap builds the
# bare Debian root it runs `make demo` in).
case "${1:-}" in
fuzz) PACKAGES="$PACKAGES clang" ;;
fresh) PACKAGES="$PACKAGES debootstrap" ;;
esac

# `deps.sh windows` adds what cross-building for Windows needs
# (installer/win-deps.sh, docs/windows.md): the MinGW-w64 compiler and its
# zlib, Debian's source tooling, the build systems of the libraries that
# are cross-compiled from their Debian sources, wine to run the result,
# msitools to inspect the installer and wixl (its own package in bookworm,
# not part of msitools there) to build it.
if [ "${1:-}" = windows ]; then
    PACKAGES="$PACKAGES gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
    libz-mingw-w64-dev dpkg-dev cmake meson ninja-build
    autoconf automake libtool make xz-utils tcl wine wine64 msitools wixl"
fi

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "deps: missing packages and not root; run: apt-get install$missing" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
