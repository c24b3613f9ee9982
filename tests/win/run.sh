#!/bin/sh
# run.sh EXE [ARG...] — runs a Windows console program under wine, headless,
# in a throw-away wine prefix (or $WINEPREFIX when set, to reuse one: a new
# prefix costs wine a first start of a minute or more). Wine's own messages
# are silenced (WINEDEBUG=-all); the program's line ends come back as \n and
# its exit status is this script's.
set -eu

if command -v wine >/dev/null 2>&1; then
    WINE=wine
    WINESERVER=wineserver
elif [ -x /usr/lib/wine/wine64 ]; then
    WINE=/usr/lib/wine/wine64
    WINESERVER=/usr/lib/wine/wineserver64
else
    echo "run.sh: wine is not installed (sh installer/deps.sh windows)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dentsync-wine.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
throwaway=0
if [ -z "${WINEPREFIX:-}" ]; then
    WINEPREFIX=$tmp/prefix
    throwaway=1
fi
export WINEPREFIX
export WINEDEBUG=-all
# A console program needs no display; keep wine from looking for one.
unset DISPLAY WAYLAND_DISPLAY

# A new prefix is made first, apart, so that its messages stay out.
if [ ! -e "$WINEPREFIX/system.reg" ]; then
    "$WINE" wineboot --init >"$tmp/wineboot.log" 2>&1 || {
        cat "$tmp/wineboot.log" >&2
        exit 1
    }
fi

# sh has no pipefail: the status comes back through a file.
{
    rc=0
    "$WINE" "$@" || rc=$?
    echo "$rc" >"$tmp/rc"
} | tr -d '\r'
if [ "$throwaway" = 1 ]; then
    # The prefix goes when wine has let go of it (it saves its registry).
    "$WINESERVER" -w >/dev/null 2>&1 || true
fi
exit "$(cat "$tmp/rc")"
